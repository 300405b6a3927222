// Pure Connector scope rules (core.md §8, SCO-02..04): which namespaces may use a Connector.
//   cluster level   — a Connector in kube-public is usable from every namespace;
//   project level   — a Connector in a project namespace P is usable from P and from namespaces labelled
//                     cpaas.io/project=P (scenario 48: ns1 labelled cpaas.io/project=group-1 uses group-1/x);
//   namespace level — otherwise only from the Connector's own namespace.
export const CLUSTER_CONNECTOR_NAMESPACE = 'kube-public';
export const PROJECT_LABEL = 'cpaas.io/project';

export function connectorUsableFrom(
  workloadNamespace: string,
  workloadNamespaceLabels: Record<string, string> | undefined,
  connectorNamespace: string,
): boolean {
  if (workloadNamespace === connectorNamespace) return true;
  if (connectorNamespace === CLUSTER_CONNECTOR_NAMESPACE) return true;
  return workloadNamespaceLabels?.[PROJECT_LABEL] === connectorNamespace;
}

export function scopeDeniedMessage(workload: string, workloadNamespace: string, connector: string): string {
  return `${workload} in namespace "${workloadNamespace}" may not use Connector "${connector}": a Connector is usable from its own namespace, from every namespace when it is in ${CLUSTER_CONNECTOR_NAMESPACE}, and from namespaces labelled ${PROJECT_LABEL}=<its namespace>`;
}

/** `ns/name` or `name` (the workload's namespace). Undefined when malformed. */
export function parseConnectorRef(
  value: string,
  defaultNamespace: string,
): { namespace: string; name: string } | undefined {
  const v = value.trim();
  const parts = v.split('/');
  const dns = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
  if (parts.length === 1 && dns.test(parts[0])) return { namespace: defaultNamespace, name: parts[0] };
  if (parts.length === 2 && dns.test(parts[0]) && dns.test(parts[1])) return { namespace: parts[0], name: parts[1] };
  return undefined;
}
