// Pure admission rules for Connectors: spec.address and the address extensions are http(s) URLs; the Secret
// reference stays in the Connector's namespace (refused before any lookup); against the class, declared
// extensions and params, the auth type, the Secret's type (the class's or a documented equivalent) and keys.
// Every message names the field: `spec.addressExtensions[1].name: ...`.
import type { Connector, ConnectorClass } from '../../core/api/index.ts';
import {
  authProbeOf,
  authTypeOf,
  missingAuthProbeParams,
  parseAddress,
  secretProblem,
  secretRefOf,
} from '../../core/connector/index.ts';

export interface ValidationResult {
  errors: string[];
  warnings: string[];
}

/** What the webhook knows of the referenced Secret: undefined = not found (the controller reports SecretNotFound). */
export interface SecretInfo {
  type?: string;
  keys: string[];
}

const names = (list: Array<{ name: string }> | undefined) => (list ?? []).map((p) => p.name);
const declared = (list: string[]) => (list.length ? `declared: ${list.join(', ')}` : 'it declares none');

const sameAddress = (a: string, b: string) =>
  a.trim().replace(/\/+$/, '').toLowerCase() === b.trim().replace(/\/+$/, '').toLowerCase();

/**
 * `secret` is what the handler read of the referenced Secret: only ever one of the Connector's own namespace
 * (undefined: not found, or not looked up).
 */
export function validateConnector(
  connector: Pick<Connector, 'spec'> & { metadata?: { namespace?: string } },
  cls: ConnectorClass | undefined,
  secret?: SecretInfo,
): ValidationResult {
  const errors: string[] = [];
  const warnings: string[] = [];
  const spec = connector.spec ?? ({} as Connector['spec']);
  const className = spec.connectorClassName;

  // spec.address, whatever the class: the CRD pattern lets through what no URL parser reads (http://[x).
  if (typeof spec.address === 'string') {
    const address = parseAddress(spec.address);
    if (!address.ok) errors.push(`spec.address: ${address.error}`);
  }

  // The Secret stays in the Connector's namespace, whatever the class.
  const secretRef = secretRefOf({ metadata: connector.metadata ?? {}, spec });
  if (secretRef.state === 'foreign') errors.push(secretRef.message);

  // addressExtensions: shape rules hold whatever the class.
  const exts = spec.addressExtensions ?? [];
  const seen = new Map<string, number>();
  exts.forEach((e, i) => {
    const at = `spec.addressExtensions[${i}]`;
    const prev = seen.get(e.name);
    if (prev !== undefined)
      errors.push(`${at}.name: duplicate extension "${e.name}" (also at spec.addressExtensions[${prev}])`);
    else seen.set(e.name, i);
    const value = e.value ?? '';
    const parsed = parseAddress(value);
    if (!parsed.ok) errors.push(`${at}.value: ${parsed.error}`);
    else if (spec.address && sameAddress(value, spec.address))
      errors.push(`${at}.value: must differ from spec.address (${spec.address})`);
  });

  if (!cls) {
    warnings.push(
      `ConnectorClass "${className}" not found: spec.auth, spec.params and spec.addressExtensions names ` +
        `were not checked; the controller reports ConnectorClassReady=False/ConnectorClassNotFound`,
    );
    return { errors, warnings };
  }
  const c = cls.spec ?? {};

  // addressExtensions against the class.
  const declaredExts = names(c.addressExtensions);
  exts.forEach((e, i) => {
    if (!declaredExts.includes(e.name))
      errors.push(
        `spec.addressExtensions[${i}].name: "${e.name}" is not declared by ConnectorClass "${className}" (${declared(declaredExts)})`,
      );
  });
  for (const d of c.addressExtensions ?? []) {
    if (d.default === undefined && !seen.has(d.name))
      errors.push(
        `spec.addressExtensions: required extension "${d.name}" is missing (ConnectorClass "${className}" declares it without a default)`,
      );
  }

  // params: declared ones only, required ones present.
  const declaredParams = names(c.params);
  const given = new Set<string>();
  (spec.params ?? []).forEach((p, i) => {
    given.add(p.name);
    if (!declaredParams.includes(p.name))
      errors.push(
        `spec.params[${i}].name: "${p.name}" is not declared by ConnectorClass "${className}" (${declared(declaredParams)})`,
      );
    if (typeof p.value !== 'string') errors.push(`spec.params[${i}].value: only string values are supported`);
  });
  for (const d of c.params ?? []) {
    if (d.default === undefined && !given.has(d.name))
      errors.push(
        `spec.params: required parameter "${d.name}" is missing (ConnectorClass "${className}" declares it without a default)`,
      );
  }

  // auth: a type of the class, its Secret when not optional, of an accepted type with the declared keys.
  const types = c.auth?.types ?? [];
  const auth = spec.auth;
  if (!auth) {
    const mandatory = types.filter((t) => !t.optional);
    if (types.length && mandatory.length === types.length)
      errors.push(
        `spec.auth: required: ConnectorClass "${className}" has no optional auth type (${names(types).join(', ')})`,
      );
    return { errors, warnings };
  }
  const type = authTypeOf({ spec: { auth } }, cls);
  if (!type) {
    errors.push(
      `spec.auth.name: "${auth.name}" is not an auth type of ConnectorClass "${className}" ` +
        `(${types.length ? `one of: ${names(types).join(', ')}` : 'it declares none'})`,
    );
    return { errors, warnings };
  }
  if (!auth.secretRef?.name && !type.optional)
    errors.push(
      `spec.auth.secretRef: required: auth type "${type.name}" of ConnectorClass "${className}" is not optional`,
    );
  if (secretRef.state === 'local' && secret) {
    const problem = secretProblem({ name: secretRef.ref.name, ...secret }, type, className);
    if (problem) errors.push(`spec.auth.secretRef: ${problem.message}`);
  }
  const probe = authProbeOf({ spec: { auth } }, cls);
  const probeIndex = (c.authProbes ?? []).findIndex((p) => p.authName === type.name);
  // Probe parameters are optional (the reference's quick starts leave out the git class's repository): without
  // them the controller can only check the credentials at the address root.
  const missing = probe ? missingAuthProbeParams({ spec: { auth } }, probe) : [];
  if (missing.length)
    warnings.push(
      `spec.auth.params: ${missing.map((m) => JSON.stringify(m)).join(', ')} not given: ConnectorClass ` +
        `"${className}" spec.authProbes[${probeIndex}] for "${type.name}" uses ` +
        `${missing.length > 1 ? 'them' : 'it'} to check the credentials, which are checked at the address ` +
        `root only without ${missing.length > 1 ? 'them' : 'it'}`,
    );
  const declaredAuthParams = names(probe?.params);
  (auth.params ?? []).forEach((p, i) => {
    if (!declaredAuthParams.includes(p.name))
      warnings.push(
        `spec.auth.params[${i}].name: "${p.name}" is not declared by the auth probe of ConnectorClass "${className}" and is unused by it`,
      );
  });
  return { errors, warnings };
}
