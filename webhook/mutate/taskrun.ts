// Pure decisions of the TaskRun webhook (tekton.dev/v1). Contract (docs/webhook.md):
//
//   metadata.annotations:
//     connectors.cpaas.io/workspace.<workspace>: "connector=<ns>/<name>; configuration.names=gitconfig; token.expiration=30m"
//
// becomes, unless the TaskRun already binds <workspace>, a spec.workspaces[] entry
//
//   {name: <workspace>, csi: {driver: connectors-csi, readOnly: true,
//     volumeAttributes: {connectors: <ns>/<name>, configuration.names: gitconfig, token.expiration: 30m}}}
//
// Keys: connector (or connectors: a comma list of <ns>/<name> or <name>), configuration.names,
// configuration.params (JSON, as the CSI attribute), token.expiration (Go duration). Pairs are separated
// by ";", so values cannot contain ";".
// A TaskRun that also carries the Pod contract (label proxy-inject + annotation connector) gets the images
// of its inline spec.taskSpec steps and sidecars rewritten like a Pod's, so that Tekton's entrypoint lookup
// (which reads the image config with the TaskRun ServiceAccount's imagePullSecrets) already sees the proxy
// reference; the Pods Tekton creates are rewritten by the Pod webhook anyway.
import type { Connector, ConnectorClass } from '../../core/api/index.ts';
import { ANNOTATIONS, LABELS } from '../../core/api/keys.ts';
import {
  DurationError,
  isOciClass,
  parseConnectorRef,
  parseGoDuration,
  refString,
  scopeDecision,
  type Labels,
} from '../../core/connector/index.ts';
import { pointer, type JsonPatchOp } from '../jsonpatch.ts';
import { rewriteImage } from './image.ts';
import { allow, deny, type Decision } from './pod.ts';

export const WORKSPACE_ANNOTATION_PREFIX = 'connectors.cpaas.io/workspace.';
export const CSI_DRIVER = 'connectors-csi';
export const MULTI_CONNECTOR_FLAG = 'enable-multi-connector';

const KEYS = ['connector', 'connectors', 'configuration.names', 'configuration.params', 'token.expiration'] as const;

export interface WorkspaceRequest {
  workspace: string;
  /** `<ns>/<name>` each, namespace filled in. */
  connectors: Array<{ namespace: string; name: string }>;
  volumeAttributes: Record<string, string>;
}

export interface TaskRunLike {
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: {
    workspaces?: Array<{ name?: string; [k: string]: unknown }>;
    taskSpec?: { steps?: Array<{ image?: string }>; sidecars?: Array<{ image?: string }> };
    [k: string]: unknown;
  };
}

/** Parses one annotation; throws an Error whose message names the annotation. */
export function parseWorkspaceAnnotation(key: string, value: string, namespace: string): WorkspaceRequest {
  const where = `metadata.annotations["${key}"]`;
  const workspace = key.slice(WORKSPACE_ANNOTATION_PREFIX.length);
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(workspace))
    throw new Error(
      `${where}: workspace name ${JSON.stringify(workspace)} is not a valid Tekton workspace name (lower-case letters, digits, "-")`,
    );
  const pairs = new Map<string, string>();
  for (const part of value.split(';')) {
    if (!part.trim()) continue;
    const eq = part.indexOf('=');
    if (eq < 0)
      throw new Error(
        `${where}: ${JSON.stringify(part.trim())} is not key=value; expected e.g. "connector=<ns>/<name>; configuration.names=<names>"`,
      );
    const k = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (!(KEYS as readonly string[]).includes(k))
      throw new Error(`${where}: unknown key ${JSON.stringify(k)}; known: ${KEYS.join(', ')}`);
    if (pairs.has(k)) throw new Error(`${where}: key ${JSON.stringify(k)} given twice`);
    pairs.set(k, v);
  }
  if (pairs.has('connector') && pairs.has('connectors'))
    throw new Error(`${where}: give either connector or connectors, not both`);
  const list = (pairs.get('connector') ?? pairs.get('connectors') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!list.length) throw new Error(`${where}: no connector: add "connector=<ns>/<name>"`);
  const connectors = list.map((c) => {
    const r = parseConnectorRef(c, namespace);
    if (!r.ok) throw new Error(`${where}: ${r.error}`);
    return r.ref;
  });
  const attrs: Record<string, string> = { connectors: connectors.map((c) => `${c.namespace}/${c.name}`).join(',') };
  const names = pairs.get('configuration.names');
  if (names) attrs['configuration.names'] = names;
  const params = pairs.get('configuration.params');
  if (params) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(params);
    } catch (err) {
      throw new Error(`${where}: configuration.params is not JSON: ${(err as Error).message}`, { cause: err });
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new Error(
        `${where}: configuration.params must be a JSON object {"<configuration>": {"<param>": "<value>"}}`,
      );
    attrs['configuration.params'] = params;
  }
  const exp = pairs.get('token.expiration');
  if (exp) {
    let ns: bigint;
    try {
      ns = parseGoDuration(exp);
    } catch (err) {
      if (!(err instanceof DurationError)) throw err;
      throw new Error(`${where}: token.expiration ${JSON.stringify(exp)} is not a duration such as 30m or 1h`, {
        cause: err,
      });
    }
    if (ns < 0n) throw new Error(`${where}: token.expiration ${JSON.stringify(exp)} must not be negative`);
    attrs['token.expiration'] = exp;
  }
  return { workspace, connectors, volumeAttributes: attrs };
}

export function workspaceBinding(req: WorkspaceRequest): Record<string, unknown> {
  return { name: req.workspace, csi: { driver: CSI_DRIVER, readOnly: true, volumeAttributes: req.volumeAttributes } };
}

export interface TaskRunInput {
  taskRun: TaskRunLike;
  namespace: string;
  /** Labels of the namespaces the scope rule needs (the TaskRun's and its Connectors'), fetched beforehand. */
  namespaceLabels: (name: string) => Labels;
  flags: { imagePull: boolean; multiConnector: boolean };
  connector: (namespace: string, name: string) => Connector | undefined;
  /** Looks a ConnectorClass up (for step images: only OCI-kind Connectors serve images). */
  connectorClass: (name: string) => ConnectorClass | undefined;
}

export function taskRunDecision(input: TaskRunInput): Decision {
  const { taskRun, namespace } = input;
  const annotations = taskRun.metadata?.annotations ?? {};
  const scope = (ref: { namespace: string; name: string }) =>
    scopeDecision('a TaskRun', namespace, input.namespaceLabels(namespace), ref, input.namespaceLabels(ref.namespace));
  const requests: WorkspaceRequest[] = [];
  for (const key of Object.keys(annotations).sort()) {
    if (!key.startsWith(WORKSPACE_ANNOTATION_PREFIX)) continue;
    try {
      requests.push(parseWorkspaceAnnotation(key, annotations[key], namespace));
    } catch (err) {
      return deny(400, 'BadRequest', (err as Error).message);
    }
  }
  const ops: JsonPatchOp[] = [];
  const warnings: string[] = [];
  const bound = new Set((taskRun.spec?.workspaces ?? []).map((w) => w.name));
  const newBindings: Record<string, unknown>[] = [];
  for (const req of requests) {
    const where = `metadata.annotations["${WORKSPACE_ANNOTATION_PREFIX}${req.workspace}"]`;
    if (req.connectors.length > 1 && !input.flags.multiConnector) {
      return deny(
        403,
        'Forbidden',
        `${where}: ${req.connectors.length} connectors in one workspace need feature flag "${MULTI_CONNECTOR_FLAG}"`,
      );
    }
    for (const ref of req.connectors) {
      const id = refString(ref);
      const s = scope(ref);
      if (!s.allowed) return deny(403, 'Forbidden', `${where}: ${s.message}`);
      if (!input.connector(ref.namespace, ref.name))
        return deny(403, 'Forbidden', `${where}: Connector "${id}" not found`);
    }
    if (bound.has(req.workspace)) {
      warnings.push(`workspace "${req.workspace}" is already bound in spec.workspaces; ${where} ignored`);
      continue;
    }
    newBindings.push(workspaceBinding(req));
  }
  if (newBindings.length) {
    if (!taskRun.spec?.workspaces) ops.push({ op: 'add', path: '/spec/workspaces', value: newBindings });
    else for (const b of newBindings) ops.push({ op: 'add', path: '/spec/workspaces/-', value: b });
  }

  // Inline step and sidecar images, when the TaskRun opts into the Pod contract and the flag is on, for an
  // OCI-kind Connector in scope (the Pods Tekton creates get the Pod webhook's verdict on anything else).
  const ann = annotations[ANNOTATIONS.connector];
  if (input.flags.imagePull && ann && taskRun.metadata?.labels?.[LABELS.proxyInject] === 'true') {
    const r = parseConnectorRef(ann, namespace);
    const connector = r.ok && scope(r.ref).allowed ? input.connector(r.ref.namespace, r.ref.name) : undefined;
    if (connector && isOciClass(input.connectorClass(connector.spec.connectorClassName))) {
      for (const list of ['steps', 'sidecars'] as const) {
        (taskRun.spec?.taskSpec?.[list] ?? []).forEach((s, i) => {
          const to = s.image ? rewriteImage(s.image, connector) : undefined;
          if (to && to !== s.image)
            ops.push({ op: 'replace', path: pointer('spec', 'taskSpec', list, i, 'image'), value: to });
        });
      }
    }
  }
  return allow(ops, warnings);
}
