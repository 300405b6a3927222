// What every step of the proxy's pipeline shares, and the access check of a client token (authenticate +
// authorise).
import type { Logger } from '../core/observability/log.ts';
import type { Audit } from './audit.ts';
import type { ConnectorTrust } from '../core/connector/ca-pool.ts';
import { sourceAddress } from '../core/http1/exchange.ts';
import type { Authorizer, Authentication } from '../core/auth/review.ts';
import { ReviewError, serviceAccountName } from '../core/auth/review.ts';
import { connectionTokenKey } from '../core/auth/token-key.ts';
import type { Policies } from '../core/opa/policies.ts';
import type { ConnectorsState } from '../core/kube/state.ts';
import type { Upstream } from '../core/http1/upstream.ts';
import { approvalActive } from '../core/approval/names.ts';

import type { ConcurrencyLimit } from '../core/util/limits.ts';

export const REALM = 'connectors-proxy';

export interface ProxyContext {
  state: ConnectorsState;
  authorizer: Authorizer;
  policies: Policies;
  upstream: Upstream;
  /** Custom CAs per Connector for upstream TLS (enable-custom-ca-certs). */
  trust: ConnectorTrust;
  audit: Audit;
  log: Logger;
  /** Largest request body buffered for generator body injection. */
  maxInjectBodyBytes: number;
  /** Requests each ServiceAccount may have in flight to the tools. */
  perServiceAccount: ConcurrencyLimit;
}

/** The outcome of checking a client token for a set of Connectors. */
export type Access =
  | { ok: true; auth: Extract<Authentication, { authenticated: true }>; serviceAccount: string }
  | { ok: false; status: 401 | 403 | 429 | 503; reason: string; serviceAccount: string };

/**
 * TokenReview, then SubjectAccessReview on every Connector listed (all must pass). `conn` (the client's
 * socket) lets a connection's repeated token skip hashing, and its address is charged for failed
 * authentications. When every decision is cached (the common case: a client repeating its token) the answer is
 * given at once, not as a promise: a proxied request then waits for no microtask turns here.
 */
export function checkAccess(
  ctx: ProxyContext,
  token: string,
  connectors: { namespace: string; name: string }[],
  conn?: object,
): Access | Promise<Access> {
  const key = connectionTokenKey(token, conn);
  const auth = ctx.authorizer.cachedAuthentication(key);
  if (auth) return decide(ctx, auth, connectors, key, 0, proxyMode(ctx));
  return reviewed(ctx, async () => {
    const fresh = await ctx.authorizer.authenticate(token, key, sourceAddress(conn));
    return decide(ctx, fresh, connectors, key, 0, proxyMode(ctx));
  });
}

/** 'get' only; or also the connectors/proxy subresource; or that or its pod-bound form (approval active). */
type ProxyMode = 'get' | 'proxy' | 'proxy+pod';
function proxyMode(ctx: ProxyContext): ProxyMode {
  if (!ctx.state.flags.enabled('enable-connector-proxy-permissions')) return 'get';
  return approvalActive((f) => ctx.state.flags.enabled(f)) ? 'proxy+pod' : 'proxy';
}

/** The access of `auth` to connectors[from...]: synchronously while the decisions are cached. */
function decide(
  ctx: ProxyContext,
  auth: Authentication,
  connectors: { namespace: string; name: string }[],
  key: string,
  from: number,
  mode: ProxyMode,
): Access | Promise<Access> {
  if (!auth.authenticated) return { ok: false, status: 401, reason: auth.reason, serviceAccount: '' };
  const serviceAccount = serviceAccountName(auth.user.username);
  for (let i = from; i < connectors.length; i++) {
    const c = connectors[i];
    const check = {
      namespace: c.namespace,
      name: c.name,
      proxySubresource: mode !== 'get',
      podBound: mode === 'proxy+pod',
    };
    const decision = ctx.authorizer.cachedAuthorization(check, key);
    if (!decision) {
      return reviewed(ctx, async () => {
        const fresh = await ctx.authorizer.authorize(auth, check, key);
        if (!fresh.allowed) return { ok: false, status: 403, reason: fresh.reason, serviceAccount };
        return decide(ctx, auth, connectors, key, i + 1, mode);
      });
    }
    if (!decision.allowed) return { ok: false, status: 403, reason: decision.reason, serviceAccount };
  }
  return { ok: true, auth, serviceAccount };
}

/**
 * Waits for a review: an apiserver that cannot be asked, or is asked too much, is a 503; a client address with
 * too many failed authentications a 429 (neither cached).
 */
async function reviewed(ctx: ProxyContext, review: () => Promise<Access>): Promise<Access> {
  try {
    return await review();
  } catch (err) {
    if (err instanceof ReviewError) {
      if (err.status === 429) return { ok: false, status: 429, reason: err.message, serviceAccount: '' };
      ctx.log.warn('cannot check the client token', { error: err.message });
      return {
        ok: false,
        status: 503,
        reason: 'cannot check the token with the Kubernetes API now',
        serviceAccount: '',
      };
    }
    throw err;
  }
}
