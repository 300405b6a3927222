// Pure admission rules for Connectors against their ConnectorClass (CON-04..CON-08, CC-04, CC-06).
// Every message names the field: `spec.addressExtensions[1].name: ...`.
import type { Connector, ConnectorClass } from '../../core/api/index.ts';

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

function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return (u.protocol === 'http:' || u.protocol === 'https:') && Boolean(u.host);
  } catch {
    return false;
  }
}

const sameAddress = (a: string, b: string) =>
  a.trim().replace(/\/+$/, '').toLowerCase() === b.trim().replace(/\/+$/, '').toLowerCase();

export function validateConnector(
  connector: Pick<Connector, 'spec'> & { metadata?: { namespace?: string } },
  cls: ConnectorClass | undefined,
  secret?: SecretInfo,
): ValidationResult {
  const errors: string[] = [];
  const warnings: string[] = [];
  const spec = connector.spec ?? ({} as Connector['spec']);
  const className = spec.connectorClassName;

  // addressExtensions: shape rules hold whatever the class (CON-04).
  const exts = spec.addressExtensions ?? [];
  const seen = new Map<string, number>();
  exts.forEach((e, i) => {
    const at = `spec.addressExtensions[${i}]`;
    const prev = seen.get(e.name);
    if (prev !== undefined)
      errors.push(`${at}.name: duplicate extension "${e.name}" (also at spec.addressExtensions[${prev}])`);
    else seen.set(e.name, i);
    const value = e.value ?? '';
    if (value.trim() === '') errors.push(`${at}.value: must not be empty`);
    else if (!isHttpUrl(value)) errors.push(`${at}.value: ${JSON.stringify(value)} is not an http or https URL`);
    else if (spec.address && sameAddress(value, spec.address))
      errors.push(`${at}.value: must differ from spec.address (${spec.address})`);
  });

  if (!cls) {
    warnings.push(
      `ConnectorClass "${className}" not found: spec.auth, spec.params and spec.addressExtensions names were not checked; the controller reports ConnectorClassReady=False/ConnectorClassNotFound`,
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

  // params (CON-05, CC-04).
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

  // auth (CON-06..CON-08, CC-06).
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
  const type = types.find((t) => t.name === auth.name);
  if (!type) {
    errors.push(
      `spec.auth.name: "${auth.name}" is not an auth type of ConnectorClass "${className}" (${types.length ? `one of: ${names(types).join(', ')}` : 'it declares none'})`,
    );
    return { errors, warnings };
  }
  if (!auth.secretRef?.name && !type.optional)
    errors.push(
      `spec.auth.secretRef: required: auth type "${type.name}" of ConnectorClass "${className}" is not optional`,
    );
  const secretType = type.secretType || 'Opaque';
  if (auth.secretRef?.name && secret) {
    const ref = `Secret "${auth.secretRef.namespace ? auth.secretRef.namespace + '/' : ''}${auth.secretRef.name}"`;
    if ((secret.type || 'Opaque') !== secretType) {
      errors.push(
        `spec.auth.secretRef: ${ref} has type "${secret.type || 'Opaque'}" but auth type "${type.name}" of ConnectorClass "${className}" requires "${secretType}"`,
      );
    } else {
      const missing = (type.params ?? [])
        .filter((p) => p.default === undefined && !secret.keys.includes(p.name))
        .map((p) => p.name);
      if (missing.length)
        errors.push(
          `spec.auth.secretRef: ${ref} lacks key(s) ${missing.map((m) => `"${m}"`).join(', ')} that auth type "${type.name}" declares in params`,
        );
    }
  }
  const probe = (c.authProbes ?? []).find((p) => p.authName === type.name);
  const authParams = new Set((auth.params ?? []).map((p) => p.name));
  const probeIndex = (c.authProbes ?? []).findIndex((p) => p.authName === type.name);
  for (const d of probe?.params ?? []) {
    if (d.default === undefined && !authParams.has(d.name)) {
      errors.push(
        `spec.auth.params: required parameter "${d.name}" is missing (ConnectorClass "${className}" spec.authProbes[${probeIndex}] for "${type.name}" declares it)`,
      );
    }
  }
  const declaredAuthParams = names(probe?.params);
  (auth.params ?? []).forEach((p, i) => {
    if (!declaredAuthParams.includes(p.name))
      warnings.push(
        `spec.auth.params[${i}].name: "${p.name}" is not declared by the auth probe of ConnectorClass "${className}" and is unused by it`,
      );
  });
  return { errors, warnings };
}
