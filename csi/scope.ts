// Connector scope (core.md §8), a pure decision:
//   - a Connector in kube-public is usable from every namespace (cluster level);
//   - a Connector in a project namespace (label cpaas.io/inner-namespace: <group>) is usable from that
//     namespace, from namespaces labelled cpaas.io/project: <group>, and from the namespace named <group>;
//   - any other Connector only from its own namespace.
import { permissionDenied, type CsiError } from './errors.ts';

export const CLUSTER_SCOPE_NAMESPACE = 'kube-public';
export const PROJECT_NAMESPACE_LABEL = 'cpaas.io/inner-namespace';
export const PROJECT_MEMBER_LABEL = 'cpaas.io/project';

export type Labels = Record<string, string> | undefined;

export function inScope(
  podNamespace: string,
  podNamespaceLabels: Labels,
  connectorNamespace: string,
  connectorNamespaceLabels: Labels,
): boolean {
  if (podNamespace === connectorNamespace) return true;
  if (connectorNamespace === CLUSTER_SCOPE_NAMESPACE) return true;
  const group = connectorNamespaceLabels?.[PROJECT_NAMESPACE_LABEL];
  if (!group) return false;
  return podNamespace === group || podNamespaceLabels?.[PROJECT_MEMBER_LABEL] === group;
}

export function scopeError(podNamespace: string, connector: { namespace: string; name: string }): CsiError {
  return permissionDenied(
    `permission denied: pods in namespace "${podNamespace}" may not use connector "${connector.namespace}/${connector.name}" ` +
      `(usable from its own namespace, from anywhere when in ${CLUSTER_SCOPE_NAMESPACE}, or from the members of its project)`,
  );
}
