// Pure: the rules of a role template (a ConfigMap's `data.rules`, a YAML list of rbac/v1 PolicyRules) made
// into the rules of a generated Role.
//   - Resource names may be kubectl JSONPath templates over {object: <the context Pod>} (only an
//     AccessRequest has a context: `connectors/proxy/v1/pod/{.object.metadata.namespace}/{.object.metadata.name}`).
//   - resourceNames are always the Connectors the grant is for (the policy's matched Connectors, or the
//     requested one): a template cannot widen a grant to other Connectors. A Role with no Connector to name
//     is never made (empty resourceNames would mean every Connector).
//   - Only the proxy capability may be granted: apiGroup connectors.alauda.io, resources connectors/proxy and
//     connectors/proxy/... An AccessPolicy governs use of Connectors through the proxy and nothing else, and
//     the controller must not become a way to hand out other permissions.
import { parse as parseYaml } from 'yaml';
import { GROUP } from '../../core/api/keys.ts';
import { isTemplate, renderTemplate } from './jsonpath.ts';

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

export class RoleTemplateError extends Error {
  override name = 'RoleTemplateError';
}

const PROXY = 'connectors/proxy';

/** Parses and checks `data.rules`. */
export function parseRules(text: string | undefined, where: string): PolicyRule[] {
  if (!text?.trim()) throw new RoleTemplateError(`${where} has no data.rules`);
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new RoleTemplateError(`${where} data.rules is not YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (!Array.isArray(doc) || doc.length === 0)
    throw new RoleTemplateError(`${where} data.rules must be a non-empty YAML list of rbac/v1 PolicyRules`);
  return doc.map((r, i) => checkRule(r, `${where} data.rules[${i}]`));
}

function strings(v: unknown, what: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
    throw new RoleTemplateError(`${what} must be a list of strings`);
  return v as string[];
}

function checkRule(r: unknown, where: string): PolicyRule {
  if (!r || typeof r !== 'object' || Array.isArray(r)) throw new RoleTemplateError(`${where} must be a PolicyRule`);
  const o = r as Record<string, unknown>;
  if (o.nonResourceURLs !== undefined) throw new RoleTemplateError(`${where}: nonResourceURLs cannot be granted`);
  const apiGroups = strings(o.apiGroups, `${where}.apiGroups`);
  const resources = strings(o.resources, `${where}.resources`);
  const verbs = strings(o.verbs, `${where}.verbs`);
  if (apiGroups.length !== 1 || apiGroups[0] !== GROUP)
    throw new RoleTemplateError(`${where}: apiGroups must be [${GROUP}] (only the Connectors proxy can be granted)`);
  if (!resources.length) throw new RoleTemplateError(`${where}: resources is empty`);
  for (const res of resources)
    if (res !== PROXY && !res.startsWith(PROXY + '/'))
      throw new RoleTemplateError(
        `${where}: resource ${JSON.stringify(res)} cannot be granted (only ${PROXY} and ${PROXY}/...)`,
      );
  if (!verbs.length) throw new RoleTemplateError(`${where}: verbs is empty`);
  return { apiGroups, resources, verbs };
}

/**
 * The Role's rules: each template rule for the given Connectors, its resource templates evaluated over
 * `context` (undefined when there is no context object).
 */
export function renderRules(rules: PolicyRule[], connectors: string[], context: unknown, where: string): PolicyRule[] {
  if (!connectors.length) throw new RoleTemplateError(`${where}: no Connector to grant`);
  return rules.map((rule, i) => ({
    apiGroups: rule.apiGroups,
    resources: rule.resources.map((res) => {
      if (!isTemplate(res)) return res;
      if (context === undefined)
        throw new RoleTemplateError(
          `${where} rules[${i}]: resource ${JSON.stringify(res)} refers to a context object, which only checkGrantedPermission has`,
        );
      let out: string;
      try {
        out = renderTemplate(res, context);
      } catch (e) {
        throw new RoleTemplateError(`${where} rules[${i}]: resource ${JSON.stringify(res)}: ${(e as Error).message}`);
      }
      if (out !== PROXY && !out.startsWith(PROXY + '/'))
        throw new RoleTemplateError(`${where} rules[${i}]: resource ${JSON.stringify(out)} cannot be granted`);
      return out;
    }),
    verbs: rule.verbs,
    resourceNames: [...connectors].sort(),
  }));
}
