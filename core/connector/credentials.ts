// What a Connector's Secret gives the proxy to put into requests to the tool, by the Secret's type:
//   kubernetes.io/basic-auth          → basic  (username, password; one of them at least)
//   connectors.cpaas.io/bearer-token  → bearer (token)
//   no secretRef                      → anonymous (an optional auth type)
//   any other type                    → data: the decoded values, for the class auth type's generator.rego
// Credentials are a value: resolved once per request, then handed to whatever injects them. Messages name
// the Secret and the missing key, never a value.
import { createHash } from 'node:crypto';
import { SECRET_TYPES } from '../api/keys.ts';
import type { SecretResolution } from './secret.ts';

export type Credentials =
  | { kind: 'anonymous' }
  | { kind: 'basic'; username: string; password: string }
  | { kind: 'bearer'; token: string }
  | { kind: 'data'; secretType: string; data: Readonly<Record<string, string>> };

export type CredentialsResult = { ok: true; credentials: Credentials } | { ok: false; message: string };

const ANONYMOUS: CredentialsResult = { ok: true, credentials: { kind: 'anonymous' } };

// A resolution holds a Secret decoded once per cached object, so its credentials are kept with it.
const memo = new WeakMap<object, CredentialsResult>();

/** Pure: the credentials of a resolved Secret, or why there are none to use. */
export function credentialsOf(resolution: SecretResolution): CredentialsResult {
  if (resolution.state === 'none') return ANONYMOUS;
  if (resolution.state !== 'found') return { ok: false, message: resolution.message };
  const s = resolution.secret;
  const hit = memo.get(s);
  if (hit) return hit;
  const at = `Secret ${s.namespace}/${s.name}`;
  let out: CredentialsResult;
  if (s.type === SECRET_TYPES.basicAuth) {
    out =
      s.data.username === undefined && s.data.password === undefined
        ? { ok: false, message: `${at} has neither "username" nor "password"` }
        : {
            ok: true,
            credentials: { kind: 'basic', username: s.data.username ?? '', password: s.data.password ?? '' },
          };
  } else if (s.type === SECRET_TYPES.bearerToken) {
    out = s.data.token
      ? { ok: true, credentials: { kind: 'bearer', token: s.data.token } }
      : { ok: false, message: `${at} has no "token"` };
  } else {
    out = { ok: true, credentials: { kind: 'data', secretType: s.type, data: s.data } };
  }
  memo.set(s, out);
  return out;
}

export const basicAuthorization = (username: string, password: string) =>
  `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;

/** The Authorization header of basic and bearer credentials; undefined for the others. */
export function authorizationHeader(c: Credentials): string | undefined {
  if (c.kind === 'basic') return basicAuthorization(c.username, c.password);
  if (c.kind === 'bearer') return `Bearer ${c.token}`;
  return undefined;
}

/**
 * A user name and password where the credentials hold them: basic credentials, or the `username`/`password`
 * keys of any other Secret type (a registry account, cpaas.io/distribution-registry-token). Undefined when
 * anonymous or neither key is there.
 */
export function usernamePassword(c: Credentials): { username: string; password: string } | undefined {
  if (c.kind === 'basic') return { username: c.username, password: c.password };
  if (c.kind === 'data' && (c.data.username !== undefined || c.data.password !== undefined))
    return { username: c.data.username ?? '', password: c.data.password ?? '' };
  return undefined;
}

/** A short digest of the secret material, for cache keys that must change when the Secret rotates. */
export function credentialsFingerprint(c: Credentials): string {
  if (c.kind === 'anonymous') return 'anonymous';
  const material =
    c.kind === 'basic'
      ? `basic\0${c.username}\0${c.password}`
      : c.kind === 'bearer'
        ? `bearer\0${c.token}`
        : `data\0${c.secretType}\0${JSON.stringify(Object.entries(c.data).sort())}`;
  return createHash('sha256').update(material).digest('hex').slice(0, 16);
}
