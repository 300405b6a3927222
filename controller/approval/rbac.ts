// The Roles and RoleBindings the approval controllers generate: written only when the cached copy differs
// from what is wanted (so a reconcile that changes nothing costs no request), owned by the AccessPolicy or
// AccessRequest they come from (garbage-collected with it), and labelled app.kubernetes.io/managed-by:
// connectors-approval (the caches watch only those). A same-named object we do not manage is never touched.
import { KubeApiError, type KubeRest } from '../../core/kube/rest.ts';
import { resourcePath, resources } from '../../core/kube/resources.ts';
import type { Informer } from '../../core/kube/informer.ts';
import { APPROVAL_LABELS, APPROVAL_MANAGER } from '../../core/approval/names.ts';
import { canonical } from '../conditions.ts';
import type { PolicyRule } from './rules.ts';
import { RBAC_GROUP, type RbacSubject } from './subjects.ts';

export interface OwnerRef {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
}

interface Meta {
  name?: string;
  namespace?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  ownerReferences?: Array<OwnerRef & { controller?: boolean }>;
}

export interface RoleObject {
  apiVersion?: string;
  kind?: string;
  metadata: Meta;
  rules?: PolicyRule[];
}

export interface RoleBindingObject {
  apiVersion?: string;
  kind?: string;
  metadata: Meta;
  roleRef: { apiGroup: string; kind: string; name: string };
  subjects?: RbacSubject[];
}

export class RbacConflictError extends Error {
  override name = 'RbacConflictError';
}

const rolesPath = (ns: string) => resourcePath(resources.Role, { namespace: ns });
const bindingsPath = (ns: string) => resourcePath(resources.RoleBinding, { namespace: ns });

export interface Grant {
  namespace: string;
  name: string;
  owner: OwnerRef;
  /** Extra labels (which policy or request it belongs to). */
  labels: Record<string, string>;
  rules: PolicyRule[];
  subjects: RbacSubject[];
}

export type WriteResult = 'created' | 'updated' | 'unchanged';

export class RbacWriter {
  private readonly rest: KubeRest;
  readonly roles: Informer<RoleObject>;
  readonly bindings: Informer<RoleBindingObject>;

  constructor(rest: KubeRest, roles: Informer<RoleObject>, bindings: Informer<RoleBindingObject>) {
    this.rest = rest;
    this.roles = roles;
    this.bindings = bindings;
  }

  private metadata(g: Grant): Meta {
    return {
      name: g.name,
      namespace: g.namespace,
      labels: { ...g.labels, [APPROVAL_LABELS.managedBy]: APPROVAL_MANAGER },
      ownerReferences: [{ ...g.owner, controller: true }],
    };
  }

  /** Role and RoleBinding as wanted; the result says whether anything was written. */
  async ensure(g: Grant): Promise<WriteResult> {
    const meta = this.metadata(g);
    const role: RoleObject = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: meta,
      rules: g.rules,
    };
    const binding: RoleBindingObject = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: meta,
      roleRef: { apiGroup: RBAC_GROUP, kind: 'Role', name: g.name },
      subjects: g.subjects,
    };
    const r = await this.write(rolesPath(g.namespace), this.roles.get(g.name, g.namespace), role, (a, b) =>
      same(a.rules, b.rules),
    );
    const b = await this.write(
      bindingsPath(g.namespace),
      this.bindings.get(g.name, g.namespace),
      binding,
      (x, y) => same(x.subjects, y.subjects) && same(x.roleRef, y.roleRef),
      (x, y) => same(x.roleRef, y.roleRef),
    );
    if (r === 'created' || b === 'created') return 'created';
    return r === 'updated' || b === 'updated' ? 'updated' : 'unchanged';
  }

  /**
   * Deletes the Role and RoleBinding; true when something was there. With `ifCached`, nothing is asked when
   * the caches hold neither (one that appears later is seen by the caches, and its owner is reconciled again).
   */
  async remove(namespace: string, name: string, opts: { ifCached?: boolean } = {}): Promise<boolean> {
    if (opts.ifCached && !this.exists(namespace, name)) return false;
    let removed = false;
    for (const path of [bindingsPath(namespace), rolesPath(namespace)]) {
      try {
        await this.rest.call('DELETE', `${path}/${encodeURIComponent(name)}`);
        removed = true;
      } catch (err) {
        if (!(err instanceof KubeApiError && err.statusCode === 404)) throw err;
      }
    }
    return removed;
  }

  /** Whether the Role or RoleBinding is in the caches. */
  exists(namespace: string, name: string): boolean {
    return Boolean(this.roles.get(name, namespace) || this.bindings.get(name, namespace));
  }

  private async write<T extends { metadata: Meta }>(
    collection: string,
    cached: T | undefined,
    wanted: T,
    equal: (a: T, b: T) => boolean,
    updatable: (a: T, b: T) => boolean = () => true,
  ): Promise<WriteResult> {
    const path = `${collection}/${encodeURIComponent(wanted.metadata.name!)}`;
    if (cached && ours(cached) && equal(cached, wanted) && sameMeta(cached.metadata, wanted.metadata))
      return 'unchanged';
    if (!cached) {
      try {
        await this.rest.call('POST', collection, { body: wanted });
        return 'created';
      } catch (err) {
        if (!(err instanceof KubeApiError && err.statusCode === 409)) throw err;
        cached = await this.rest.getIfExists<T>(path);
        if (!cached) throw err;
      }
    }
    if (!ours(cached))
      throw new RbacConflictError(
        `${wanted.metadata.namespace}/${wanted.metadata.name} exists and is not managed by ${APPROVAL_MANAGER}`,
      );
    if (!updatable(cached, wanted)) {
      // roleRef is immutable: replace the binding.
      await this.rest.call('DELETE', path);
      await this.rest.call('POST', collection, { body: wanted });
      return 'updated';
    }
    await this.rest.call('PUT', path, {
      body: { ...wanted, metadata: { ...wanted.metadata, resourceVersion: cached.metadata.resourceVersion } },
    });
    return 'updated';
  }
}

const same = (a: unknown, b: unknown) => canonical(a ?? null) === canonical(b ?? null);

const ours = (o: { metadata: Meta }) => o.metadata.labels?.[APPROVAL_LABELS.managedBy] === APPROVAL_MANAGER;

function sameMeta(a: Meta, b: Meta): boolean {
  for (const [k, v] of Object.entries(b.labels ?? {})) if (a.labels?.[k] !== v) return false;
  const owner = b.ownerReferences?.[0];
  return Boolean(owner && a.ownerReferences?.some((o) => o.uid === owner.uid && o.controller));
}
