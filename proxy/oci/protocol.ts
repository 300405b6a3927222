// The OCI distribution API through the proxy's pipeline (route.ts says which request is which). The client
// authenticates with its ServiceAccount token (Basic password with any user name, as `docker login`/skopeo
// --creds send it, or Bearer); a request without one gets 401 with `WWW-Authenticate: Basic
// realm="connectors-proxy"`, which every registry client answers by retrying with its credentials. The proxy
// then does the registry's own auth (auth.ts) and streams the request and response (core/http1/upstream.ts,
// back-pressure, nothing buffered) with:
// - Location and Link headers on the registry's /v2/ API rewritten to the client-visible proxy path (upload
//   sessions keep their query, e.g. `_state`), absolute when the registry's were absolute;
// - a 401 of the registry on a request without a body retried once with a fresh token;
// - redirects off the registry's API (blob storage hosts) followed by the proxy for GET/HEAD, without the
//   registry's credentials when the host differs, so the client only ever talks to the proxy;
// - challenges the registry sends replaced by the proxy's own, so the client never sees the registry's realm.
// Errors the proxy answers itself are the distribution spec's JSON errors (the pipeline's 'oci' format).
import { credentialsOf, resolveSecret } from '../../core/connector/index.ts';
import { pathPrefix, staysUnder } from '../../core/connector/inject.ts';
import type { ProxyRequest, ProxyResponse } from '../../core/http1/exchange.ts';
import { hasBody, upstreamRequestHeaders, type ForwardResult, type UpstreamTrust } from '../../core/http1/upstream.ts';
import { reverseToken } from '../auth/credentials.ts';
import { REALM, type ProxyContext } from '../context.ts';
import { Refusal, writeError, type Exchange, type Protocol } from '../pipeline.ts';
import { registryCredentials, RegistryAuth, RegistryAuthError, type RegistryCredentials } from './auth.ts';
import {
  isBaseCheck,
  ociRoute,
  mapUpstreamQuery,
  ociResource,
  prefixNames,
  requiredScopes,
  rewriteLink,
  rewriteRegistryUrl,
  type OciRoute,
} from './route.ts';

const API_VERSION = { 'docker-distribution-api-version': 'registry/2.0' };
const CHALLENGE = `Basic realm="${REALM}"`;
/** Request headers carried over to a followed redirect (never credentials). */
const REDIRECT_HEADERS = [
  'accept',
  'accept-encoding',
  'range',
  'if-range',
  'if-match',
  'if-none-match',
  'if-modified-since',
  'user-agent',
];
const MAX_REDIRECTS = 5;
/** Largest catalog or tag list rewritten under a name prefix. */
const MAX_LIST_BYTES = 32 * 1024 * 1024;

const isRedirect = (status: number) =>
  status === 301 || status === 302 || status === 303 || status === 307 || status === 308;

/** Where a registry request goes: the API version check (answered by the proxy), or a registry path. */
type OciTarget = { kind: 'base' } | { kind: 'registry'; base: URL; target: URL; upstreamPath: string };

/** The upstream exchange of a registry request, its first Authorization fetched. */
type OciOutbound =
  | { kind: 'base'; injected: false }
  | {
      kind: 'registry';
      injected: boolean;
      base: URL;
      target: URL;
      upstreamPath: string;
      creds: RegistryCredentials;
      trust: UpstreamTrust | undefined;
      scopes: string[];
      authorization: string | undefined;
    };

const NO_TOKEN = new Refusal(
  401,
  'a ServiceAccount token is required: log in with any user name and the token as password',
  'no token',
);

/** The OCI protocol: an origin-form request that is a registry request (`accepts`) goes through this one. */
export interface OciProtocol extends Protocol<OciRoute, OciTarget, OciOutbound> {
  /** Whether a request (its Host and target) is a registry request. */
  accepts(host: string | undefined, url: string): boolean;
}

/**
 * The OCI protocol of a proxy: `auth` keeps the registries' challenges and tokens; `isOciConnector` tells
 * whether a Connector named in the address form belongs to an OCI class.
 */
export function ociProtocol(
  auth: RegistryAuth,
  isOciConnector: (namespace: string, name: string) => boolean,
): OciProtocol {
  return {
    mode: 'reverse',
    errors: 'oci',
    challenge: 401,

    accepts: (host, url) => ociRoute(host, url, isOciConnector) !== undefined,

    route(_ctx, req) {
      const route = ociRoute(req.headers.host, req.url ?? '/', isOciConnector) ?? { kind: 'base' };
      const token = reverseToken(req.headers);
      if (!token) return NO_TOKEN;
      // `GET /v2/` names no Connector: only the token is authenticated.
      if (route.kind === 'base') return { token, connectors: [], state: route };
      return { token, connectors: [route], connector: route, state: route };
    },

    target(_ctx, ex) {
      const route = ex.route.state;
      if (route.kind === 'base') {
        if (isBaseCheck(ex.req.url ?? '/')) return { kind: 'base' };
        return new Refusal(
          404,
          'no connector in the repository name: use <proxy>/namespaces/<namespace>/connectors/<name>/<repository>',
          'no connector named',
        );
      }
      let base: URL;
      try {
        base = new URL(ex.connector!.spec.address);
      } catch {
        return new Refusal(502, `connector ${ex.record.connector} has an invalid address`, 'invalid address');
      }
      const upstreamPath = mapUpstreamQuery(route.upstream, route.namePrefix);
      const q = upstreamPath.indexOf('?');
      const target = new URL(base.origin);
      const apiPrefix = pathPrefix(base) + '/v2/';
      target.pathname = pathPrefix(base) + (q === -1 ? upstreamPath : upstreamPath.slice(0, q));
      target.search = q === -1 ? '' : upstreamPath.slice(q);
      if (!staysUnder(target.pathname, apiPrefix.slice(0, -1)))
        return new Refusal(400, 'the path leaves the registry API', 'path escapes /v2/');
      return { kind: 'registry', base, target, upstreamPath };
    },

    async credentials(ctx, ex, aim) {
      if (aim.kind === 'base') return { kind: 'base', injected: false };
      const connector = ex.connector!;
      const resolution = resolveSecret(connector, (ns, name) => ctx.state.secret(ns, name));
      const got = credentialsOf(resolution);
      if (!got.ok) return new Refusal(502, got.message);
      const account = registryCredentials(
        got.credentials,
        resolution.state === 'found' ? `${resolution.ref.namespace}/${resolution.ref.name}` : '',
      );
      if (!account.ok) return new Refusal(502, account.reason);
      const trust = ctx.trust.for(connector);
      const scopes = requiredScopes(ex.req.method ?? 'GET', aim.upstreamPath);
      let authorization: string | undefined;
      try {
        authorization = await auth.authorization(
          ex.record.connector,
          aim.base,
          account.creds,
          scopes,
          false,
          undefined,
          trust,
        );
      } catch (err) {
        if (!(err instanceof RegistryAuthError)) throw err;
        return new Refusal(502, err.message);
      }
      return { ...aim, injected: authorization !== undefined, creds: account.creds, trust, scopes, authorization };
    },

    respond(ctx, ex, out) {
      if (out.kind === 'base') return Promise.resolve(answerBase(ex.req, ex.res));
      return registryExchange(ctx, auth, ex, out);
    },
  };
}

/** `GET /v2/`: the API version check, answered by the proxy once the token is valid. */
function answerBase(req: ProxyRequest, res: ProxyResponse): ForwardResult {
  const body = '{}';
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length, ...API_VERSION });
  res.end(req.method === 'HEAD' ? undefined : body);
  return { status: 200, bytesIn: 0, bytesOut: 0 };
}

/** One registry request: streamed, retried once on the registry's 401, redirects off its API followed. */
async function registryExchange(
  ctx: ProxyContext,
  auth: RegistryAuth,
  ex: Exchange<OciRoute>,
  out: Extract<OciOutbound, { kind: 'registry' }>,
): Promise<ForwardResult> {
  const { req, res } = ex;
  const route = ex.route.state as Extract<OciRoute, { kind: 'connector' }>;
  const method = (req.method ?? 'GET').toUpperCase();
  const { base, target, trust } = out;
  const scheme = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
  const proxyOrigin = `${scheme}://${req.headers.host ?? 'localhost'}`;
  const rewriteUrl = (u: string) => rewriteRegistryUrl(u, base, route.clientBase, proxyOrigin);
  const resource = ociResource(out.upstreamPath);
  const refreshed = (extraScope?: string) =>
    auth.authorization(ex.record.connector, base, out.creds, out.scopes, true, extraScope, trust);
  const failed = (status: number, message: string, reason = message): ForwardResult => {
    writeError(res, 'oci', new Refusal(status, message, reason));
    return { status, bytesIn: 0, bytesOut: 0, error: reason };
  };
  const baseHeaders = upstreamRequestHeaders(req.headers, ['authorization'], ex.route.token);
  const withAuth = (a: string | undefined): Record<string, string | string[]> =>
    a ? { ...baseHeaders, authorization: a } : { ...baseHeaders };
  const responseHeaders = (_status: number, h: Record<string, string | string[]>) => {
    if (typeof h.location === 'string') h.location = rewriteUrl(h.location);
    if (h.link !== undefined)
      h.link = Array.isArray(h.link) ? h.link.map((l) => rewriteLink(l, rewriteUrl)) : rewriteLink(h.link, rewriteUrl);
    if (h['www-authenticate'] !== undefined) h['www-authenticate'] = CHALLENGE;
    return h;
  };

  // Catalog and tag lists under a name prefix: small JSON bodies whose repository names get the prefix.
  if (method === 'GET' && route.namePrefix && (resource.kind === 'catalog' || resource.kind === 'tags')) {
    let a = out.authorization;
    for (let attempt = 0; ; attempt++) {
      let r: Awaited<ReturnType<ProxyContext['upstream']['fetch']>>;
      try {
        const h = withAuth(a);
        delete h['accept-encoding'];
        r = await ctx.upstream.fetch(target, { method: 'GET', headers: h, trust }, MAX_LIST_BYTES);
      } catch (err) {
        return failed(502, `registry ${base.host} failed: ${(err as Error).message}`, 'upstream failed');
      }
      if (r.status === 401 && attempt === 0) {
        try {
          a = await refreshed(auth.learn(base, r.headers['www-authenticate'])?.scope);
        } catch (err) {
          if (!(err instanceof RegistryAuthError)) throw err;
          return failed(502, err.message);
        }
        continue;
      }
      let body = r.body;
      if (r.status === 200) body = prefixNames(r.body, resource.kind, route.namePrefix) ?? r.body;
      const headers: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(r.headers)) {
        if (v === undefined || LIST_DROPPED.has(k)) continue;
        headers[k] = v;
      }
      responseHeaders(r.status, headers);
      headers['content-length'] = String(body.length);
      res.writeHead(r.status, headers);
      res.end(body);
      return { status: r.status, bytesIn: 0, bytesOut: body.length };
    }
  }

  const replayable = !hasBody(req);
  let retried = false;
  let current = target;
  let headers = withAuth(out.authorization);
  let redirects = 0;
  let sendBody = true;
  let bytesIn = 0;
  let bytesOut = 0;
  for (;;) {
    const result = await ctx.upstream.forward({
      req,
      res,
      target: current,
      headers,
      method,
      noBody: !sendBody,
      trust,
      recycleReads: true, // node:http's ServerResponse: write callbacks tell when a chunk has left
      responseHeaders,
      sendError: (r, status, text) => writeError(r, 'oci', new Refusal(status, text)),
      intercept: (status, h) => {
        if (status === 401 && replayable && !retried && current === target) return true;
        if (
          isRedirect(status) &&
          (method === 'GET' || method === 'HEAD') &&
          typeof h.location === 'string' &&
          redirects < MAX_REDIRECTS
        ) {
          // A redirect within the registry API goes to the client (rewritten to the proxy); anything else
          // (blob storage) is followed here. An unparsable Location (e.g. `http://[::1`) is held too, and
          // answered 502 below.
          const loc = URL.parse(h.location, current.href);
          return !loc || rewriteUrl(loc.href) === loc.href;
        }
        return false;
      },
    });
    bytesIn += result.bytesIn;
    bytesOut += result.bytesOut;
    const held = result.intercepted;
    if (!held) return { status: result.status, error: result.error, bytesIn, bytesOut };
    if (held.status === 401) {
      retried = true;
      try {
        headers = withAuth(await refreshed(auth.learn(base, held.headers['www-authenticate'])?.scope));
      } catch (err) {
        if (!(err instanceof RegistryAuthError)) throw err;
        return { ...failed(502, err.message), bytesIn, bytesOut };
      }
      continue;
    }
    // A redirect off the registry API: followed with a fresh header set; the registry's credentials go only to
    // the registry's own origin.
    const next = URL.parse(String(held.headers.location), current.href);
    if (!next)
      return {
        ...failed(502, `registry ${base.host} sent a redirect with an invalid Location`, 'invalid Location'),
        bytesIn,
        bytesOut,
      };
    redirects++;
    const fresh: Record<string, string | string[]> = {};
    for (const k of REDIRECT_HEADERS) {
      const v = req.headers[k];
      if (v !== undefined) fresh[k] = v;
    }
    if (next.origin === base.origin && headers.authorization) fresh.authorization = headers.authorization;
    headers = fresh;
    current = next;
    sendBody = false;
  }
}

/** Response fields of a rewritten list that no longer describe the body sent. */
const LIST_DROPPED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'content-encoding']);
