// AccessRequest: one Pod's request to use one Connector through the proxy.
//   1. ContextObjectValid — the Pod exists (same uid), has not completed, runs as the subject;
//   2. ConnectorResolved — the Connector exists in the request's namespace;
//   3. AccessPolicyMatched — the AccessPolicies of that namespace with checkGrantedPermission that cover the
//      Connector; their specs are snapshotted into status.policies on first match, so later policy changes do
//      not affect the request;
//   4. AccessCheckReady — every check of every matched policy: its resources (found by the check's selector
//      in the Pod's namespace) recorded in status.policies[].matchedChecks with their verdicts;
//   5. AccessPermissionSync — once all checks pass: a Role + RoleBinding connectors-ar-<request> in the
//      request's namespace, owned by it (label connectors.alauda.io/accessRequest), granting the roleTemplate
//      rules (the pod-bound connectors/proxy/v1/pod/<ns>/<pod>) on this Connector to the Pod's ServiceAccount.
//   6. When the Pod completes or goes away, or the Connector does: the Role and RoleBinding are deleted,
//      AccessPermissionSync=True/PermissionCleanUp, and the request is final: its status never changes again.
//   7. A final request is deleted once it has been final for the request TTL (default 1 h), as Kubernetes'
//      CSR cleaner deletes approved and denied CertificateSigningRequests: a record of a Pod that is gone,
//      created for every Pod and Connector, would otherwise pile up in etcd without end.
// A passed verdict is kept: deleting a check resource that already passed does not revoke access.
import type { AccessPolicySpec, AccessRequest, Condition, Connector } from '../../core/api/index.ts';
import { API_VERSION } from '../../core/api/keys.ts';
import { APPROVAL_LABELS, boundedName, labelValue } from '../../core/approval/names.ts';
import { AR_CONDITIONS as C, AR_REASONS as R, endedRequestTtlLeft, isFinal } from '../../core/approval/request.ts';
import { collectionPath } from '../../core/kube/resources.ts';
import { KubeApiError } from '../../core/kube/rest.ts';
import type { ReconcileResult } from '../../core/kube/controller.ts';
import { F, T, U, type CondInput } from '../conditions.ts';
import {
  CheckConfigError,
  defaultState,
  evaluateSelector,
  regoState,
  resolveCheck,
  verdictOf,
  type CheckVerdict,
} from './checks.ts';
import { checksCondition, contextCondition, requestConditions, type CheckOutcome } from './conditions.ts';
import { templateData, type ApprovalCtx } from './context.ts';
import { RbacConflictError } from './rbac.ts';
import { evaluateStateRego } from './rego.ts';
import { parseRules, renderRules, RoleTemplateError, type PolicyRule } from './rules.ts';
import { describeSelector, matchesLabels, selects } from './selectors.ts';
import { nextStatus, writeStatus } from './status.ts';
import { rbacSubject } from './subjects.ts';
import { CheckKindError, type PodObject } from './watched.ts';

export const requestGrantName = (request: string) => boundedName(['connectors-ar', request]);

/** A check that waits on something the caches will not announce (API discovery) is looked at again after this. */
const RECHECK_MS = 10_000;

type PolicyStatus = NonNullable<NonNullable<AccessRequest['status']>['policies']>[number];
type MatchedCheck = NonNullable<PolicyStatus['matchedChecks']>[number];

const carry = (c: Condition | undefined): CondInput | undefined =>
  c && { type: c.type, status: c.status, reason: c.reason ?? '', message: c.message ?? '' };

const rfc3339 = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export async function reconcileRequest(ctx: ApprovalCtx, key: string): Promise<ReconcileResult | void> {
  const [namespace, name] = key.split('/');
  const ar = ctx.requests.get(name, namespace);
  if (!ar) return;
  if (isFinal(ar)) return collectEnded(ctx, ar);
  const ref = ar.spec.context.objectRef;
  const podNs = ref.namespace || namespace;
  const pod = await ctx.pods.get(podNs, ref.name);
  const connectorName = ar.spec.connectorRef.name;
  const connector =
    ctx.connectors.get(connectorName, namespace) ??
    (await ctx.rest.getIfExists<Connector>(
      `${collectionPath('Connector', namespace)}/${encodeURIComponent(connectorName)}`,
    ));
  const grant = requestGrantName(name);
  const involved = { apiVersion: API_VERSION, kind: 'AccessRequest', name, namespace, uid: ar.metadata.uid };
  const prev = (type: string) => ar.status?.conditions?.find((c) => c.type === type);
  const write = async (parts: Parameters<typeof requestConditions>[0], policies?: PolicyStatus[]) => {
    const { status, changed } = nextStatus(ar, requestConditions(parts), policies ? { policies } : {}, ctx.now());
    if (changed) await writeStatus(ctx.rest, 'AccessRequest', ar, status, ctx.requests);
  };

  const context = contextCondition(ar, pod);
  const connectorCond = connector
    ? T(C.connectorResolved, R.resolved, `connector "${connectorName}" found`)
    : F(C.connectorResolved, R.notFound, `connector "${namespace}/${connectorName}" not found`);

  // 6. The Pod or the Connector is gone: revoke, and the request ends here.
  if (context.status === 'False' || !connector) {
    const why = context.status === 'False' ? context.message! : connectorCond.message!;
    const removed = await ctx.rbac.remove(namespace, grant);
    if (removed)
      ctx.recorder.event(involved, 'Normal', 'PermissionRevoked', `Role and RoleBinding ${grant} deleted: ${why}`);
    await write({
      context,
      connector: connectorCond,
      matched: carry(prev(C.accessPolicyMatched)) ?? U(C.accessPolicyMatched, R.pending, 'not evaluated'),
      checks: carry(prev(C.accessCheckReady)) ?? U(C.accessCheckReady, R.pending, 'not evaluated'),
      permission: T(
        C.accessPermissionSync,
        R.cleanUp,
        removed ? `Role and RoleBinding ${grant} deleted: ${why}` : `nothing is granted any more: ${why}`,
      ),
    });
    return;
  }

  // 3. The matched policies, snapshotted once.
  let policies: PolicyStatus[] = ar.status?.policies ?? [];
  if (!policies.length)
    policies = ctx.policies
      .list(namespace)
      .filter(
        (p) => p.spec.checkGrantedPermission && selects(p.spec.connector, connectorName, connector.metadata.labels),
      )
      .sort((a, b) => (a.metadata.name! < b.metadata.name! ? -1 : 1))
      .map((p) => ({ name: p.metadata.name!, policySpec: structuredClone(p.spec) }));
  if (!policies.length) {
    await ctx.rbac.remove(namespace, grant, { ifCached: true });
    const why = `no AccessPolicy with checkGrantedPermission in namespace ${namespace} covers connector "${connectorName}"`;
    await write({
      context,
      connector: connectorCond,
      matched: F(C.accessPolicyMatched, R.noMatch, why),
      checks: U(C.accessCheckReady, R.pending, 'no AccessPolicy matched'),
      permission: U(C.accessPermissionSync, R.pending, 'no AccessPolicy matched'),
    });
    return;
  }
  const matched = T(C.accessPolicyMatched, R.matched, `AccessPolicy ${policies.map((p) => p.name).join(', ')}`);

  // 4. The checks (a passed verdict is kept).
  let checks = carry(prev(C.accessCheckReady));
  let requeueAfterMs: number | undefined;
  if (checks?.status !== 'True') {
    const outcomes: CheckOutcome[] = [];
    const evaluated: PolicyStatus[] = [];
    for (const p of policies) {
      const matchedChecks: MatchedCheck[] = [];
      for (const check of p.policySpec.checkGrantedPermission?.spec.checks ?? []) {
        const r = await evaluateCheck(ctx, p, check, pod!, podNs);
        if (r.recheck) requeueAfterMs = RECHECK_MS;
        for (const v of r.verdicts) outcomes.push({ policy: p.name, check: check.name, verdict: v });
        matchedChecks.push(...r.matched);
      }
      evaluated.push({ ...p, matchedChecks: keepTransitionTimes(p.matchedChecks, matchedChecks, ctx.now()) });
    }
    policies = evaluated;
    checks = checksCondition(outcomes);
  }

  // 5. The permission.
  let permission: CondInput;
  if (checks.status === 'True') {
    permission = await grantRequest(ctx, ar, connectorName, policies, pod!, podNs, grant, involved);
  } else if (checks.reason === R.rejected) {
    await ctx.rbac.remove(namespace, grant, { ifCached: true });
    permission = T(C.accessPermissionSync, R.noPermissionRequired, 'the request was rejected: nothing is granted');
    if (prev(C.accessCheckReady)?.reason !== R.rejected)
      ctx.recorder.event(involved, 'Warning', 'AccessRejected', checks.message ?? 'rejected');
  } else {
    permission = U(C.accessPermissionSync, R.pending, 'waiting for the checks to pass');
  }
  const now = ctx.now();
  policies = policies.map((p) => ({
    ...p,
    permissionSync: conditionOf('PermissionSync', permission, p.permissionSync, now),
  }));
  await write({ context, connector: connectorCond, matched, checks, permission }, policies);
  return requeueAfterMs === undefined ? undefined : { requeueAfterMs };
}

/** 7. An ended request: deleted once its TTL has passed, else looked at again then. */
async function collectEnded(ctx: ApprovalCtx, ar: AccessRequest): Promise<ReconcileResult | void> {
  const left = endedRequestTtlLeft(ar, ctx.requestTtlMs, ctx.now());
  if (left === undefined) return;
  if (left > 0) return { requeueAfterMs: left };
  const { namespace, name, uid } = ar.metadata;
  try {
    // Preconditioned on the uid: a new request of the same name (a new Pod) is never the one deleted.
    await ctx.rest.call('DELETE', `${collectionPath('AccessRequest', namespace)}/${encodeURIComponent(name!)}`, {
      body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { uid } },
    });
  } catch (err) {
    if (err instanceof KubeApiError && (err.statusCode === 404 || err.statusCode === 409)) return;
    throw err;
  }
  ctx.log.info('ended AccessRequest deleted', { accessRequest: `${namespace}/${name}`, ttlMs: ctx.requestTtlMs });
}

/** The Role + RoleBinding of a request whose checks passed. */
async function grantRequest(
  ctx: ApprovalCtx,
  ar: AccessRequest,
  connectorName: string,
  policies: PolicyStatus[],
  pod: PodObject,
  podNs: string,
  grant: string,
  involved: { apiVersion: string; kind: string; name: string; namespace: string; uid?: string },
): Promise<CondInput> {
  const namespace = ar.metadata.namespace!;
  const subject = rbacSubject({ ...ar.spec.subject, namespace: ar.spec.subject.namespace || podNs });
  try {
    const rules: PolicyRule[] = [];
    for (const p of policies) {
      const templateName = p.policySpec.checkGrantedPermission!.spec.roleTemplate.ref.configMap.name;
      const where = `role template ConfigMap "${templateName}" (AccessPolicy ${p.name})`;
      const data = templateData(ctx, templateName);
      if (!data) throw new RoleTemplateError(`${where} not found in namespace ${ctx.systemNamespace}`);
      rules.push(...renderRules(parseRules(data.rules, where), [connectorName], { object: pod }, where));
    }
    const result = await ctx.rbac.ensure({
      namespace,
      name: grant,
      owner: { apiVersion: API_VERSION, kind: 'AccessRequest', name: ar.metadata.name!, uid: ar.metadata.uid! },
      labels: { [APPROVAL_LABELS.accessRequest]: labelValue(ar.metadata.name!) },
      rules,
      subjects: [subject],
    });
    const resources = [...new Set(rules.flatMap((r) => r.resources))].join(', ');
    const who = `${subject.namespace ? subject.namespace + '/' : ''}${subject.name}`;
    const summary = `Role and RoleBinding ${grant} grant ${resources} on connector "${connectorName}" to ${subject.kind} "${who}"`;
    if (result === 'created') ctx.recorder.event(involved, 'Normal', 'PermissionGranted', summary);
    return T(C.accessPermissionSync, R.synced, summary);
  } catch (err) {
    if (err instanceof RoleTemplateError || err instanceof RbacConflictError)
      return F(C.accessPermissionSync, R.syncFailed, err.message);
    throw err;
  }
}

interface CheckResult {
  verdicts: CheckVerdict[];
  matched: MatchedCheck[];
  /** Waiting on API discovery or a first list: look again later. */
  recheck?: boolean;
}

async function evaluateCheck(
  ctx: ApprovalCtx,
  policy: PolicyStatus,
  check: NonNullable<AccessPolicySpec['checkGrantedPermission']>['spec']['checks'][number],
  pod: PodObject,
  podNs: string,
): Promise<CheckResult> {
  const failed = (message: string, recheck = false): CheckResult => ({
    verdicts: [{ status: 'False', reason: 'Failed', message }],
    matched: [],
    recheck,
  });
  try {
    const spec = resolveCheck(check, (n) => templateData(ctx, n), `AccessPolicy ${policy.name}`);
    const selector = evaluateSelector(spec, { object: pod }, `check ${check.name}`);
    const { apiVersion, kind } = spec.selector.objectRef;
    const all = await ctx.checkObjects.list(apiVersion, kind, podNs);
    if (!all)
      return {
        verdicts: [{ status: 'Unknown', reason: 'Pending', message: `listing the ${kind} resources of the cluster` }],
        matched: [],
        recheck: true,
      };
    const found = all
      .filter((o) => matchesLabels(o.metadata.labels, selector))
      .sort((a, b) => (a.metadata.name! < b.metadata.name! ? -1 : 1));
    if (!found.length)
      return {
        verdicts: [
          {
            status: 'Unknown',
            reason: 'Pending',
            message: `waiting for ${/^[AEIOU]/.test(kind) ? 'an' : 'a'} ${kind} with labels ${describeSelector(selector)} in namespace ${podNs}`,
          },
        ],
        matched: [],
      };
    const result: CheckResult = { verdicts: [], matched: [] };
    for (const o of found) {
      const what = `${kind} ${podNs}/${o.metadata.name}`;
      let verdict: CheckVerdict;
      try {
        const state = spec.state?.rego ? regoState(await evaluateStateRego(spec.state.rego, o)) : defaultState(o);
        verdict = verdictOf(state.state, state.message, what);
      } catch (err) {
        if (!(err instanceof CheckConfigError)) throw err;
        verdict = { status: 'False', reason: 'Failed', message: `${what}: ${err.message}` };
      }
      result.verdicts.push(verdict);
      result.matched.push({
        name: check.name,
        ref: { apiVersion, kind, name: o.metadata.name, namespace: podNs, uid: o.metadata.uid },
        condition: { type: 'Passed', status: verdict.status, reason: verdict.reason, message: verdict.message },
      });
    }
    return result;
  } catch (err) {
    if (err instanceof CheckConfigError) return failed(`${err.message}`);
    if (err instanceof CheckKindError) return failed(`check ${check.name}: ${err.message}`, true);
    throw err;
  }
}

/** Conditions of matched checks keep their lastTransitionTime while their status does not change. */
function keepTransitionTimes(prev: MatchedCheck[] | undefined, next: MatchedCheck[], now: Date): MatchedCheck[] {
  return next.map((m) => {
    const p = prev?.find((x) => x.name === m.name && x.ref.uid === m.ref.uid);
    return {
      ...m,
      condition: {
        ...m.condition,
        lastTransitionTime:
          p && p.condition.status === m.condition.status && p.condition.lastTransitionTime
            ? p.condition.lastTransitionTime
            : rfc3339(now),
      },
    };
  });
}

function conditionOf(type: string, c: CondInput, prev: Condition | undefined, now: Date): Condition {
  return {
    type,
    status: c.status,
    reason: c.reason ?? '',
    message: c.message ?? '',
    lastTransitionTime:
      prev && prev.status === c.status && prev.lastTransitionTime ? prev.lastTransitionTime : rfc3339(now),
  };
}
