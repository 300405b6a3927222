// Pure admission rules for ResourceInterfaces. Every message names the field, e.g.
// `spec.attributes[0].expression: the expression opened at column 1 does not parse: Unexpected token at column 12`.
import type { ResourceInterface } from '../../core/api/index.ts';
import { RESOURCE_INTERFACE_LABELS } from '../../core/api/keys.ts';
import { ExpressionSyntaxError, paramReferences, parseTemplate } from '../../core/resourceinterface/expression.ts';
import type { ValidationResult } from './connector.ts';

/** Volume sources a workspace value may hold (a Tekton WorkspaceBinding without its name), one of them. */
export const WORKSPACE_SOURCES = [
  'configMap',
  'csi',
  'emptyDir',
  'persistentVolumeClaim',
  'projected',
  'secret',
  'volumeClaimTemplate',
] as const;
const WORKSPACE_EXTRA_KEYS = ['subPath'];
const POSITIVE_INTEGER = /^[1-9][0-9]*$/;

/** JSON-pointer-like field path for keys that are not identifiers: `a.b["c.d"]`. */
const field = (base: string, key: string) =>
  /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${base}.${key}` : `${base}[${JSON.stringify(key)}]`;

/** Checks one string value for `{…}` expressions: syntax, and `params.<name>` against the declared params. */
function checkString(at: string, text: string, declared: Set<string>, errors: string[]): void {
  let segments;
  try {
    segments = parseTemplate(text);
  } catch (err) {
    if (err instanceof ExpressionSyntaxError) {
      errors.push(`${at}: ${err.message}`);
      return;
    }
    throw err;
  }
  for (const name of paramReferences(segments))
    if (!declared.has(name))
      errors.push(
        `${at}: refers to params.${name}, which spec.params does not declare (${declared.size ? `declared: ${[...declared].join(', ')}` : 'it declares none'})`,
      );
}

function checkStringsDeep(at: string, value: unknown, declared: Set<string>, errors: string[]): void {
  if (typeof value === 'string') checkString(at, value, declared, errors);
  else if (Array.isArray(value)) value.forEach((v, i) => checkStringsDeep(`${at}[${i}]`, v, declared, errors));
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) checkStringsDeep(field(at, k), v, declared, errors);
}

function typeOfValue(v: unknown): 'string' | 'array' | 'object' | 'other' {
  if (typeof v === 'string') return 'string';
  if (Array.isArray(v)) return v.every((x) => typeof x === 'string') ? 'array' : 'other';
  if (v && typeof v === 'object') return 'object';
  return 'other';
}

export function validateResourceInterface(
  ri: Pick<ResourceInterface, 'spec'> & { metadata?: ResourceInterface['metadata'] },
): ValidationResult {
  const errors: string[] = [];
  const warnings: string[] = [];
  const labels = ri.metadata?.labels ?? {};
  const spec = ri.spec ?? {};

  for (const key of [RESOURCE_INTERFACE_LABELS.version, RESOURCE_INTERFACE_LABELS.schemaVersion]) {
    const v = labels[key];
    if (v !== undefined && !POSITIVE_INTEGER.test(v))
      errors.push(`metadata.labels["${key}"]: ${JSON.stringify(v)} is not a positive integer (default "1")`);
  }
  if (!labels[RESOURCE_INTERFACE_LABELS.category])
    warnings.push(
      `metadata.labels["${RESOURCE_INTERFACE_LABELS.category}"] is not set: pipelines can select this ResourceInterface only by name, not by category`,
    );

  const params = spec.params ?? [];
  const declared = new Set(params.map((p) => p.name));
  params.forEach((p, i) => {
    const type = p.type ?? 'string';
    if (p.default !== undefined && typeOfValue(p.default) !== type)
      errors.push(
        `spec.params[${i}].default: param "${p.name}" is of type ${type}, but its default is ` +
          `${JSON.stringify(p.default)}${type === 'array' ? ' (an array of strings is expected)' : ''}`,
      );
  });

  (spec.attributes ?? []).forEach((a, i) => {
    const at = `spec.attributes[${i}]`;
    if (a.expression === undefined && a.default === undefined)
      errors.push(`${at}: attribute "${a.name}" has neither expression nor default`);
    if (a.expression !== undefined) {
      checkString(`${at}.expression`, a.expression, declared, errors);
      if (!a.expression.includes('{'))
        warnings.push(
          `${at}.expression: holds no {…} expression, so attribute "${a.name}" is the constant ${JSON.stringify(a.expression)}`,
        );
    }
    (a.dependsOn ?? []).forEach((d, j) => {
      const m = /^params\.(.+)$/.exec(d);
      if (d !== 'connector' && !(m && declared.has(m[1])))
        errors.push(
          `${at}.dependsOn[${j}]: ${JSON.stringify(d)} is neither "connector" nor "params.<name>" of a declared param`,
        );
    });
    if (a.enum?.length && a.default !== undefined && !a.enum.includes(a.default as string))
      errors.push(`${at}.default: ${JSON.stringify(a.default)} is not one of enum ${JSON.stringify(a.enum)}`);
  });

  (spec.workspaces ?? []).forEach((w, i) => {
    const at = `spec.workspaces[${i}]`;
    const value = w.value ?? {};
    const keys = Object.keys(value);
    const sources = keys.filter((k) => (WORKSPACE_SOURCES as readonly string[]).includes(k));
    const unknown = keys.filter((k) => !sources.includes(k) && !WORKSPACE_EXTRA_KEYS.includes(k));
    if (unknown.length)
      errors.push(
        `${at}.value: unknown field(s) ${unknown.join(', ')}; a workspace value is one of ${WORKSPACE_SOURCES.join(', ')} (and subPath)`,
      );
    if (sources.length !== 1)
      errors.push(
        `${at}.value: must hold exactly one of ${WORKSPACE_SOURCES.join(', ')}; ${sources.length ? `found ${sources.join(', ')}` : 'found none'}`,
      );
    checkStringsDeep(`${at}.value`, value, declared, errors);
    const csi = value.csi as { driver?: string; volumeAttributes?: Record<string, string> } | undefined;
    if (csi?.driver === 'connectors-csi') {
      const attrs = csi.volumeAttributes ?? {};
      if (!attrs.connectors && !attrs['connector.name'])
        errors.push(`${at}.value.csi.volumeAttributes: a connectors-csi volume needs "connectors" or "connector.name"`);
    }
  });
  return { errors, warnings };
}
