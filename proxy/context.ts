// What every request handler of the proxy shares, and the answers the proxy gives itself.
import type { Logger } from '../core/observability/log.ts';
import { applyAuthInjection, AuthInjectionError, regoRequest } from '../core/opa/index.ts';
import type { Connector, ConnectorClass } from '../core/api/index.ts';
import type { V1Secret } from '@kubernetes/client-node';
import type { Audit } from './audit.ts';
import type { ConnectorTrust } from './ca-pool.ts';
import type { ProxyRequest, ProxyResponse } from './exchange.ts';
import type { Authorizer, Authentication } from './auth/review.ts';
import { ReviewError, serviceAccountName, tokenKey } from './auth/review.ts';
import { planInjection, type InjectionPlan } from './inject.ts';
import { type Policies, PolicyNotReadyError } from './policies.ts';
import type { ProxyState } from './state.ts';
import { sendText, type Upstream } from './upstream.ts';
import { lowerName } from './http1/fields.ts';
import { approvalActive } from '../core/approval/names.ts';

export const REALM = 'connectors-proxy';

export interface ProxyContext {
  state: ProxyState;
  authorizer: Authorizer;
  policies: Policies;
  upstream: Upstream;
  /** Custom CAs per Connector for upstream TLS (enable-custom-ca-certs). */
  trust: ConnectorTrust;
  audit: Audit;
  log: Logger;
  /** Largest request body buffered for generator body injection. */
  maxInjectBodyBytes: number;
}

/** The outcome of checking a client token for a set of Connectors. */
export type Access =
  | { ok: true; auth: Extract<Authentication, { authenticated: true }>; serviceAccount: string }
  | { ok: false; status: 401 | 403 | 503; reason: string; serviceAccount: string };

/**
 * The cache key (sha256) of the token last used on a client connection: a keep-alive client repeats the same
 * token, which is then compared instead of hashed again. The token is kept only as long as the connection it
 * came on (the entry goes with the socket), never in a process-wide map.
 */
const lastTokenKey = new WeakMap<object, { token: string; key: string }>();
function connectionTokenKey(token: string, conn: object | undefined): string {
  if (!conn) return tokenKey(token);
  const last = lastTokenKey.get(conn);
  if (last && last.token === token) return last.key;
  const key = tokenKey(token);
  lastTokenKey.set(conn, { token, key });
  return key;
}

/**
 * TokenReview, then SubjectAccessReview on every Connector listed (all must pass). `conn` (the client's
 * socket) lets a connection's repeated token skip hashing. When every decision is cached (the common case:
 * a client repeating its token) the answer is given at once, not as a promise: a proxied request then waits
 * for no microtask turns here.
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
    const fresh = await ctx.authorizer.authenticate(token, key);
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

/** Waits for a review: an apiserver that cannot be asked is a 503 (never cached). */
async function reviewed(ctx: ProxyContext, review: () => Promise<Access>): Promise<Access> {
  try {
    return await review();
  } catch (err) {
    if (err instanceof ReviewError) {
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

/** Reads a request body whole, up to `limit` bytes (undefined when larger). */
export async function readBody(req: ProxyRequest, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export type Prepared =
  | { ok: true; target: URL; headers: Record<string, string | string[]>; body?: Buffer; injected: boolean }
  | { ok: false; status: number; reason: string };

/**
 * planInjection memoised on the cached objects it reads (the informers replace an object when it changes,
 * never edit it), so a request does not decode the Secret and re-encode a Basic header each time.
 */
const plans = new WeakMap<
  Connector,
  { cls: ConnectorClass | undefined; secret: V1Secret | undefined; plan: InjectionPlan }
>();
function cachedPlan(
  connector: Connector,
  cls: ConnectorClass | undefined,
  secret: V1Secret | undefined,
): InjectionPlan {
  const hit = plans.get(connector);
  if (hit && hit.cls === cls && hit.secret === secret) return hit.plan;
  const plan = planInjection(connector, cls, secret);
  plans.set(connector, { cls, secret, plan });
  return plan;
}

/**
 * The Connector's credentials put into the backend request (target URL, headers, maybe a new body), by the
 * Secret type or the class generator.rego. Failures name the problem, never a secret value. Given at once
 * (not as a promise) unless a generator.rego has to be evaluated.
 */
export function injectCredentials(
  ctx: ProxyContext,
  req: ProxyRequest,
  connector: Connector,
  target: URL,
  headers: Record<string, string | string[]>,
): Prepared | Promise<Prepared> {
  const cls = ctx.state.connectorClass(connector.spec.connectorClassName);
  const ref = connector.spec.auth?.secretRef;
  const secret = ref?.name ? ctx.state.secret(ref.namespace || connector.metadata.namespace!, ref.name) : undefined;
  const plan = cachedPlan(connector, cls, secret);
  switch (plan.kind) {
    case 'none':
      return { ok: true, target, headers, injected: false };
    case 'error':
      return { ok: false, status: 502, reason: plan.message };
    case 'headers': {
      // In place (the caller's headers are its own copy): a client header of the same name, in any case,
      // goes, and the credential headers come last.
      for (const k in headers) if (lowerName(k) in plan.headers) delete headers[k];
      for (const k in plan.headers) headers[k] = plan.headers[k];
      return { ok: true, target, headers, injected: true };
    }
    case 'generator':
      return generated(ctx, req, plan, target, headers);
  }
}

async function generated(
  ctx: ProxyContext,
  req: ProxyRequest,
  plan: Extract<InjectionPlan, { kind: 'generator' }>,
  target: URL,
  headers: Record<string, string | string[]>,
): Promise<Prepared> {
  const request = regoRequest({
    method: req.method ?? 'GET',
    path: target.pathname + target.search,
    host: target.host,
    headers,
  });
  try {
    let injection = await ctx.policies.generate(plan.rego, plan.data, request);
    let body: Buffer | undefined;
    if (injection.position === 'body') {
      body = await readBody(req, ctx.maxInjectBodyBytes);
      if (!body)
        return {
          ok: false,
          status: 413,
          reason: `request body larger than ${ctx.maxInjectBodyBytes} bytes cannot take body credentials`,
        };
      // Evaluated again with the body, which the first evaluation did not need to see.
      injection = await ctx.policies.generate(
        plan.rego,
        plan.data,
        regoRequest({ method: request.method, path: request.path, host: request.host, headers, body }),
      );
    }
    const applied = applyAuthInjection({ headers, query: target.search.slice(1), body }, injection);
    const t = new URL(target);
    t.search = applied.query ? '?' + applied.query : '';
    return { ok: true, target: t, headers: applied.headers, body: applied.body ?? body, injected: true };
  } catch (err) {
    if (err instanceof PolicyNotReadyError) return { ok: false, status: 503, reason: err.message };
    if (err instanceof AuthInjectionError) return { ok: false, status: 502, reason: err.message };
    throw err;
  }
}

export function deny(res: ProxyResponse, status: number, reason: string): void {
  const headers: Record<string, string> = {};
  if (status === 401) headers['www-authenticate'] = `Basic realm="${REALM}"`;
  if (status === 407) headers['proxy-authenticate'] = `Basic realm="${REALM}"`;
  sendText(res, status, reason, headers);
}
