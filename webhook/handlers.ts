// The admission handlers: the thin shell that fetches what the pure decisions need and turns them into
// AdmissionReview responses. One handler per webhook path.
import type { Connector, ConnectorClass, ResourceInterface } from '../core/api/index.ts';
import { ANNOTATIONS } from '../core/api/keys.ts';
import {
  CLUSTER_SCOPE_NAMESPACE,
  parseConnectorRef,
  refString,
  secretRefOf,
  type ConnectorRef,
  type Labels,
} from '../core/connector/index.ts';
import type { FeatureFlags } from '../core/kube/featureflags.ts';
import { compileRego, RegoCompileError } from '../core/opa/index.ts';
import { toResponse, type AdmissionRequest, type AdmissionResponse, type Verdict } from './admission.ts';
import type { Lookups } from './lookups.ts';
import { IMAGE_PULL_FLAG, podDecision, type Decision, type PodLike } from './mutate/pod.ts';
import {
  MULTI_CONNECTOR_FLAG,
  WORKSPACE_ANNOTATION_PREFIX,
  taskRunDecision,
  type TaskRunLike,
} from './mutate/taskrun.ts';
import { validateConnector, type ValidationResult } from './validate/connector.ts';
import { validateConnectorClass, type RegoChecker } from './validate/connectorclass.ts';
import { validateResourceInterface } from './validate/resourceinterface.ts';
import {
  integrationConnectorRefs,
  integrationsDecision,
  runIntegrations,
  type RunLike,
} from './mutate/integrations.ts';
import { IntegrationError, type Integration } from '../core/resourceinterface/integration.ts';
import { Evaluator, ExpressionError, type Limits, type SandboxWait } from '../core/resourceinterface/expression.ts';
import { applyPatch } from './jsonpatch.ts';

export const PATHS = {
  pods: '/mutate/pods',
  taskruns: '/mutate/taskruns',
  pipelineruns: '/mutate/pipelineruns',
  connectors: '/validate/connectors',
  connectorclasses: '/validate/connectorclasses',
  resourceinterfaces: '/validate/resourceinterfaces',
} as const;

export interface HandlerDeps {
  lookups: Lookups;
  flags: FeatureFlags;
  systemNamespace: string;
  checkRego?: RegoChecker;
  /** Limits of the ResourceInterface expression sandbox, per admission request (default DEFAULT_LIMITS). */
  expressionLimits?: Partial<Limits>;
  /** How long and how many admission requests may wait for a busy sandbox (default SANDBOX_WAIT). */
  expressionWait?: Partial<SandboxWait>;
}

export type Handler = (req: AdmissionRequest) => Promise<AdmissionResponse>;

/**
 * The object under review as the kind its webhook path admits (the registration sends each path only its
 * kind), every field optional as the API server may omit it; an absent object reads as `{}`.
 */
const reviewed = <T>(req: AdmissionRequest): T => (req.object ?? {}) as T;

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

/**
 * What the pure decisions read about the Connectors an object names — the Connectors, their classes, and the
 * labels of the namespaces the scope rule needs — fetched up front so the decisions stay synchronous.
 */
async function prefetch(lookups: Lookups, workloadNamespace: string, refs: ConnectorRef[]) {
  const connectors = new Map<string, Connector | undefined>();
  const classes = new Map<string, ConnectorClass | undefined>();
  const labels = new Map<string, Labels>();
  const namespaces = new Set<string>();
  for (const r of refs)
    if (r.namespace !== workloadNamespace && r.namespace !== CLUSTER_SCOPE_NAMESPACE)
      namespaces.add(r.namespace).add(workloadNamespace);
  await Promise.all([
    ...refs.map(async (r) => {
      const c = await lookups.connector(r.namespace, r.name);
      connectors.set(refString(r), c);
      const className = c?.spec?.connectorClassName;
      if (className && !classes.has(className)) classes.set(className, await lookups.connectorClass(className));
    }),
    ...[...namespaces].map(async (n) => labels.set(n, await lookups.namespaceLabels(n))),
  ]);
  return {
    connector: (namespace: string, name: string) => connectors.get(`${namespace}/${name}`),
    connectorClass: (name: string) => classes.get(name),
    namespaceLabels: (name: string) => labels.get(name),
  };
}

const refsOf = (values: string[], namespace: string): ConnectorRef[] =>
  values.flatMap((v) => {
    const r = parseConnectorRef(v, namespace);
    return r.ok ? [r.ref] : [];
  });

/**
 * The pipeline-integration decision for a PipelineRun or TaskRun: parses the annotation, fetches the
 * Connectors, their classes and the ResourceInterfaces, and evaluates in a fresh sandbox.
 */
async function integrationVerdict(
  deps: HandlerDeps,
  run: RunLike,
  kind: 'PipelineRun' | 'TaskRun',
  namespace: string,
): Promise<Decision> {
  let integrations: Integration[];
  try {
    integrations = runIntegrations({ ...run, kind }, namespace);
  } catch (err) {
    if (err instanceof IntegrationError)
      return { allowed: false, code: 400, reason: 'BadRequest', message: err.message };
    throw err;
  }
  if (!integrations.length) return { allowed: true, patch: [], warnings: [] };
  const [found, resourceInterfaces] = await Promise.all([
    prefetch(deps.lookups, namespace, integrationConnectorRefs(integrations)),
    deps.lookups.resourceInterfaces(),
  ]);
  let evaluator: Evaluator;
  try {
    evaluator = await Evaluator.create(deps.expressionLimits, deps.expressionWait);
  } catch (err) {
    // No sandbox now (busy, or it did not start): the run is refused with the reason, to be created again.
    if (err instanceof ExpressionError)
      return { allowed: false, code: 503, reason: 'ServiceUnavailable', message: err.message };
    throw err;
  }
  try {
    return await integrationsDecision({
      run,
      kind,
      namespace,
      integrations,
      multiConnector: deps.flags.enabled(MULTI_CONNECTOR_FLAG),
      ...found,
      resourceInterfaces,
      evaluator,
    });
  } finally {
    void evaluator.dispose();
  }
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
      const pod = reviewed<PodLike>(req);
      const namespace = req.namespace ?? pod.metadata?.namespace ?? 'default';
      const ann = pod.metadata?.annotations?.[ANNOTATIONS.connector];
      const flagEnabled = flags.enabled(IMAGE_PULL_FLAG);
      // Nothing is looked up for a Pod the decision refuses or leaves alone without it.
      const wanted = ann && flagEnabled ? refsOf([ann], namespace) : [];
      const found = await prefetch(lookups, namespace, wanted);
      const d = podDecision({
        pod,
        namespace,
        operation: req.operation === 'UPDATE' ? 'UPDATE' : 'CREATE',
        flagEnabled,
        systemNamespace: deps.systemNamespace,
        ...found,
      });
      return toResponse(req.uid, fromDecision(d));
    },

    async [PATHS.pipelineruns](req) {
      const pr = reviewed<RunLike>(req);
      const namespace = req.namespace ?? pr.metadata?.namespace ?? 'default';
      return toResponse(req.uid, fromDecision(await integrationVerdict(deps, pr, 'PipelineRun', namespace)));
    },

    async [PATHS.taskruns](req) {
      const original = reviewed<TaskRunLike & RunLike>(req);
      const namespace = req.namespace ?? original.metadata?.namespace ?? 'default';
      // Integrations first; the workspace annotations then see (and never override) what they bound.
      const integrated = await integrationVerdict(deps, original, 'TaskRun', namespace);
      if (!integrated.allowed) return toResponse(req.uid, fromDecision(integrated));
      const tr = integrated.patch.length ? applyPatch(original, integrated.patch) : original;
      const annotations: Record<string, string> = tr.metadata?.annotations ?? {};
      const values: string[] = [];
      for (const [k, v] of Object.entries(annotations)) {
        if (k.startsWith(WORKSPACE_ANNOTATION_PREFIX)) {
          const m = /(?:^|;)\s*connectors?\s*=([^;]*)/.exec(v);
          values.push(...(m?.[1] ?? '').split(','));
        }
      }
      if (annotations[ANNOTATIONS.connector]) values.push(annotations[ANNOTATIONS.connector]);
      if (!values.length) return toResponse(req.uid, fromDecision(integrated));
      const found = await prefetch(lookups, namespace, refsOf(values, namespace));
      const d = taskRunDecision({
        taskRun: tr,
        namespace,
        flags: { imagePull: flags.enabled(IMAGE_PULL_FLAG), multiConnector: flags.enabled(MULTI_CONNECTOR_FLAG) },
        ...found,
      });
      return toResponse(
        req.uid,
        fromDecision(
          d.allowed
            ? { ...d, patch: [...integrated.patch, ...d.patch], warnings: [...integrated.warnings, ...d.warnings] }
            : d,
        ),
      );
    },

    async [PATHS.connectors](req) {
      const obj = reviewed<Partial<Connector>>(req);
      const namespace = req.namespace ?? obj.metadata?.namespace ?? 'default';
      const connector = {
        ...obj,
        metadata: { ...(obj.metadata ?? {}), namespace },
        spec: obj.spec ?? ({} as Connector['spec']),
      };
      const warnings: string[] = [];
      const cls = obj.spec?.connectorClassName ? await lookups.connectorClass(obj.spec.connectorClassName) : undefined;
      // Only a Secret of the Connector's own namespace is ever read: a reference into another namespace is
      // refused by validateConnector without a lookup, so admission says nothing about other namespaces.
      const ref = secretRefOf(connector);
      let secret;
      if (ref.state === 'local') {
        try {
          secret = await lookups.secret(ref.ref.namespace, ref.ref.name);
        } catch (err) {
          warnings.push(`spec.auth.secretRef: Secret not checked (${(err as Error).message})`);
        }
      }
      const r = validateConnector(connector, cls, secret);
      return toResponse(
        req.uid,
        fromValidation(`Connector "${obj.metadata?.name ?? req.name}"`, {
          errors: r.errors,
          warnings: [...r.warnings, ...warnings],
        }),
      );
    },

    [PATHS.resourceinterfaces](req) {
      const obj = reviewed<Partial<ResourceInterface>>(req);
      const ri = { metadata: obj.metadata, spec: obj.spec ?? {} };
      return Promise.resolve(
        toResponse(
          req.uid,
          fromValidation(`ResourceInterface "${obj.metadata?.name ?? req.name}"`, validateResourceInterface(ri)),
        ),
      );
    },

    async [PATHS.connectorclasses](req) {
      const obj = reviewed<Partial<ConnectorClass>>(req);
      const r = await validateConnectorClass(obj, {
        checkRego,
        isPolicyError: (err) => err instanceof RegoCompileError,
      });
      return toResponse(req.uid, fromValidation(`ConnectorClass "${obj.metadata?.name ?? req.name}"`, r));
    },
  };
}
