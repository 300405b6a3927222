// The registry's own authentication, done by the proxy with the Connector's credentials: which scheme a
// registry wants is learnt from its `/v2/` challenge (cached per upstream), then either Basic with the
// Connector's username/password, or the distribution token flow (GET realm?service=&scope= with Basic
// credentials → `token`/`access_token`), tokens cached per (Connector, upstream, credentials, scopes) until
// shortly before `expires_in` (default 60 s) runs out. Neither the credentials nor a token ever reach the client.
import { credentialsFingerprint, usernamePassword, type Credentials } from '../../core/connector/index.ts';
import type { Upstream } from '../../core/http1/upstream.ts';
import type { UpstreamTrust } from '../../core/http1/upstream.ts';
import { parseChallenge, type Challenge } from './route.ts';

export interface RegistryCredentials {
  username?: string;
  password?: string;
  /** Hash of the credentials, part of token cache keys so a rotated Secret gets new tokens. */
  fingerprint: string;
}

export type CredentialsResult = { ok: true; creds: RegistryCredentials } | { ok: false; reason: string };

/**
 * The registry account of the Connector's credentials (pure): the user name and password of a
 * kubernetes.io/basic-auth Secret or the `username`/`password` keys of any other type (e.g.
 * cpaas.io/distribution-registry-token); none without a secretRef (anonymous pulls).
 */
export function registryCredentials(credentials: Credentials, secretName: string): CredentialsResult {
  if (credentials.kind === 'anonymous') return { ok: true, creds: { fingerprint: 'anonymous' } };
  const account = usernamePassword(credentials);
  if (!account) return { ok: false, reason: `secret ${secretName} has neither username nor password` };
  return { ok: true, creds: { ...account, fingerprint: credentialsFingerprint(credentials) } };
}

export class RegistryAuthError extends Error {}

const basicHeader = (c: RegistryCredentials) =>
  'Basic ' + Buffer.from(`${c.username ?? ''}:${c.password ?? ''}`).toString('base64');

interface CachedToken {
  token: string;
  expiresAt: number;
}

export interface RegistryAuthOptions {
  /** How long a learnt challenge is trusted (default 10 min). */
  challengeTtlMs?: number;
  maxTokens?: number;
  now?: () => number;
}

export class RegistryAuth {
  private readonly upstream: Upstream;
  private readonly challenges = new Map<string, { challenge: Challenge; at: number }>();
  private readonly tokens = new Map<string, CachedToken>();
  private readonly inflight = new Map<string, Promise<CachedToken>>();
  private readonly challengeTtlMs: number;
  private readonly maxTokens: number;
  private readonly now: () => number;
  /** Token server requests made (for tests and metrics). */
  tokenFetches = 0;

  constructor(upstream: Upstream, opts: RegistryAuthOptions = {}) {
    this.upstream = upstream;
    this.challengeTtlMs = opts.challengeTtlMs ?? 600_000;
    this.maxTokens = opts.maxTokens ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  /** The registry's API base, `origin + path prefix + /v2/`. */
  static apiBase(base: URL): URL {
    return new URL(base.origin + base.pathname.replace(/\/+$/, '') + '/v2/');
  }

  /**
   * Remember the challenge of a registry 401 (the scheme may differ from the cached one). Its `scope` belongs to
   * that one request: it is returned, not cached.
   */
  learn(base: URL, wwwAuthenticate: string | string[] | undefined): Challenge | undefined {
    const c = parseChallenge(wwwAuthenticate);
    if (c)
      this.challenges.set(RegistryAuth.apiBase(base).href, { challenge: { ...c, scope: undefined }, at: this.now() });
    return c;
  }

  private async challenge(base: URL, trust: UpstreamTrust | undefined): Promise<Challenge> {
    const key = RegistryAuth.apiBase(base).href;
    const cached = this.challenges.get(key);
    if (cached && this.now() - cached.at < this.challengeTtlMs) return cached.challenge;
    let r: Awaited<ReturnType<Upstream['fetch']>>;
    try {
      r = await this.upstream.fetch(RegistryAuth.apiBase(base), { trust }, 64 * 1024);
    } catch (err) {
      throw new RegistryAuthError(`registry ${base.host} did not answer /v2/: ${(err as Error).message}`);
    }
    let c: Challenge;
    if (r.status === 401)
      c = { ...(parseChallenge(r.headers['www-authenticate']) ?? { scheme: 'basic' }), scope: undefined };
    else if (r.status >= 200 && r.status < 300) c = { scheme: 'none' };
    else throw new RegistryAuthError(`registry ${base.host} answered ${r.status} to /v2/`);
    this.challenges.set(key, { challenge: c, at: this.now() });
    return c;
  }

  /**
   * The `Authorization` to send upstream for a request needing `scopes`, undefined when the registry wants none.
   * `fresh` skips the token cache (after the registry refused a cached token); `extraScope` is the scope of the
   * registry's challenge to that refusal, asked for as well. `trust`: the Connector's CAs for the registry and its
   * token service (core/connector/ca-pool.ts).
   */
  async authorization(
    connector: string,
    base: URL,
    creds: RegistryCredentials,
    scopes: string[],
    fresh = false,
    extraScope?: string,
    trust?: UpstreamTrust,
  ): Promise<string | undefined> {
    const c = await this.challenge(base, trust);
    if (c.scheme === 'none') return undefined;
    if (c.scheme === 'basic') return creds.username !== undefined ? basicHeader(creds) : undefined;
    if (!c.realm) throw new RegistryAuthError(`registry ${base.host} sent a Bearer challenge without a realm`);
    const all = [...new Set([...scopes, ...(extraScope ? extraScope.split(' ').filter(Boolean) : [])])].sort();
    const keyOf = (list: string[]) =>
      [connector, RegistryAuth.apiBase(base).href, creds.fingerprint, c.realm, c.service ?? '', list.join(' ')].join(
        '\n',
      );
    const key = keyOf(all);
    // A refused token is not used again, whatever the retry asks for.
    if (fresh) this.tokens.delete(keyOf([...new Set(scopes)].sort()));
    const cached = this.tokens.get(key);
    if (!fresh && cached && cached.expiresAt > this.now()) return 'Bearer ' + cached.token;
    let pending = this.inflight.get(key);
    if (!pending || fresh) {
      pending = this.fetchToken(c, creds, all, trust).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    const t = await pending;
    if (this.tokens.size >= this.maxTokens) {
      const now = this.now();
      for (const [k, v] of this.tokens) if (v.expiresAt <= now) this.tokens.delete(k);
      if (this.tokens.size >= this.maxTokens) this.tokens.delete(this.tokens.keys().next().value!);
    }
    this.tokens.set(key, t);
    return 'Bearer ' + t.token;
  }

  private async fetchToken(
    c: Challenge,
    creds: RegistryCredentials,
    scopes: string[],
    trust: UpstreamTrust | undefined,
  ): Promise<CachedToken> {
    let url: URL;
    try {
      url = new URL(c.realm!);
    } catch {
      throw new RegistryAuthError('the registry token realm is not a URL');
    }
    if (c.service) url.searchParams.set('service', c.service);
    for (const s of scopes) url.searchParams.append('scope', s);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (creds.username !== undefined) headers.authorization = basicHeader(creds);
    this.tokenFetches++;
    const started = this.now();
    let r: Awaited<ReturnType<Upstream['fetch']>>;
    try {
      r = await this.upstream.fetch(url, { headers, trust }, 1024 * 1024);
    } catch (err) {
      throw new RegistryAuthError(`registry token service ${url.host} failed: ${(err as Error).message}`);
    }
    if (r.status === 401 || r.status === 403)
      throw new RegistryAuthError(
        `registry token service ${url.host} refused the connector's credentials (${r.status})`,
      );
    if (r.status !== 200) throw new RegistryAuthError(`registry token service ${url.host} answered ${r.status}`);
    let doc: { token?: string; access_token?: string; expires_in?: number };
    try {
      doc = JSON.parse(r.body.toString('utf8')) as typeof doc;
    } catch {
      throw new RegistryAuthError(`registry token service ${url.host} did not answer JSON`);
    }
    const token = doc.token || doc.access_token;
    if (!token) throw new RegistryAuthError(`registry token service ${url.host} returned no token`);
    const expiresIn = typeof doc.expires_in === 'number' && doc.expires_in > 0 ? doc.expires_in : 60;
    // Renew a little early: 10% of the lifetime, at most 10 s.
    const margin = Math.min(10_000, expiresIn * 100);
    return { token, expiresAt: started + expiresIn * 1000 - margin };
  }

  clear(): void {
    this.challenges.clear();
    this.tokens.clear();
  }
}
