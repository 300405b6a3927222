// Which namespaces may use a Connector: the rule the webhook (Pod images, TaskRun workspaces) and the CSI
// driver (volumes) both apply, decided by the labels of the Connector's namespace:
//   cluster level   — a Connector in kube-public is usable from every namespace;
//   project level   — the Connector's namespace is labelled cpaas.io/inner-namespace: <project>: usable from
//                     the namespaces labelled cpaas.io/project: <project>, from the namespace named <project>
//                     and from its own namespace;
//   namespace level — any other Connector is usable only from its own namespace.
// A workload namespace's own cpaas.io/project label never grants anything by itself: it must name the project
// of the Connector's namespace.
import type { ConnectorRef } from './ref.ts';

export const CLUSTER_SCOPE_NAMESPACE = 'kube-public';
export const PROJECT_NAMESPACE_LABEL = 'cpaas.io/inner-namespace';
export const PROJECT_MEMBER_LABEL = 'cpaas.io/project';

export type Labels = Readonly<Record<string, string>> | undefined | null;

export type ConnectorLevel =
  { level: 'cluster' } | { level: 'project'; project: string } | { level: 'namespace'; namespace: string };

/** The level of the Connectors of a namespace, from its name and labels. */
export function connectorLevel(namespace: string, labels: Labels): ConnectorLevel {
  if (namespace === CLUSTER_SCOPE_NAMESPACE) return { level: 'cluster' };
  const project = labels?.[PROJECT_NAMESPACE_LABEL];
  return project ? { level: 'project', project } : { level: 'namespace', namespace };
}

/** Pure: may workloads of `workloadNamespace` use a Connector of `connectorNamespace`? */
export function usableFrom(
  workloadNamespace: string,
  workloadLabels: Labels,
  connectorNamespace: string,
  connectorNamespaceLabels: Labels,
): boolean {
  if (workloadNamespace === connectorNamespace) return true;
  const level = connectorLevel(connectorNamespace, connectorNamespaceLabels);
  if (level.level === 'cluster') return true;
  if (level.level === 'namespace') return false;
  return workloadNamespace === level.project || workloadLabels?.[PROJECT_MEMBER_LABEL] === level.project;
}

/** Why `who` in `workloadNamespace` may not use the Connector, for the error the workload's owner reads. */
export function scopeDenial(who: string, workloadNamespace: string, ref: ConnectorRef, level: ConnectorLevel): string {
  const head = `${who} in namespace ${JSON.stringify(workloadNamespace)} may not use Connector "${ref.namespace}/${ref.name}"`;
  if (level.level === 'project')
    return (
      `${head}: it belongs to project ${JSON.stringify(level.project)} (its namespace is labelled ${PROJECT_NAMESPACE_LABEL}: ${level.project}) ` +
      `and is usable only from namespaces labelled ${PROJECT_MEMBER_LABEL}: ${level.project} and from the project's own namespace`
    );
  return (
    `${head}: it is usable only from namespace ${JSON.stringify(ref.namespace)} ` +
    `(Connectors in ${CLUSTER_SCOPE_NAMESPACE} are usable from every namespace, those of a namespace ` +
    `labelled ${PROJECT_NAMESPACE_LABEL} from the namespaces of that project)`
  );
}

/** Pure: the scope rule with the labels at hand, and the denial message when it refuses. */
export function scopeDecision(
  who: string,
  workloadNamespace: string,
  workloadLabels: Labels,
  ref: ConnectorRef,
  connectorNamespaceLabels: Labels,
): ScopeDecision {
  if (usableFrom(workloadNamespace, workloadLabels, ref.namespace, connectorNamespaceLabels)) return { allowed: true };
  const level = connectorLevel(ref.namespace, connectorNamespaceLabels);
  return { allowed: false, level, message: scopeDenial(who, workloadNamespace, ref, level) };
}

/** Labels of a namespace; undefined or null when it does not exist. */
export type NamespaceLabelsSource = (name: string) => Labels | Promise<Labels>;

export type ScopeDecision = { allowed: true } | { allowed: false; level: ConnectorLevel; message: string };

/**
 * The scope rule with its lookups: reads the labels of the Connector's namespace only when neither the same
 * namespace nor kube-public decides, and the workload namespace's only for a project-level Connector.
 */
export async function checkScope(
  who: string,
  workloadNamespace: string,
  ref: ConnectorRef,
  labelsOf: NamespaceLabelsSource,
): Promise<ScopeDecision> {
  if (workloadNamespace === ref.namespace || ref.namespace === CLUSTER_SCOPE_NAMESPACE) return { allowed: true };
  const level = connectorLevel(ref.namespace, await labelsOf(ref.namespace));
  const deny = (): ScopeDecision => ({
    allowed: false,
    level,
    message: scopeDenial(who, workloadNamespace, ref, level),
  });
  if (level.level !== 'project') return deny();
  if (workloadNamespace === level.project) return { allowed: true };
  return (await labelsOf(workloadNamespace))?.[PROJECT_MEMBER_LABEL] === level.project ? { allowed: true } : deny();
}
