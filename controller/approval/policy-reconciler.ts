// AccessPolicy: which Connectors of its namespace it covers (`status.matchedConnectors`), and its
// `defaultPermission` as one Role + RoleBinding in the policy's namespace, named connectors-ap-<policy>,
// owned by the policy: the template's rules for the matched Connectors (resourceNames), bound to the
// ServiceAccounts of the binding template. Conditions: ConnectorsMatched, PermissionSync, Ready.
//
// When nothing is to be granted (no defaultPermission, no Connector matched, no ServiceAccount selected) the
// Role and RoleBinding are removed. When the grant cannot be computed (its template ConfigMap is missing or
// invalid) the existing Role and RoleBinding are left as they are and PermissionSync says why: a template
// deleted by mistake must not cut off every workload at once.
import type { AccessPolicy } from '../../core/api/index.ts';
import { API_VERSION } from '../../core/api/keys.ts';
import { APPROVAL_LABELS, boundedName, labelValue } from '../../core/approval/names.ts';
import { F, T, type CondInput } from '../conditions.ts';
import { AP_CONDITIONS, AP_REASONS, matchedCondition, policyConditions } from './conditions.ts';
import { templateData, type ApprovalCtx } from './context.ts';
import { RbacConflictError } from './rbac.ts';
import { parseRules, renderRules, RoleTemplateError } from './rules.ts';
import { selectNames } from './selectors.ts';
import { nextStatus, writeStatus } from './status.ts';
import { expandSubjects } from './subjects.ts';

export const policyGrantName = (policy: string) => boundedName(['connectors-ap', policy]);

export async function reconcilePolicy(ctx: ApprovalCtx, key: string): Promise<void> {
  const [namespace, name] = key.split('/');
  const ap = ctx.policies.get(name, namespace);
  if (!ap) return; // its Role and RoleBinding go with it (owner references)
  const connectors = selectNames(ap.spec.connector, ctx.connectors.list(namespace));
  const matched = matchedCondition(namespace, connectors);
  const permission = await syncDefaultPermission(ctx, ap, connectors);
  const { status, changed } = nextStatus(
    ap,
    policyConditions(matched, permission),
    { matchedConnectors: connectors.map((n) => ({ name: n })) },
    ctx.now(),
  );
  if (changed) await writeStatus(ctx.rest, 'AccessPolicy', ap, status, ctx.policies);
}

async function syncDefaultPermission(ctx: ApprovalCtx, ap: AccessPolicy, connectors: string[]): Promise<CondInput> {
  const namespace = ap.metadata.namespace!;
  const name = ap.metadata.name!;
  const grant = policyGrantName(name);
  const involved = { apiVersion: API_VERSION, kind: 'AccessPolicy', name, namespace, uid: ap.metadata.uid };
  const nothing = async (why: string) => {
    if (await ctx.rbac.remove(namespace, grant, { ifCached: true }))
      ctx.recorder.event(involved, 'Normal', 'PermissionRevoked', `Role and RoleBinding ${grant} deleted: ${why}`);
    return T(AP_CONDITIONS.permissionSync, AP_REASONS.noPermissionRequired, why);
  };
  const dp = ap.spec.defaultPermission;
  if (!dp) return nothing('the policy has no defaultPermission');
  if (!connectors.length) return nothing('no Connector matched: nothing to grant');
  const templateName = dp.roleTemplate.ref.configMap.name;
  const data = templateData(ctx, templateName);
  if (!data)
    return F(
      AP_CONDITIONS.permissionSync,
      AP_REASONS.roleTemplateNotFound,
      `role template ConfigMap "${templateName}" not found in namespace ${ctx.systemNamespace}`,
    );
  let rules;
  try {
    rules = renderRules(
      parseRules(data.rules, `role template ConfigMap "${templateName}"`),
      connectors,
      undefined,
      `role template ConfigMap "${templateName}"`,
    );
  } catch (err) {
    if (err instanceof RoleTemplateError)
      return F(AP_CONDITIONS.permissionSync, AP_REASONS.invalidRoleTemplate, err.message);
    throw err;
  }
  const subjects = expandSubjects(dp.bindingTemplate, ctx.namespaces.list());
  if (!subjects.length) return nothing('the binding template selects no ServiceAccount');
  let result;
  try {
    result = await ctx.rbac.ensure({
      namespace,
      name: grant,
      owner: { apiVersion: API_VERSION, kind: 'AccessPolicy', name, uid: ap.metadata.uid! },
      labels: { [APPROVAL_LABELS.accessPolicy]: labelValue(name) },
      rules,
      subjects,
    });
  } catch (err) {
    if (err instanceof RbacConflictError) return F(AP_CONDITIONS.permissionSync, AP_REASONS.syncFailed, err.message);
    throw err;
  }
  const summary =
    `Role and RoleBinding ${grant} grant ${rules.flatMap((r) => r.resources).join(', ')} on ` +
    `${connectors.join(', ')} to ${subjects.length} subject(s)`;
  if (result !== 'unchanged') ctx.recorder.event(involved, 'Normal', 'PermissionSynced', `${summary} (${result})`);
  return T(AP_CONDITIONS.permissionSync, AP_REASONS.synced, summary);
}
