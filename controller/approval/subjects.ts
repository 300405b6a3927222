// Pure: the RoleBinding subjects of a `defaultPermission.bindingTemplate`. Each `serviceAccounts[]` item pairs
// ServiceAccount names with the namespaces they come from:
//   names + namespaces        → one ServiceAccount subject per (namespace, name);
//   no names + namespaces     → the group system:serviceaccounts:<ns> per namespace (every ServiceAccount);
//   names + every namespace   → those ServiceAccount names in every namespace;
//   no names + every namespace→ the group system:serviceaccounts.
// "Every namespace" is an absent or empty (`{}`) namespaceSelector; only existing namespaces are selected
// (the controller re-reconciles when namespaces come and go), except by the all-namespaces group.
import type { BindingTemplate } from '../../core/api/index.ts';
import { selectNames, selectsAll, type Named } from './selectors.ts';

export const RBAC_GROUP = 'rbac.authorization.k8s.io';

export interface RbacSubject {
  kind: 'ServiceAccount' | 'Group' | 'User';
  name: string;
  namespace?: string;
  apiGroup?: string;
}

const sa = (namespace: string, name: string): RbacSubject => ({ kind: 'ServiceAccount', name, namespace });
const group = (name: string): RbacSubject => ({ kind: 'Group', name, apiGroup: RBAC_GROUP });

export function expandSubjects(template: BindingTemplate | undefined, namespaces: Named[]): RbacSubject[] {
  const out = new Map<string, RbacSubject>();
  const add = (s: RbacSubject) => out.set(`${s.kind}\u0000${s.namespace ?? ''}\u0000${s.name}`, s);
  for (const item of template?.serviceAccounts ?? []) {
    const names = [...new Set((item.names ?? []).filter((n) => n !== ''))];
    const everyNamespace = selectsAll(item.namespaceSelector);
    if (everyNamespace && !names.length) {
      add(group('system:serviceaccounts'));
      continue;
    }
    const selected = everyNamespace
      ? namespaces.map((n) => n.metadata.name ?? '').sort()
      : selectNames(item.namespaceSelector, namespaces);
    for (const ns of selected) {
      if (!names.length) add(group(`system:serviceaccounts:${ns}`));
      else for (const name of names) add(sa(ns, name));
    }
  }
  return [...out.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, s]) => s);
}

/** rbac/v1 subject of an AccessRequest's `spec.subject` (ServiceAccounts have no apiGroup, others rbac's). */
export function rbacSubject(s: { kind: string; name: string; namespace?: string }): RbacSubject {
  if (s.kind === 'ServiceAccount') return sa(s.namespace ?? '', s.name);
  return { kind: s.kind as RbacSubject['kind'], name: s.name, apiGroup: RBAC_GROUP };
}
