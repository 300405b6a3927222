// Pure pieces of the CSI side of approval: the AccessRequest a Pod's mount asks for (one per Pod and
// Connector, with a deterministic name so concurrent or repeated publishes find the same one), what its
// status means for the mount, and the `.error.json` a rejected mount holds.
import { createHash } from 'node:crypto';
import type { AccessRequest, Condition } from '../api/index.ts';
import { API_VERSION } from '../api/keys.ts';
import { APPROVAL_LABELS, boundedName, labelValue } from './names.ts';

export interface PodIdentity {
  namespace: string;
  name: string;
  uid: string;
  serviceAccount: string;
}

export interface ConnectorKey {
  namespace: string;
  name: string;
}

/** `<pod>-<connector>-<hash>`: the hash covers the Pod's uid, so a new Pod of the same name asks anew. */
export function accessRequestName(pod: PodIdentity, connector: ConnectorKey): string {
  const h = createHash('sha256')
    .update([pod.namespace, pod.name, pod.uid, pod.serviceAccount, connector.namespace, connector.name].join('\u0000'))
    .digest('hex')
    .slice(0, 8);
  return boundedName([pod.name.slice(0, 100), connector.name.slice(0, 100), h]);
}

/** The labels that find the AccessRequests of a Pod (values bounded to 63 characters). */
export function accessRequestLabels(pod: PodIdentity, connector: ConnectorKey): Record<string, string> {
  return {
    [APPROVAL_LABELS.contextObjectKind]: 'Pod',
    [APPROVAL_LABELS.contextObjectName]: labelValue(pod.name),
    [APPROVAL_LABELS.contextObjectNamespace]: labelValue(pod.namespace),
    [APPROVAL_LABELS.connector]: labelValue(connector.name),
  };
}

/** The AccessRequest for a Pod's use of a Connector; it lives in the Connector's namespace. */
export function accessRequestFor(pod: PodIdentity, connector: ConnectorKey): AccessRequest {
  return {
    apiVersion: API_VERSION,
    kind: 'AccessRequest',
    metadata: {
      name: accessRequestName(pod, connector),
      namespace: connector.namespace,
      labels: accessRequestLabels(pod, connector),
    },
    spec: {
      subject: { kind: 'ServiceAccount', name: pod.serviceAccount, namespace: pod.namespace },
      connectorRef: { name: connector.name },
      context: { objectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.name, namespace: pod.namespace, uid: pod.uid } },
    },
  };
}

/** Condition types and reasons of an AccessRequest. */
export const AR_CONDITIONS = {
  contextObjectValid: 'ContextObjectValid',
  connectorResolved: 'ConnectorResolved',
  accessPolicyMatched: 'AccessPolicyMatched',
  accessCheckReady: 'AccessCheckReady',
  accessPermissionSync: 'AccessPermissionSync',
  ready: 'Ready',
} as const;

export const AR_REASONS = {
  active: 'Active',
  completed: 'Completed',
  notFound: 'NotFound',
  subjectMismatch: 'SubjectMismatch',
  resolved: 'Resolved',
  matched: 'Matched',
  noMatch: 'NoMatch',
  passed: 'Passed',
  pending: 'Pending',
  rejected: 'Rejected',
  failed: 'Failed',
  synced: 'Synced',
  syncFailed: 'SyncFailed',
  noPermissionRequired: 'NoPermissionRequired',
  cleanUp: 'PermissionCleanUp',
} as const;

/** An AccessRequest whose permission was cleaned up is final: the controller no longer reconciles it. */
export function isFinal(ar: Pick<AccessRequest, 'status'>): boolean {
  const sync = ar.status?.conditions?.find((c) => c.type === AR_CONDITIONS.accessPermissionSync);
  return sync?.status === 'True' && sync.reason === AR_REASONS.cleanUp;
}

/**
 * How long until an ended (final) AccessRequest is deleted: `ttlMs` after its permission was cleaned up (the
 * AccessPermissionSync=PermissionCleanUp transition). 0 or less: now; undefined: never (not final, or an
 * infinite TTL). Without a readable transition time it counts from the request's creation, a fixed point:
 * counting from `now` would put the deletion off at every look.
 */
export function endedRequestTtlLeft(
  ar: Pick<AccessRequest, 'status'> & { metadata?: Pick<AccessRequest['metadata'], 'creationTimestamp'> },
  ttlMs: number,
  now: Date,
): number | undefined {
  if (!isFinal(ar) || !Number.isFinite(ttlMs)) return undefined;
  const sync = ar.status?.conditions?.find((c) => c.type === AR_CONDITIONS.accessPermissionSync);
  const since = [sync?.lastTransitionTime, ar.metadata?.creationTimestamp]
    .map((t) => (t ? Date.parse(String(t)) : NaN))
    .find((t) => !Number.isNaN(t));
  return (since ?? now.getTime()) + ttlMs - now.getTime();
}

/** What an AccessRequest's status means for a mount that lacks the proxy permission. */
export type GateOutcome =
  /** Checks are running or the grant is on its way: kubelet should retry. */
  | { kind: 'pending'; message: string }
  /** A check rejected the request: the mount holds only `.error.json`. */
  | { kind: 'rejected'; message: string }
  /** No AccessPolicy can grant it (no policy with checks covers the Connector). */
  | { kind: 'denied'; message: string }
  /** A configuration error an administrator must fix (a missing template, a Rego error, ...). */
  | { kind: 'failed'; message: string }
  /** The request ended (its Pod or Connector went away): a new one is needed. */
  | { kind: 'ended'; message: string };

const cond = (conditions: Condition[] | undefined, type: string) => conditions?.find((c) => c.type === type);

export function gateOutcome(ar: Pick<AccessRequest, 'status' | 'metadata'>): GateOutcome {
  const conditions = ar.status?.conditions;
  const name = `AccessRequest ${ar.metadata.namespace}/${ar.metadata.name}`;
  if (!conditions?.length) return { kind: 'pending', message: `${name} is waiting for the connectors controller` };
  if (isFinal(ar)) return { kind: 'ended', message: `${name} has ended: ${cond(conditions, 'Ready')?.message ?? ''}` };
  const context = cond(conditions, AR_CONDITIONS.contextObjectValid);
  if (context?.status === 'False') return { kind: 'failed', message: `${name}: ${context.message}` };
  const matched = cond(conditions, AR_CONDITIONS.accessPolicyMatched);
  if (matched?.status === 'False') return { kind: 'denied', message: `${name}: ${matched.message}` };
  const check = cond(conditions, AR_CONDITIONS.accessCheckReady);
  if (check?.status === 'False' && check.reason === AR_REASONS.rejected)
    return { kind: 'rejected', message: check.message ?? 'rejected' };
  if (check?.status === 'False') return { kind: 'failed', message: `${name}: ${check.message}` };
  const sync = cond(conditions, AR_CONDITIONS.accessPermissionSync);
  if (sync?.status === 'False') return { kind: 'failed', message: `${name}: ${sync.message}` };
  if (check?.status === 'True' && sync?.status === 'True')
    return { kind: 'pending', message: `${name} granted access; the permission is not effective yet` };
  const ready = cond(conditions, AR_CONDITIONS.ready);
  return { kind: 'pending', message: `${name}: ${check?.message || ready?.message || 'waiting'}` };
}

/** google.rpc.Code PERMISSION_DENIED. */
export const RPC_PERMISSION_DENIED = 7;

export interface Rejection {
  connector: ConnectorKey;
  accessRequest: ConnectorKey;
  message: string;
}

/**
 * `.error.json`: a google.rpc.Status (code, message, details) whose details hold one google.rpc.ErrorInfo per
 * rejected Connector, so a workload can tell which Connector was refused and by which AccessRequest.
 */
export function errorStatusJson(rejections: Rejection[]): string {
  const message = rejections
    .map((r) => `access to connector "${r.connector.namespace}/${r.connector.name}" was rejected: ${r.message}`)
    .join('; ');
  const status = {
    code: RPC_PERMISSION_DENIED,
    message,
    details: rejections.map((r) => ({
      '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
      reason: 'ACCESS_REQUEST_REJECTED',
      domain: 'connectors.alauda.io',
      metadata: {
        connector: `${r.connector.namespace}/${r.connector.name}`,
        accessRequest: `${r.accessRequest.namespace}/${r.accessRequest.name}`,
        message: r.message,
      },
    })),
  };
  return JSON.stringify(status, null, 2) + '\n';
}
