// The admission handlers: the thin shell that fetches what the pure decisions need and turns them into
// AdmissionReview responses. One handler per webhook path.
import { ANNOTATIONS, type Connector } from '../core/api/index.ts';
import type { FeatureFlags } from '../core/kube/featureflags.ts';
import { compileRego, RegoCompileError } from '../core/opa/index.ts';
import { toResponse, type AdmissionRequest, type AdmissionResponse, type Verdict } from './admission.ts';
import type { Lookups } from './lookups.ts';
import { IMAGE_PULL_FLAG, podDecision, type Decision } from './mutate/pod.ts';
import { CLUSTER_CONNECTOR_NAMESPACE, parseConnectorRef } from './mutate/scope.ts';
import { MULTI_CONNECTOR_FLAG, WORKSPACE_ANNOTATION_PREFIX, taskRunDecision } from './mutate/taskrun.ts';
import { validateConnector, type ValidationResult } from './validate/connector.ts';
import { validateConnectorClass, type RegoChecker } from './validate/connectorclass.ts';

export const PATHS = {
  pods: '/mutate/pods',
  taskruns: '/mutate/taskruns',
  connectors: '/validate/connectors',
  connectorclasses: '/validate/connectorclasses',
} as const;

export interface HandlerDeps {
  lookups: Lookups;
  flags: FeatureFlags;
  systemNamespace: string;
  checkRego?: RegoChecker;
}

export type Handler = (req: AdmissionRequest) => Promise<AdmissionResponse>;

const fromDecision = (d: Decision): Verdict =>
  d.allowed ? { allowed: true, patch: d.patch, warnings: d.warnings } : d;

function fromValidation(kind: string, r: ValidationResult): Verdict {
  if (r.errors.length)
    return {
      allowed: false,
      code: 422,
      reason: 'Invalid',
      message: `${kind} is invalid: ${r.errors.join('; ')}`,
      warnings: r.warnings,
    };
  return { allowed: true, warnings: r.warnings };
}

/** Connectors named by the object (annotation refs), fetched up front so the pure decisions stay synchronous. */
async function prefetch(lookups: Lookups, refs: Array<{ namespace: string; name: string } | undefined>) {
  const found = new Map<string, Connector | undefined>();
  await Promise.all(
    refs
      .filter((r): r is { namespace: string; name: string } => Boolean(r))
      .map(async (r) => found.set(`${r.namespace}/${r.name}`, await lookups.connector(r.namespace, r.name))),
  );
  return (namespace: string, name: string) => found.get(`${namespace}/${name}`);
}

async function namespaceLabelsIfNeeded(
  lookups: Lookups,
  namespace: string,
  refs: Array<{ namespace: string } | undefined>,
) {
  const needed = refs.some((r) => r && r.namespace !== namespace && r.namespace !== CLUSTER_CONNECTOR_NAMESPACE);
  return needed ? lookups.namespaceLabels(namespace) : undefined;
}

export function handlers(deps: HandlerDeps): Record<string, Handler> {
  const { lookups, flags } = deps;
  const checkRego: RegoChecker =
    deps.checkRego ??
    (async (source, opts) => {
      await compileRego(source, opts);
    });

  return {
    async [PATHS.pods](req) {
      const pod = req.object ?? {};
      const namespace = req.namespace ?? pod.metadata?.namespace ?? 'default';
      const ann = pod.metadata?.annotations?.[ANNOTATIONS.connector];
      const flagEnabled = flags.enabled(IMAGE_PULL_FLAG);
      const ref = ann && flagEnabled ? parseConnectorRef(ann, namespace) : undefined;
      const [connector, namespaceLabels] = await Promise.all([
        prefetch(lookups, [ref]),
        namespaceLabelsIfNeeded(lookups, namespace, [ref]),
      ]);
      const d = podDecision({
        pod,
        namespace,
        namespaceLabels,
        flagEnabled,
        systemNamespace: deps.systemNamespace,
        connector,
      });
      return toResponse(req.uid, fromDecision(d));
    },

    async [PATHS.taskruns](req) {
      const tr = req.object ?? {};
      const namespace = req.namespace ?? tr.metadata?.namespace ?? 'default';
      const annotations: Record<string, string> = tr.metadata?.annotations ?? {};
      const refs: Array<{ namespace: string; name: string } | undefined> = [];
      for (const [k, v] of Object.entries(annotations)) {
        if (k.startsWith(WORKSPACE_ANNOTATION_PREFIX)) {
          const m = /(?:^|;)\s*connectors?\s*=([^;]*)/.exec(v);
          for (const c of (m?.[1] ?? '').split(',')) refs.push(parseConnectorRef(c, namespace));
        }
      }
      if (annotations[ANNOTATIONS.connector])
        refs.push(parseConnectorRef(annotations[ANNOTATIONS.connector], namespace));
      if (!refs.length) return toResponse(req.uid, { allowed: true });
      const [connector, namespaceLabels] = await Promise.all([
        prefetch(lookups, refs),
        namespaceLabelsIfNeeded(lookups, namespace, refs),
      ]);
      const d = taskRunDecision({
        taskRun: tr,
        namespace,
        namespaceLabels,
        flags: { imagePull: flags.enabled(IMAGE_PULL_FLAG), multiConnector: flags.enabled(MULTI_CONNECTOR_FLAG) },
        connector,
      });
      return toResponse(req.uid, fromDecision(d));
    },

    async [PATHS.connectors](req) {
      const obj = req.object ?? {};
      const namespace = req.namespace ?? obj.metadata?.namespace ?? 'default';
      const warnings: string[] = [];
      const cls = obj.spec?.connectorClassName ? await lookups.connectorClass(obj.spec.connectorClassName) : undefined;
      const ref = obj.spec?.auth?.secretRef;
      let secret;
      if (ref?.name) {
        try {
          secret = await lookups.secret(ref.namespace || namespace, ref.name);
        } catch (err) {
          warnings.push(`spec.auth.secretRef: Secret not checked (${(err as Error).message})`);
        }
      }
      const r = validateConnector(obj, cls, secret);
      return toResponse(
        req.uid,
        fromValidation(`Connector "${obj.metadata?.name ?? req.name}"`, {
          errors: r.errors,
          warnings: [...r.warnings, ...warnings],
        }),
      );
    },

    async [PATHS.connectorclasses](req) {
      const obj = req.object ?? {};
      const r = await validateConnectorClass(obj, {
        checkRego,
        isPolicyError: (err) => err instanceof RegoCompileError,
      });
      return toResponse(req.uid, fromValidation(`ConnectorClass "${obj.metadata?.name ?? req.name}"`, r));
    },
  };
}
