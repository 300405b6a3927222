// Pure parts of AccessPolicy checks: where a check's spec comes from (a template ConfigMap of the system
// namespace, `data.spec`, or inline), its label selector evaluated over {object: <the context Pod>}, and the
// verdict a check resource's state gives.
//
// State: `status.state` of the check resource (the "check duck type": approved | rejected | pending |
// passed), or the output `status = {"state": ..., "message": ...}` of the check's Rego (package approval),
// whose input is the whole check resource.
import { parse as parseYaml } from 'yaml';
import type { Check, CheckSpec } from '../../core/api/index.ts';
import { isTemplate, renderTemplate } from './jsonpath.ts';
import type { LabelRequirement, LabelSelector } from './selectors.ts';

export class CheckConfigError extends Error {
  override name = 'CheckConfigError';
}

export const STATE_ENTRYPOINT = 'approval/status';
export const STATE_FILE = 'state.rego';

/** A check template's `data.spec` (YAML of a check spec). The design's `selector.labels` is read as matchLabels. */
export function parseCheckTemplate(text: string | undefined, where: string): CheckSpec {
  if (!text?.trim()) throw new CheckConfigError(`${where} has no data.spec`);
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new CheckConfigError(`${where} data.spec is not YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  return checkSpecOf(doc, `${where} data.spec`);
}

function checkSpecOf(doc: unknown, where: string): CheckSpec {
  if (!isObject(doc) || Array.isArray(doc)) throw new CheckConfigError(`${where} must be an object`);
  const sel = doc.selector;
  if (!isObject(sel)) throw new CheckConfigError(`${where}: selector is required`);
  const ref = sel.objectRef;
  if (
    !isObject(ref) ||
    typeof ref.apiVersion !== 'string' ||
    !ref.apiVersion ||
    typeof ref.kind !== 'string' ||
    !ref.kind
  )
    throw new CheckConfigError(`${where}: selector.objectRef needs apiVersion and kind`);
  const matchLabels = sel.matchLabels ?? sel.labels;
  if (matchLabels !== undefined && (typeof matchLabels !== 'object' || Array.isArray(matchLabels)))
    throw new CheckConfigError(`${where}: selector.matchLabels must be a map`);
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(matchLabels ?? {})) {
    if (typeof v !== 'string') throw new CheckConfigError(`${where}: selector.matchLabels.${k} must be a string`);
    labels[k] = v;
  }
  if (sel.matchExpressions !== undefined && !Array.isArray(sel.matchExpressions))
    throw new CheckConfigError(`${where}: selector.matchExpressions must be a list`);
  // Requirements are taken as written: an unknown operator selects nothing (selectors.ts).
  const matchExpressions = sel.matchExpressions as CheckSpec['selector']['matchExpressions'];
  const rego = isObject(doc.state) ? doc.state.rego : undefined;
  if (rego !== undefined && rego !== null && typeof rego !== 'string')
    throw new CheckConfigError(`${where}: state.rego must be a string`);
  return {
    selector: {
      objectRef: { apiVersion: ref.apiVersion, kind: ref.kind },
      ...(matchLabels ? { matchLabels: labels } : {}),
      ...(matchExpressions ? { matchExpressions } : {}),
    },
    ...(rego ? { state: { rego } } : {}),
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

/** The spec of a check: inline, or from its template ConfigMap (looked up by name in the system namespace). */
export function resolveCheck(
  check: Check,
  templateData: (name: string) => Record<string, string> | undefined,
  where: string,
): CheckSpec {
  if (check.spec) return checkSpecOf(check.spec, `${where} check "${check.name}"`);
  const name = check.ref?.configMap?.name;
  if (!name) throw new CheckConfigError(`${where} check "${check.name}" has neither ref nor spec`);
  const data = templateData(name);
  if (!data) throw new CheckConfigError(`check template ConfigMap "${name}" (check "${check.name}") not found`);
  return parseCheckTemplate(data.spec, `check template ConfigMap "${name}"`);
}

/** The check's label selector with its template values evaluated over {object: <pod>}. */
export function evaluateSelector(spec: CheckSpec, context: unknown, where: string): LabelSelector {
  const value = (v: string, what: string) => {
    if (!isTemplate(v)) return v;
    try {
      return renderTemplate(v, context);
    } catch (e) {
      throw new CheckConfigError(`${where}: ${what} ${JSON.stringify(v)}: ${(e as Error).message}`);
    }
  };
  const matchLabels: Record<string, string> = {};
  for (const [k, v] of Object.entries(spec.selector.matchLabels ?? {})) matchLabels[k] = value(v, `label ${k}`);
  const matchExpressions: LabelRequirement[] = (spec.selector.matchExpressions ?? []).map((r) => ({
    key: r.key,
    operator: r.operator,
    values: (r.values ?? []).map((v) => value(v, `label ${r.key}`)),
  }));
  return { matchLabels, matchExpressions };
}

export type CheckReason = 'Approved' | 'Passed' | 'Rejected' | 'Pending' | 'Failed';

export interface CheckVerdict {
  status: 'True' | 'False' | 'Unknown';
  reason: CheckReason;
  message: string;
}

/**
 * The verdict of a state: approved/passed pass, rejected rejects, pending (or none yet) waits; anything else
 * is an error of the check resource or its Rego.
 */
export function verdictOf(state: unknown, detail: string | undefined, what: string): CheckVerdict {
  const more = detail ? `: ${detail}` : '';
  switch (state) {
    case 'approved':
      return { status: 'True', reason: 'Approved', message: `${what} is approved${more}` };
    case 'passed':
      return { status: 'True', reason: 'Passed', message: `${what} passed${more}` };
    case 'rejected':
      return { status: 'False', reason: 'Rejected', message: `${what} is rejected${more}` };
    case 'pending':
    case undefined:
    case null:
    case '':
      return { status: 'Unknown', reason: 'Pending', message: `waiting for ${what} to be approved` };
    default:
      return {
        status: 'False',
        reason: 'Failed',
        message: `${what} has state ${JSON.stringify(state)}; expected approved, rejected, pending or passed`,
      };
  }
}

/** `status.state` and `status.message` of a check resource (the default when a check has no Rego). */
export function defaultState(obj: { status?: unknown }): { state: unknown; message?: string } {
  const status = (obj.status ?? {}) as Record<string, unknown>;
  return { state: status.state, message: typeof status.message === 'string' ? status.message : undefined };
}

/** The Rego result `status = {"state": ..., "message": ...}`; undefined (no decision yet) waits. */
export function regoState(result: unknown): { state: unknown; message?: string } {
  if (result === undefined) return { state: undefined };
  if (!result || typeof result !== 'object' || Array.isArray(result))
    return { state: `(${STATE_FILE} produced ${JSON.stringify(result)}, not an object)` };
  const r = result as Record<string, unknown>;
  return { state: r.state, message: typeof r.message === 'string' ? r.message : undefined };
}
