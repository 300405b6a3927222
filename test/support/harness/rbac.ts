// RBAC the tests (and benchmarks) give their ServiceAccounts: `get` on Connectors, what the proxy and the CSI
// driver check.
import { GROUP } from '../../../core/api/index.ts';

/**
 * A Role `name` allowing `get` on the namespace's Connectors (only `resourceNames` when given) and its
 * RoleBinding to ServiceAccount `serviceAccount` of namespace `saNamespace`, as YAML to apply in the Role's namespace.
 */
export function connectorReaderYaml(o: {
  name: string;
  serviceAccount: string;
  saNamespace: string;
  resourceNames?: string[];
}): string {
  const names = o.resourceNames ? `, resourceNames: [${o.resourceNames.map((n) => JSON.stringify(n)).join(', ')}]` : '';
  return `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: ${o.name}}
rules: [{apiGroups: [${GROUP}], resources: [connectors], verbs: [get]${names}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ${o.name}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: ${o.name}}
subjects: [{kind: ServiceAccount, name: ${o.serviceAccount}, namespace: ${o.saNamespace}}]
`;
}
