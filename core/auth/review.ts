// Who the client is (TokenReview) and whether it may use a Connector through the proxy
// (SubjectAccessReview), with short-lived, bounded caches keyed on sha256 of the token.
//
// Audiences: a token whose `aud` names one of `audiences` (default `connectors-proxy`) is reviewed for that
// audience. Any other token is reviewed for the apiserver's own audiences (spec.audiences empty) when
// `acceptApiserverAudience` is on (default), so that plain `kubectl create token <sa>` tokens work;
// with it off such tokens are rejected without a review. The `aud` claim is read unverified only to choose
// which audience to ask for: the apiserver verifies the token.
//
// Caching: TokenReview results for at most `authnTtlMs` (30 s) and never past the token's `exp`; a rejected
// token for `denyTtlMs` (5 s). SubjectAccessReview: allowed for `allowTtlMs` (30 s, and never past `exp`),
// denied for `denyTtlMs`. Errors (apiserver unreachable, 5xx) are never cached.
//
// Protecting the apiserver from clients that send tokens by the thousand: a token that is not a well-formed JWT
// is refused without a review (jwt.ts); each client address may cause `failureBurst` failed authentications at
// once, refilled at `failuresPerSecond`, and is answered 429 without a review once it has none left; at most
// `maxReviewsInFlight` reviews (TokenReview and SubjectAccessReview) are asked at once, the others wait up to
// `reviewWaitMs` (then 503).
import { hash } from 'node:crypto';
import { GROUP } from '../api/keys.ts';
import type { KubeRest } from '../kube/rest.ts';
import { resourcePath, resources } from '../kube/resources.ts';
import { plainCounter } from '../observability/metrics.ts';
import { TtlCache } from './cache.ts';
import { rememberLast } from '../util/remember-last.ts';
import { podOfUser, podProxySubresource } from '../approval/names.ts';
import { tokenShape } from './jwt.ts';
import { FailureBudget, Gate, GateBusyError } from '../util/limits.ts';

const TOKEN_REVIEWS = resourcePath(resources.TokenReview);
const SUBJECT_ACCESS_REVIEWS = resourcePath(resources.SubjectAccessReview);

export interface UserInfo {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

export type Authentication =
  | { authenticated: true; user: UserInfo; /** epoch ms of the token's exp, if known */ expiresAt?: number }
  | { authenticated: false; reason: string };

export interface AccessCheck {
  namespace: string;
  name: string;
  /** Also require `*` on connectors/proxy (enable-connector-proxy-permissions). */
  proxySubresource: boolean;
  /**
   * With approval active: `*` on the pod-bound connectors/proxy/v1/pod/<ns>/<pod> of the Pod the token is bound
   * to (TokenReview's extra) also grants the proxy, as an approved AccessRequest does.
   */
  podBound?: boolean;
}

export type Authorization = { allowed: true } | { allowed: false; reason: string };

/** How hard clients may make a component ask the apiserver; defaults in brackets. */
export interface ReviewLimits {
  /** Reviews asked of the apiserver at once [32]; more wait... */
  maxInFlight?: number;
  /** ...at most this long [10 s], then 503. */
  waitMs?: number;
  /** Failed authentications a client address may cause at once [20]... */
  failureBurst?: number;
  /** ...and per second after that [1]; then 429 without a review. */
  failuresPerSecond?: number;
}

export interface AuthorizerOptions {
  audiences?: string[];
  acceptApiserverAudience?: boolean;
  authnTtlMs?: number;
  allowTtlMs?: number;
  denyTtlMs?: number;
  maxEntries?: number;
  limits?: ReviewLimits;
  now?: () => number;
  /** Names the cache metric: `<prefix>_auth_cache_total` (default connectors_proxy). */
  metricPrefix?: string;
}

/** A SubjectAccessReview's resource attributes (group default connectors.alauda.io). */
export interface ResourceCheck {
  verb: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  group?: string;
}

/**
 * The token could not be checked now: the apiserver could not be asked or is asked too much (503), or the
 * client has caused too many failed authentications (429). Nothing is cached.
 */
export class ReviewError extends Error {
  override name = 'ReviewError';
  readonly status: 429 | 503;
  constructor(message: string, status: 429 | 503 = 503) {
    super(message);
    this.status = status;
  }
}

/** The cache-lookup counter of a component (`<prefix>_auth_cache_total`) for one label set. */
const cacheLookup = (prefix: string, kind: 'tokenreview' | 'subjectaccessreview', result: 'hit' | 'miss') =>
  plainCounter(`${prefix}_auth_cache_total`, 'Authentication and authorisation cache lookups.', [
    'kind',
    'result',
  ]).child(kind, result);

/** sha256 of the token (hex), the cache key: one-shot hashing, no Hash object per request. */
export const tokenKey = (token: string): string => hash('sha256', token, 'hex');

const authzKey = (check: AccessCheck, key: string) =>
  `${key}|${check.namespace}|${check.name}|${check.proxySubresource ? (check.podBound ? 'proxy+pod' : 'proxy') : 'get'}`;
/** authzKey, the last one reused while its parts repeat (a keep-alive client asking for the same Connector). */
let last = { key: '', namespace: '', name: '', proxySubresource: false, podBound: false, authzKey: '' };
function cachedAuthzKey(check: AccessCheck, key: string): string {
  const l = last;
  if (
    l.key === key &&
    l.namespace === check.namespace &&
    l.name === check.name &&
    l.proxySubresource === check.proxySubresource &&
    l.podBound === (check.podBound ?? false)
  )
    return l.authzKey;
  last = {
    key,
    namespace: check.namespace,
    name: check.name,
    proxySubresource: check.proxySubresource,
    podBound: check.podBound ?? false,
    authzKey: authzKey(check, key),
  };
  return last.authzKey;
}

export class Authorizer {
  private readonly rest: KubeRest;
  private readonly audiences: string[];
  private readonly acceptApiserverAudience: boolean;
  private readonly authnTtlMs: number;
  private readonly allowTtlMs: number;
  private readonly denyTtlMs: number;
  private readonly now: () => number;
  private readonly authn: TtlCache<Authentication>;
  private readonly authz: TtlCache<Authorization>;
  private readonly inflight = new Map<string, Promise<unknown>>();
  private readonly metricPrefix: string;
  /** The hit counters, looked up once (a hit is the per-request case). */
  private authnHit: { inc(): void } | undefined;
  private authzHit: { inc(): void } | undefined;
  private readonly reviews: Gate;
  private readonly failures: FailureBudget;

  constructor(rest: KubeRest, opts: AuthorizerOptions = {}) {
    this.rest = rest;
    this.audiences = opts.audiences ?? ['connectors-proxy'];
    this.acceptApiserverAudience = opts.acceptApiserverAudience ?? true;
    this.authnTtlMs = opts.authnTtlMs ?? 30_000;
    this.allowTtlMs = opts.allowTtlMs ?? 30_000;
    this.denyTtlMs = opts.denyTtlMs ?? 5_000;
    this.now = opts.now ?? Date.now;
    this.authn = new TtlCache(opts.maxEntries ?? 10_000, this.now);
    this.authz = new TtlCache(opts.maxEntries ?? 10_000, this.now);
    this.metricPrefix = opts.metricPrefix ?? 'connectors_proxy';
    this.reviews = new Gate({
      max: opts.limits?.maxInFlight ?? 32,
      maxWaiting: 10_000,
      maxWaitMs: opts.limits?.waitMs ?? 10_000,
    });
    this.failures = new FailureBudget({
      burst: opts.limits?.failureBurst ?? 20,
      perSecond: opts.limits?.failuresPerSecond ?? 1,
      now: this.now,
    });
  }

  /** An apiserver call through the review gate: a full gate is a ReviewError (503). */
  private async gated<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await this.reviews.run(call);
    } catch (err) {
      if (err instanceof GateBusyError) throw new ReviewError(`too many ${what}s in flight (${err.message})`);
      throw new ReviewError(`${what} failed: ${(err as Error).message}`);
    }
  }

  /** A failed authentication from `source` (a client address; '' when unknown: not counted). */
  private failed(source: string): void {
    if (source) this.failures.spend(source);
  }

  /** Forget every cached decision (tests; a RoleBinding change is otherwise seen within allowTtlMs). */
  clear(): void {
    this.authn.clear();
    this.authz.clear();
  }

  /** Concurrent identical lookups share one apiserver call. */
  private once<T>(key: string, fn: () => Promise<T>): Promise<T> {
    let p = this.inflight.get(key) as Promise<T> | undefined;
    if (!p) {
      p = fn().finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  private ttlFor(base: number, expiresAt: number | undefined): number {
    return expiresAt === undefined ? base : Math.min(base, expiresAt - this.now());
  }

  /** The cached TokenReview outcome of a token key, without waiting (undefined: call authenticate). */
  cachedAuthentication(key: string): Authentication | undefined {
    const cached = this.authn.get(key);
    if (cached) (this.authnHit ??= cacheLookup(this.metricPrefix, 'tokenreview', 'hit')).inc();
    return cached;
  }

  /**
   * The TokenReview outcome of `token` (key: its sha256), cached. `source` (the client's address) is charged for
   * a failure that was not cached; once it has none left, a ReviewError with status 429 comes instead.
   */
  async authenticate(token: string, key = tokenKey(token), source = ''): Promise<Authentication> {
    const cached = this.cachedAuthentication(key);
    if (cached) return cached;
    cacheLookup(this.metricPrefix, 'tokenreview', 'miss').inc();
    if (source && this.failures.exhausted(source))
      throw new ReviewError('too many failed authentications from this address: retry later', 429);
    return this.once('authn:' + key, async () => {
      const deny = (reason: string): Authentication => {
        const result: Authentication = { authenticated: false, reason };
        this.authn.set(key, result, this.denyTtlMs);
        this.failed(source);
        return result;
      };
      const shape = tokenShape(token);
      if (!shape.ok) return deny(shape.reason);
      const claims = shape.claims;
      const expiresAt = typeof claims.exp === 'number' ? claims.exp * 1000 : undefined;
      if (expiresAt !== undefined && expiresAt <= this.now()) return deny('token has expired');
      const aud = claims.aud === undefined ? [] : Array.isArray(claims.aud) ? claims.aud : [claims.aud];
      const wanted = this.audiences.filter((a) => aud.includes(a));
      if (wanted.length === 0 && !this.acceptApiserverAudience)
        return deny(`token audience must include ${this.audiences.join(' or ')}`);
      const review = await this.gated(
        'TokenReview',
        (): Promise<{ status?: { authenticated?: boolean; user?: UserInfo; error?: string } }> =>
          this.rest.call('POST', TOKEN_REVIEWS, {
            body: {
              apiVersion: 'authentication.k8s.io/v1',
              kind: 'TokenReview',
              spec: { token, ...(wanted.length ? { audiences: wanted } : {}) },
            },
          }),
      );
      const status = review.status ?? {};
      if (!status.authenticated || !status.user?.username)
        return deny('token is invalid, expired or for another audience');
      const result: Authentication = { authenticated: true, user: status.user, expiresAt };
      this.authn.set(key, result, this.ttlFor(this.authnTtlMs, expiresAt));
      return result;
    });
  }

  /** The cached SubjectAccessReview outcome, without waiting (undefined: call authorize). */
  cachedAuthorization(check: AccessCheck, key: string): Authorization | undefined {
    const cached = this.authz.get(cachedAuthzKey(check, key));
    if (cached) (this.authzHit ??= cacheLookup(this.metricPrefix, 'subjectaccessreview', 'hit')).inc();
    return cached;
  }

  async authorize(
    auth: Extract<Authentication, { authenticated: true }>,
    check: AccessCheck,
    key: string,
  ): Promise<Authorization> {
    const k = authzKey(check, key);
    const cached = this.authz.get(k);
    if (cached) {
      cacheLookup(this.metricPrefix, 'subjectaccessreview', 'hit').inc();
      return cached;
    }
    cacheLookup(this.metricPrefix, 'subjectaccessreview', 'miss').inc();
    return this.once('authz:' + k, async () => {
      const checks = [
        { verb: 'get', subresource: undefined as string | undefined, or: undefined as string | undefined },
      ];
      if (check.proxySubresource) {
        const pod = check.podBound ? podOfUser(auth.user) : undefined;
        checks.push({ verb: '*', subresource: 'proxy', or: pod && podProxySubresource(pod.namespace, pod.name) });
      }
      let result: Authorization = { allowed: true };
      for (const c of checks) {
        let allowed = await this.sar(auth.user, check, c.verb, c.subresource);
        if (!allowed && c.or) allowed = await this.sar(auth.user, check, c.verb, c.or);
        if (!allowed) {
          result = {
            allowed: false,
            reason: c.subresource
              ? `${auth.user.username} may not use connectors/proxy of ${check.namespace}/${check.name}${c.or ? ` (nor connectors/${c.or})` : ''}`
              : `${auth.user.username} may not get connector ${check.namespace}/${check.name}`,
          };
          break;
        }
      }
      this.authz.set(k, result, result.allowed ? this.ttlFor(this.allowTtlMs, auth.expiresAt) : this.denyTtlMs);
      return result;
    });
  }

  private sar(user: UserInfo, check: AccessCheck, verb: string, subresource?: string): Promise<boolean> {
    return this.review(user, {
      verb,
      resource: 'connectors',
      subresource,
      namespace: check.namespace,
      name: check.name,
    });
  }

  private async review(user: UserInfo, check: ResourceCheck): Promise<boolean> {
    const review = await this.gated('SubjectAccessReview', (): Promise<{ status?: { allowed?: boolean } }> =>
      this.rest.call('POST', SUBJECT_ACCESS_REVIEWS, {
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: {
            user: user.username,
            uid: user.uid,
            groups: user.groups,
            extra: user.extra,
            resourceAttributes: {
              group: check.group ?? GROUP,
              resource: check.resource,
              subresource: check.subresource,
              namespace: check.namespace,
              name: check.name,
              verb: check.verb,
            },
          },
        },
      }),
    );
    return review.status?.allowed === true;
  }

  /**
   * Whether the user may do `check` (one SubjectAccessReview of any resource), cached like authorize(): an
   * allow for allowTtlMs (never past the token's exp), a denial for denyTtlMs. `key` is the token's key.
   */
  cachedResourceAccess(check: ResourceCheck, key: string): boolean | undefined {
    const cached = this.authz.get(resourceKey(check, key));
    if (cached) (this.authzHit ??= cacheLookup(this.metricPrefix, 'subjectaccessreview', 'hit')).inc();
    return cached ? cached.allowed : undefined;
  }

  async resourceAccess(
    auth: Extract<Authentication, { authenticated: true }>,
    check: ResourceCheck,
    key: string,
  ): Promise<boolean> {
    const k = resourceKey(check, key);
    const cached = this.authz.get(k);
    if (cached) return cached.allowed;
    cacheLookup(this.metricPrefix, 'subjectaccessreview', 'miss').inc();
    return this.once('authz:' + k, async () => {
      const allowed = await this.review(auth.user, check);
      const result: Authorization = allowed ? { allowed: true } : { allowed: false, reason: 'denied' };
      this.authz.set(k, result, allowed ? this.ttlFor(this.allowTtlMs, auth.expiresAt) : this.denyTtlMs);
      return allowed;
    });
  }
}

/** The cache key of a resource check: every attribute, after the token's key (`|` is in none of them). */
const resourceKeyOf = (c: ResourceCheck, key: string) =>
  `${key}|r|${c.verb}|${c.group ?? GROUP}|${c.resource}|${c.subresource ?? ''}|${c.namespace ?? ''}|${c.name ?? ''}`;
/** resourceKeyOf, the last one reused while its parts repeat (a keep-alive client asking again). */
let lastResource = { key: '', check: { verb: '', resource: '' } as ResourceCheck, resourceKey: '' };
function resourceKey(c: ResourceCheck, key: string): string {
  const l = lastResource;
  const p = l.check;
  if (
    l.key === key &&
    p.verb === c.verb &&
    p.resource === c.resource &&
    p.subresource === c.subresource &&
    p.namespace === c.namespace &&
    p.name === c.name &&
    p.group === c.group
  )
    return l.resourceKey;
  lastResource = { key, check: { ...c }, resourceKey: resourceKeyOf(c, key) };
  return lastResource.resourceKey;
}

/**
 * `system:serviceaccount:ns:name` → `ns/name`; other users as they are. Asked once per proxied request, mostly
 * for the same user as the last one.
 */
export const serviceAccountName = rememberLast((username: string): string => {
  const m = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(username);
  return m ? `${m[1]}/${m[2]}` : username;
});
