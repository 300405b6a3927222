// Pure decision of the pipeline-integration webhook: a PipelineRun or TaskRun annotated
// `integrations.tekton.dev/integrations` gets the params and workspace bindings its integrations describe
// (core/resourceinterface/integration.ts), after the same Connector checks as the workspace annotations: the
// Connector exists and is in scope, several Connectors in one workspace need enable-multi-connector.
// What the run already sets wins (a warning says so). TaskRuns that a PipelineRun created are left alone:
// Tekton copies the PipelineRun's annotations to them, and the PipelineRun was expanded already.
import type { Connector, ConnectorClass, ResourceInterface } from '../../core/api/index.ts';
import { scopeDecision, type Labels } from '../../core/connector/index.ts';
import type { Evaluator } from '../../core/resourceinterface/expression.ts';
import {
  INTEGRATIONS_ANNOTATION,
  IntegrationError,
  expandIntegration,
  parseIntegrations,
  selectInterface,
  type ConnectorRef,
  type Integration,
} from '../../core/resourceinterface/integration.ts';
import { pointer, type JsonPatchOp } from '../jsonpatch.ts';
import { allow, deny, type Decision } from './pod.ts';
import { MULTI_CONNECTOR_FLAG } from './taskrun.ts';

export { INTEGRATIONS_ANNOTATION };
/** Label Tekton puts on the TaskRuns of a PipelineRun. */
export const PIPELINE_RUN_LABEL = 'tekton.dev/pipelineRun';

export interface RunLike {
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: Array<{ kind?: string }>;
  };
  spec?: {
    params?: Array<{ name?: string; value?: unknown }>;
    workspaces?: Array<{ name?: string; [k: string]: unknown }>;
    [k: string]: unknown;
  };
}

/** A TaskRun created by a PipelineRun (Tekton labels it and makes the PipelineRun its owner). */
export function createdByPipelineRun(run: RunLike): boolean {
  return (
    run.metadata?.labels?.[PIPELINE_RUN_LABEL] !== undefined ||
    (run.metadata?.ownerReferences ?? []).some((o) => o.kind === 'PipelineRun')
  );
}

/** Parsed integrations of a run (empty when it has none or a PipelineRun made it). Throws IntegrationError. */
export function runIntegrations(run: RunLike, namespace: string): Integration[] {
  const text = run.metadata?.annotations?.[INTEGRATIONS_ANNOTATION];
  if (text === undefined || (run.kind === 'TaskRun' && createdByPipelineRun(run))) return [];
  return parseIntegrations(text, namespace);
}

/** Every Connector the integrations name, main ones first. */
export function integrationConnectorRefs(integrations: Integration[]): ConnectorRef[] {
  return integrations.flatMap((i) => [i.connectorRef, ...i.mergedConnectors]);
}

export interface IntegrationsInput {
  run: RunLike;
  kind: 'PipelineRun' | 'TaskRun';
  namespace: string;
  /** Labels of the namespaces the scope rule needs (the run's and its Connectors'), fetched beforehand. */
  namespaceLabels: (name: string) => Labels;
  integrations: Integration[];
  multiConnector: boolean;
  connector: (namespace: string, name: string) => Connector | undefined;
  connectorClass: (name: string) => ConnectorClass | undefined;
  resourceInterfaces: ResourceInterface[];
  evaluator: Evaluator;
}

export async function integrationsDecision(input: IntegrationsInput): Promise<Decision> {
  const { run, namespace, integrations } = input;
  const what = `a ${input.kind}`;
  const params: Array<{ name: string; value: unknown; from: string }> = [];
  const workspaces: Array<{ binding: Record<string, unknown>; from: string }> = [];
  try {
    for (const [i, integration] of integrations.entries()) {
      const where = `metadata.annotations["${INTEGRATIONS_ANNOTATION}"][${i}]`;
      const refs = [integration.connectorRef, ...integration.mergedConnectors];
      const connectors: Connector[] = [];
      for (const r of refs) {
        const id = `${r.namespace}/${r.name}`;
        const scope = scopeDecision(
          what,
          namespace,
          input.namespaceLabels(namespace),
          r,
          input.namespaceLabels(r.namespace),
        );
        if (!scope.allowed) throw Object.assign(new IntegrationError(`${where}: ${scope.message}`), { code: 403 });
        const c = input.connector(r.namespace, r.name);
        if (!c) throw Object.assign(new IntegrationError(`${where}: Connector "${id}" not found`), { code: 403 });
        connectors.push(c);
      }
      const className = connectors[0].spec.connectorClassName;
      const cls = input.connectorClass(className);
      if (!cls)
        throw new IntegrationError(
          `${where}: ConnectorClass "${className}" of Connector "${refs[0].namespace}/${refs[0].name}" not found`,
        );
      connectors.slice(1).forEach((c, j) => {
        if (c.spec.connectorClassName !== className)
          throw new IntegrationError(
            `${where}.configuration.connectors[${j}]: Connector "${c.metadata.namespace}/${c.metadata.name}" is of class "${c.spec.connectorClassName}"` +
              `; merged Connectors must be of the main Connector's class "${className}"`,
          );
      });
      const ri = selectInterface(integration, i, cls, input.resourceInterfaces);
      if (integration.mergedConnectors.length) {
        if (!ri.spec?.configurations?.multipleMergeConnectors?.enabled)
          throw new IntegrationError(
            `${where}.configuration.connectors: ResourceInterface "${ri.metadata.name}"` +
              ` does not merge Connectors (spec.configurations.multipleMergeConnectors.enabled)`,
          );
        if (!input.multiConnector)
          throw Object.assign(
            new IntegrationError(
              `${where}.configuration.connectors: ${refs.length} connectors in one workspace need feature flag "${MULTI_CONNECTOR_FLAG}"`,
            ),
            { code: 403 },
          );
      }
      const out = await expandIntegration(integration, i, ri, connectors, input.evaluator);
      const from = `integration "${integration.name}"`;
      for (const p of out.params) params.push({ ...p, from });
      for (const w of out.workspaces) workspaces.push({ binding: w, from });
    }
  } catch (err) {
    if (!(err instanceof IntegrationError)) throw err;
    const code = (err as { code?: number }).code ?? 400;
    return deny(code, code === 403 ? 'Forbidden' : 'BadRequest', err.message);
  }

  const warnings: string[] = [];
  const ops: JsonPatchOp[] = [];
  const add = <T extends { from: string }>(
    field: 'params' | 'workspaces',
    items: T[],
    nameOf: (t: T) => string,
    valueOf: (t: T) => unknown,
  ): Decision | undefined => {
    const existing = new Set((run.spec?.[field] ?? []).map((x) => x.name));
    const added = new Map<string, string>();
    const values: unknown[] = [];
    const kind = field === 'params' ? 'param' : 'workspace';
    for (const item of items) {
      const name = nameOf(item);
      const before = added.get(name);
      if (before !== undefined)
        return deny(400, 'BadRequest', `${kind} "${name}" is set by both ${before} and ${item.from}`);
      if (existing.has(name)) {
        warnings.push(`${kind} "${name}" is already set in spec.${field}; ${item.from} leaves it`);
        continue;
      }
      added.set(name, item.from);
      values.push(valueOf(item));
    }
    if (!values.length) return undefined;
    if (!run.spec?.[field]) ops.push({ op: 'add', path: pointer('spec', field), value: values });
    else for (const v of values) ops.push({ op: 'add', path: pointer('spec', field, '-'), value: v });
    return undefined;
  };
  const denied =
    add(
      'params',
      params,
      (p) => p.name,
      (p) => ({ name: p.name, value: p.value }),
    ) ??
    add(
      'workspaces',
      workspaces,
      (w) => w.binding.name as string,
      (w) => w.binding,
    );
  return denied ?? allow(ops, warnings);
}
