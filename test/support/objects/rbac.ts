// ServiceAccounts, Roles, ClusterRoles and their bindings; above all the one the tests and benchmarks give their
// ServiceAccounts: `get` on Connectors, what the proxy and the CSI driver check.
import type { KubeObject, ObjectMeta, ServiceAccount } from '../../../core/kube/types.ts';
import { GROUP } from '../../../core/api/index.ts';
import { metadata, type MetaOptions } from './meta.ts';

const RBAC = 'rbac.authorization.k8s.io';

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

export interface Subject {
  kind: 'ServiceAccount' | 'User' | 'Group';
  name: string;
  namespace?: string;
  apiGroup?: string;
}

export interface Role extends KubeObject {
  kind: 'Role' | 'ClusterRole';
  metadata: ObjectMeta;
  rules: PolicyRule[];
}

export interface RoleBinding extends KubeObject {
  kind: 'RoleBinding' | 'ClusterRoleBinding';
  metadata: ObjectMeta;
  roleRef: { apiGroup: typeof RBAC; kind: 'Role' | 'ClusterRole'; name: string };
  subjects: Subject[];
}

export function serviceAccount(name: string, o: MetaOptions = {}): ServiceAccount {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: metadata(name, o) };
}

/** ServiceAccount `name` of `namespace`, as a binding's subject. */
export function serviceAccountSubject(name: string, namespace: string): Subject {
  return { kind: 'ServiceAccount', name, namespace };
}

/** A rule on `resources` of `apiGroup` ('' is the core group), only `resourceNames` when given. */
export function rule(apiGroup: string, resources: string[], verbs: string[], resourceNames?: string[]): PolicyRule {
  return { apiGroups: [apiGroup], resources, verbs, ...(resourceNames ? { resourceNames } : {}) };
}

/** `verbs` (default `get`, what the proxy checks) on the Connectors of connectors.alauda.io. */
export function connectorRule(verbs: string[] = ['get'], resourceNames?: string[]): PolicyRule {
  return rule(GROUP, ['connectors'], verbs, resourceNames);
}

export function role(name: string, rules: PolicyRule[], o: MetaOptions = {}): Role {
  return { apiVersion: `${RBAC}/v1`, kind: 'Role', metadata: metadata(name, o), rules };
}

export function clusterRole(name: string, rules: PolicyRule[], o: Omit<MetaOptions, 'namespace'> = {}): Role {
  return { apiVersion: `${RBAC}/v1`, kind: 'ClusterRole', metadata: metadata(name, o), rules };
}

/** RoleBinding `name` of Role `roleName` (a ClusterRole with `clusterRole: true`) to the subjects. */
export function roleBinding(
  name: string,
  roleName: string,
  subjects: Subject[],
  o: MetaOptions & { clusterRole?: boolean } = {},
): RoleBinding {
  return {
    apiVersion: `${RBAC}/v1`,
    kind: 'RoleBinding',
    metadata: metadata(name, o),
    roleRef: { apiGroup: RBAC, kind: o.clusterRole ? 'ClusterRole' : 'Role', name: roleName },
    subjects,
  };
}

export function clusterRoleBinding(
  name: string,
  clusterRoleName: string,
  subjects: Subject[],
  o: Omit<MetaOptions, 'namespace'> = {},
): RoleBinding {
  return {
    apiVersion: `${RBAC}/v1`,
    kind: 'ClusterRoleBinding',
    metadata: metadata(name, o),
    roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: clusterRoleName },
    subjects,
  };
}

/** Role `name` with `rules` and its RoleBinding (same name) to ServiceAccount `serviceAccount` of `saNamespace`. */
export function roleFor(
  name: string,
  rules: PolicyRule[],
  o: { serviceAccount: string; saNamespace: string } & MetaOptions,
): [Role, RoleBinding] {
  const { serviceAccount: sa, saNamespace, ...meta } = o;
  return [role(name, rules, meta), roleBinding(name, name, [serviceAccountSubject(sa, saNamespace)], meta)];
}

/**
 * A Role `name` allowing `verbs` (default `get`) on the namespace's Connectors (only `resourceNames` when given)
 * and its RoleBinding to ServiceAccount `serviceAccount` of namespace `saNamespace`, to apply in the Role's namespace.
 */
export function connectorReader(o: {
  name: string;
  serviceAccount: string;
  saNamespace: string;
  resourceNames?: string[];
  verbs?: string[];
  namespace?: string;
}): [Role, RoleBinding] {
  return roleFor(o.name, [connectorRule(o.verbs, o.resourceNames)], o);
}
