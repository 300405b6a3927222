// Pure condition decisions of AccessPolicy and AccessRequest.
import type { AccessRequest } from '../../core/api/index.ts';
import { AR_CONDITIONS as C, AR_REASONS as R } from '../../core/approval/request.ts';
import { aggregateReady, F, T, U, type CondInput } from '../conditions.ts';
import type { CheckVerdict } from './checks.ts';

type Pod = {
  metadata?: { uid?: string; deletionTimestamp?: string | Date };
  spec?: { serviceAccountName?: string };
  status?: { phase?: string };
};

/** ContextObjectValid: the Pod exists (same uid), is not finished or going away, and runs as the subject. */
export function contextCondition(ar: Pick<AccessRequest, 'spec' | 'metadata'>, pod: Pod | undefined): CondInput {
  const ref = ar.spec.context.objectRef;
  const podNs = ref.namespace || ar.metadata.namespace!;
  const shown = `pod "${podNs}/${ref.name}"`;
  if (!pod) return F(C.contextObjectValid, R.notFound, `${shown} not found`);
  if (ref.uid && pod.metadata?.uid && ref.uid !== pod.metadata.uid)
    return F(C.contextObjectValid, R.notFound, `${shown} was replaced (uid ${pod.metadata.uid}, requested ${ref.uid})`);
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed')
    return F(C.contextObjectValid, R.completed, `${shown} has completed (phase ${phase})`);
  if (pod.metadata?.deletionTimestamp) return F(C.contextObjectValid, R.completed, `${shown} is being deleted`);
  const s = ar.spec.subject;
  const sa = pod.spec?.serviceAccountName || 'default';
  if (s.kind !== 'ServiceAccount' || (s.namespace || podNs) !== podNs || s.name !== sa)
    return F(
      C.contextObjectValid,
      R.subjectMismatch,
      `${shown} runs as serviceaccount "${podNs}/${sa}", not as the subject ${s.kind} ` +
        `"${s.namespace ? s.namespace + '/' : ''}${s.name}"; access is granted only to the Pod's ` +
        `ServiceAccount`,
    );
  return T(C.contextObjectValid, R.active, `${shown} is ${phase ?? 'Pending'}`);
}

export interface CheckOutcome {
  policy: string;
  check: string;
  verdict: CheckVerdict;
}

/** AccessCheckReady over every check of every matched policy: rejected > failed > pending > passed. */
export function checksCondition(outcomes: CheckOutcome[]): CondInput {
  const by = (reason: string) => outcomes.filter((o) => o.verdict.reason === reason);
  const describe = (os: CheckOutcome[]) =>
    os.map((o) => `${o.verdict.message} (check ${o.check} of AccessPolicy ${o.policy})`).join('; ');
  const rejected = by('Rejected');
  if (rejected.length) return F(C.accessCheckReady, R.rejected, describe(rejected));
  const failed = by('Failed');
  if (failed.length) return F(C.accessCheckReady, R.failed, describe(failed));
  const pending = outcomes.filter((o) => o.verdict.status === 'Unknown');
  if (pending.length) return U(C.accessCheckReady, R.pending, describe(pending));
  if (!outcomes.length) return U(C.accessCheckReady, R.pending, 'no checks to run');
  return T(C.accessCheckReady, R.passed, `${outcomes.length} check(s) passed`);
}

/** The AccessRequest's conditions in order, with Ready (the first non-True one's reason and message). */
export function requestConditions(parts: {
  context: CondInput;
  connector: CondInput;
  matched: CondInput;
  checks: CondInput;
  permission: CondInput;
}): CondInput[] {
  const subs = [parts.context, parts.connector, parts.matched, parts.checks, parts.permission];
  return [...subs, aggregateReady(subs, C.ready)];
}

export const AP_CONDITIONS = {
  connectorsMatched: 'ConnectorsMatched',
  permissionSync: 'PermissionSync',
  ready: 'Ready',
} as const;

export const AP_REASONS = {
  matched: 'Matched',
  synced: 'Synced',
  noPermissionRequired: 'NoPermissionRequired',
  roleTemplateNotFound: 'RoleTemplateNotFound',
  invalidRoleTemplate: 'InvalidRoleTemplate',
  syncFailed: 'SyncFailed',
} as const;

export function matchedCondition(namespace: string, matched: string[]): CondInput {
  return T(
    AP_CONDITIONS.connectorsMatched,
    AP_REASONS.matched,
    matched.length
      ? `${matched.length} Connector(s) matched: ${matched.slice(0, 20).join(', ')}${matched.length > 20 ? ', ...' : ''}`
      : `no Connector in namespace ${namespace} matches spec.connector`,
  );
}

export function policyConditions(matched: CondInput, permission: CondInput): CondInput[] {
  return [matched, permission, aggregateReady([matched, permission], AP_CONDITIONS.ready)];
}
