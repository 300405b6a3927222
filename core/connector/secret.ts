// A Connector's Secret: where its reference points, the same-namespace rule, reading it through whatever
// cache a component has, decoding it, and whether its type and keys suit the class's auth type.
//
// Same-namespace rule: spec.auth.secretRef (and spec.caCertSecretRef, which has no namespace field) can only
// name a Secret of the Connector's own namespace. A reference into another namespace is refused before any
// lookup, so no component ever reads — or reveals anything about — a Secret of another namespace.
import type { AuthType } from '../api/index.ts';
import { SECRET_TYPES } from '../api/keys.ts';

export interface SecretRef {
  namespace: string;
  name: string;
}

/** What the rules read of a Connector (admission objects and cached Connectors alike). */
export interface ConnectorLike {
  metadata: { namespace?: string; name?: string };
  spec: {
    auth?: { name?: string; secretRef?: { name?: string; namespace?: string } };
    caCertSecretRef?: { name?: string };
  };
}

export type SecretRefState =
  { state: 'none' } | { state: 'local'; ref: SecretRef } | { state: 'foreign'; ref: SecretRef; message: string };

/** Pure: the Secret spec.auth.secretRef names, and whether the same-namespace rule allows it. */
export function secretRefOf(c: ConnectorLike): SecretRefState {
  const ref = c.spec.auth?.secretRef;
  if (!ref?.name) return { state: 'none' };
  const own = c.metadata.namespace ?? '';
  const namespace = ref.namespace || own;
  if (namespace !== own)
    return {
      state: 'foreign',
      ref: { namespace, name: ref.name },
      message:
        `spec.auth.secretRef.namespace ${JSON.stringify(namespace)} is not the Connector's namespace ` +
        `${JSON.stringify(own)}: only Secrets of the Connector's namespace can be used`,
    };
  return { state: 'local', ref: { namespace, name: ref.name } };
}

/** Pure: the CA Secret of spec.caCertSecretRef, always in the Connector's namespace. */
export function caSecretRefOf(c: ConnectorLike): SecretRef | undefined {
  const name = c.spec.caCertSecretRef?.name;
  return name ? { namespace: c.metadata.namespace ?? '', name } : undefined;
}

/** Every Secret a Connector may read: its auth Secret (when allowed) and its CA Secret. */
export function referencedSecrets(c: ConnectorLike): SecretRef[] {
  const out: SecretRef[] = [];
  const auth = secretRefOf(c);
  if (auth.state === 'local') out.push(auth.ref);
  const ca = caSecretRefOf(c);
  if (ca) out.push(ca);
  return out;
}

/** A Secret as the API (or a slimmed cache) holds it: data base64-encoded; stringData wins when present. */
export interface RawSecret {
  metadata?: {
    name?: string;
    namespace?: string;
    resourceVersion?: string;
    uid?: string;
    labels?: Record<string, string>;
  };
  type?: string;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

/** A Secret with its values decoded. */
export interface DecodedSecret {
  name: string;
  namespace: string;
  type: string;
  data: Readonly<Record<string, string>>;
  resourceVersion?: string;
  uid?: string;
  labels?: Record<string, string>;
}

// Caches replace an object when it changes and never edit it, so a decoded Secret is kept per object.
const decoded = new WeakMap<RawSecret, DecodedSecret>();

/** Decodes a Secret (memoised per object). `at` names it when the object does not. */
export function decodeSecret(raw: RawSecret, at?: SecretRef): DecodedSecret {
  const hit = decoded.get(raw);
  if (hit) return hit;
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw.data ?? {})) data[k] = Buffer.from(v, 'base64').toString('utf8');
  for (const [k, v] of Object.entries(raw.stringData ?? {})) data[k] = v;
  const s: DecodedSecret = {
    name: raw.metadata?.name ?? at?.name ?? '',
    namespace: raw.metadata?.namespace ?? at?.namespace ?? '',
    type: raw.type || SECRET_TYPES.opaque,
    data,
    resourceVersion: raw.metadata?.resourceVersion,
    uid: raw.metadata?.uid,
    labels: raw.metadata?.labels,
  };
  decoded.set(raw, s);
  return s;
}

export type SecretResolution =
  | { state: 'none' }
  | { state: 'foreign'; ref: SecretRef; message: string }
  | { state: 'missing'; ref: SecretRef; message: string }
  | { state: 'found'; ref: SecretRef; secret: DecodedSecret };

/**
 * Reads a Secret by namespace and name from a component's cache or the API: the controller's Secret store,
 * the proxy's informer, the webhook's GET. Null or undefined when it does not exist. A synchronous getter
 * (an informer) gets a synchronous resolution.
 */
export type SecretGetter = (namespace: string, name: string) => RawSecret | null | undefined;
export type AsyncSecretGetter = (namespace: string, name: string) => Promise<RawSecret | null | undefined>;

function resolved(ref: SecretRef, raw: RawSecret | null | undefined): SecretResolution {
  if (!raw)
    return {
      state: 'missing',
      ref,
      message: `Secret ${JSON.stringify(ref.name)} of namespace ${JSON.stringify(ref.namespace)} not found`,
    };
  return { state: 'found', ref, secret: decodeSecret(raw, ref) };
}

/** The Connector's auth Secret, looked up only when the same-namespace rule allows it; synchronous getter. */
export function resolveSecret(c: ConnectorLike, get: SecretGetter): SecretResolution {
  const r = secretRefOf(c);
  if (r.state !== 'local') return r;
  return resolved(r.ref, get(r.ref.namespace, r.ref.name));
}

/** resolveSecret with a getter that asks the API server. */
export async function lookupSecret(c: ConnectorLike, get: AsyncSecretGetter): Promise<SecretResolution> {
  const r = secretRefOf(c);
  if (r.state !== 'local') return r;
  return resolved(r.ref, await get(r.ref.namespace, r.ref.name));
}

/**
 * Secret types a class's auth type accepts besides its own: documented equivalents holding the same keys.
 * A registry account (`cpaas.io/distribution-registry-token`: username, password) may be given as a
 * `kubernetes.io/basic-auth` Secret.
 */
export const SECRET_TYPE_EQUIVALENTS: Readonly<Record<string, readonly string[]>> = {
  [SECRET_TYPES.distributionRegistryToken]: [SECRET_TYPES.basicAuth],
};

/** Keys a Secret of a well-known type must hold, whatever the auth type declares. */
const REQUIRED_KEYS: Readonly<Record<string, readonly string[]>> = {
  [SECRET_TYPES.sshAuth]: ['ssh-privatekey'],
  [SECRET_TYPES.bearerToken]: ['token'],
};

/** The Secret types an auth type accepts: its secretType (default Opaque), then its equivalents. */
export function acceptedSecretTypes(authType: Pick<AuthType, 'secretType'>): string[] {
  const own = authType.secretType || SECRET_TYPES.opaque;
  return [own, ...(SECRET_TYPE_EQUIVALENTS[own] ?? [])];
}

export interface SecretProblem {
  reason: 'SecretTypeMismatch' | 'SecretKeyMissing';
  message: string;
}

const quotedList = (xs: readonly string[], last: string) =>
  xs.length < 2
    ? xs.map((x) => JSON.stringify(x)).join('')
    : `${xs
        .slice(0, -1)
        .map((x) => JSON.stringify(x))
        .join(', ')} ${last} ${JSON.stringify(xs[xs.length - 1])}`;

/**
 * Pure: whether a Secret suits an auth type — an accepted type, and the keys its type needs and the auth
 * type declares in params (those without a default). Names keys, never values.
 */
export function secretProblem(
  secret: { name: string; type?: string; keys: readonly string[] },
  authType: Pick<AuthType, 'name' | 'secretType' | 'params'>,
  className: string,
): SecretProblem | undefined {
  const type = secret.type || SECRET_TYPES.opaque;
  const accepted = acceptedSecretTypes(authType);
  if (!accepted.includes(type))
    return {
      reason: 'SecretTypeMismatch',
      message:
        `Secret ${JSON.stringify(secret.name)} has type ${JSON.stringify(type)}, but auth type ` +
        `${JSON.stringify(authType.name)} of connectorclass ${JSON.stringify(className)} requires ` +
        `${quotedList(accepted, 'or')}`,
    };
  const required = new Set([
    ...(REQUIRED_KEYS[type] ?? []),
    ...(authType.params ?? []).filter((p) => p.default === undefined).map((p) => p.name),
  ]);
  const missing = [...required].filter((k) => !secret.keys.includes(k));
  if (missing.length)
    return {
      reason: 'SecretKeyMissing',
      message:
        `Secret ${JSON.stringify(secret.name)} is missing ${missing.length > 1 ? 'keys' : 'key'} ` +
        `${quotedList(missing, 'and')} required by auth type ${JSON.stringify(authType.name)}`,
    };
  return undefined;
}
