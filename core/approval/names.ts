// Names shared by the approval pieces (controller, CSI driver, proxy): labels, the pod-bound proxy resource,
// the flags that switch approval on, and bounded object names and label values.
import { createHash } from 'node:crypto';
import type { FeatureFlag } from '../api/index.ts';

/** Approval acts only when both flags are on; otherwise the normal access model applies unchanged. */
export const APPROVAL_FLAGS: readonly FeatureFlag[] = [
  'enable-connectors-approval',
  'enable-connector-proxy-permissions',
];

export function approvalActive(enabled: (flag: FeatureFlag) => boolean): boolean {
  return APPROVAL_FLAGS.every((f) => enabled(f));
}

/** Labels on AccessRequests (what CSI sets, to find the request of a Pod) and on generated RBAC objects. */
export const APPROVAL_LABELS = {
  contextObjectKind: 'connectors.cpaas.io/contextObjectKind',
  contextObjectName: 'connectors.cpaas.io/contextObjectName',
  contextObjectNamespace: 'connectors.cpaas.io/contextObjectNamespace',
  connector: 'connectors.cpaas.io/connector',
  accessRequest: 'connectors.alauda.io/accessRequest',
  accessPolicy: 'connectors.alauda.io/accessPolicy',
  /** Marks the ConfigMaps of the system namespace that are check templates. */
  templateType: 'connectors.cpaas.io/templateType',
  managedBy: 'app.kubernetes.io/managed-by',
} as const;

/** `app.kubernetes.io/managed-by` of the Roles and RoleBindings the approval controllers generate. */
export const APPROVAL_MANAGER = 'connectors-approval';

/** The RBAC resource a pod-bound proxy grant names: connectors/proxy/v1/pod/<podNamespace>/<podName>. */
export const POD_PROXY_PREFIX = 'connectors/proxy/v1/pod/';

/** The subresource part of that resource, as a SubjectAccessReview asks for it (resource `connectors`). */
export function podProxySubresource(podNamespace: string, podName: string): string {
  return `proxy/v1/pod/${podNamespace}/${podName}`;
}

/** TokenReview `user.extra` keys of a token bound to a Pod. */
export const POD_NAME_EXTRA = 'authentication.kubernetes.io/pod-name';
export const POD_UID_EXTRA = 'authentication.kubernetes.io/pod-uid';

export interface TokenUser {
  username: string;
  extra?: Record<string, string[]>;
}

/**
 * The Pod a ServiceAccount token is bound to, from its TokenReview: the namespace is the ServiceAccount's
 * (a token can only be bound to a Pod of its own namespace), the name and uid come from `extra`.
 */
export function podOfUser(user: TokenUser): { namespace: string; name: string; uid?: string } | undefined {
  const name = user.extra?.[POD_NAME_EXTRA]?.[0];
  if (!name) return undefined;
  const m = /^system:serviceaccount:([^:]+):[^:]+$/.exec(user.username);
  if (!m) return undefined;
  return { namespace: m[1], name, uid: user.extra?.[POD_UID_EXTRA]?.[0] };
}

const hash = (s: string, n: number) => createHash('sha256').update(s).digest('hex').slice(0, n);

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/**
 * `value` when it is a valid label value (at most 63 characters), else a stable stand-in: its first 46
 * characters, a dash and 16 hex digits of its sha256. Pod names may be up to 253 characters.
 */
export function labelValue(value: string): string {
  if (value.length <= 63 && LABEL_VALUE.test(value)) return value;
  const head = value
    .slice(0, 46)
    .replace(/[^-A-Za-z0-9_.]/g, '-')
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  return `${head ? head + '-' : ''}${hash(value, 16)}`;
}

/**
 * A DNS-subdomain object name from readable parts, at most `max` characters: the parts joined by '-', cut
 * and completed with 10 hex digits of a hash of all of them when too long (so distinct inputs stay distinct).
 */
export function boundedName(parts: string[], max = 253): string {
  const joined = parts.join('-').toLowerCase();
  if (joined.length <= max) return joined;
  const head = joined.slice(0, max - 11).replace(/[-.]+$/, '');
  return `${head}-${hash(parts.join('\u0000'), 10)}`;
}
