// Serving the OCI distribution API (route.ts says which request is which). The client authenticates with its
// ServiceAccount token (Basic password with any user name, as `docker login`/skopeo --creds send it, or Bearer);
// a request without one gets 401 with `WWW-Authenticate: Basic realm="connectors-proxy"`, which every registry
// client answers by retrying with its credentials. The proxy then does the registry's own auth (auth.ts) and
// streams the request and response (core/http1/upstream.ts, back-pressure, nothing buffered) with:
// - Location and Link headers on the registry's /v2/ API rewritten to the client-visible proxy path (upload
//   sessions keep their query, e.g. `_state`), absolute when the registry's were absolute;
// - a 401 of the registry on a request without a body retried once with a fresh token;
// - redirects off the registry's API (blob storage hosts) followed by the proxy for GET/HEAD, without the
//   registry's credentials when the host differs, so the client only ever talks to the proxy;
// - challenges the registry sends replaced by the proxy's own, so the client never sees the registry's realm.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { reverseToken } from '../auth/credentials.ts';
import { ReviewError, tokenKey } from '../../core/auth/review.ts';
import { admitted, checkAccess, continueIfExpected, REALM, sourceAddress, type ProxyContext } from '../context.ts';
import { pathPrefix, staysUnder } from '../../core/connector/inject.ts';
import { hasBody, upstreamRequestHeaders } from '../../core/http1/upstream.ts';
import { registryCredentials, RegistryAuth, RegistryAuthError } from './auth.ts';
import {
  isBaseCheck,
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

/** An OCI error response (distribution-spec error codes). */
export function sendOciError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ errors: [{ code, message, detail: null }] });
  const h: Record<string, string | number> = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    ...API_VERSION,
    ...headers,
  };
  if (status === 401) h['www-authenticate'] = CHALLENGE;
  res.writeHead(status, h);
  res.end(res.req?.method === 'HEAD' ? undefined : body);
}

const isRedirect = (status: number) =>
  status === 301 || status === 302 || status === 303 || status === 307 || status === 308;

export interface OciState {
  auth: RegistryAuth;
}

export async function handleOci(
  ctx: ProxyContext,
  oci: OciState,
  route: OciRoute,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const started = performance.now();
  const url = req.url ?? '/';
  const method = (req.method ?? 'GET').toUpperCase();
  const record = {
    mode: 'reverse' as const,
    connector: '',
    serviceAccount: '',
    method,
    path: url,
    status: 0,
    bytesIn: 0,
    bytesOut: 0,
    injected: false,
    reason: undefined as string | undefined,
  };
  const finish = (status: number, reason?: string) => {
    record.status = status;
    record.reason = reason;
    ctx.audit.record({ ...record, durationMs: performance.now() - started });
  };
  const token = reverseToken(req.headers);
  if (!token) {
    sendOciError(
      res,
      401,
      'UNAUTHORIZED',
      'a ServiceAccount token is required: log in with any user name and the token as password',
    );
    return finish(401, 'no token');
  }

  if (route.kind === 'base') {
    try {
      const auth = await ctx.authorizer.authenticate(token, tokenKey(token), sourceAddress(req.socket));
      if (!auth.authenticated) {
        sendOciError(res, 401, 'UNAUTHORIZED', 'the token is invalid, expired or for another audience');
        return finish(401, auth.reason);
      }
      record.serviceAccount = auth.user.username;
    } catch (err) {
      if (!(err instanceof ReviewError)) throw err;
      if (err.status === 429) {
        sendOciError(res, 429, 'TOOMANYREQUESTS', err.message);
        return finish(429, 'too many failed authentications');
      }
      sendOciError(res, 503, 'UNAVAILABLE', 'cannot check the token with the Kubernetes API now');
      return finish(503, 'token review failed');
    }
    if (!isBaseCheck(url)) {
      sendOciError(
        res,
        404,
        'NAME_UNKNOWN',
        'no connector in the repository name: use <proxy>/namespaces/<namespace>/connectors/<name>/<repository>',
      );
      return finish(404, 'no connector named');
    }
    const body = '{}';
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length, ...API_VERSION });
    res.end(method === 'HEAD' ? undefined : body);
    return finish(200);
  }

  record.connector = `${route.namespace}/${route.name}`;
  const access = await checkAccess(ctx, token, [route], req.socket);
  record.serviceAccount = access.serviceAccount;
  if (!access.ok) {
    if (access.status === 401)
      sendOciError(res, 401, 'UNAUTHORIZED', 'the token is invalid, expired or for another audience');
    else if (access.status === 403) sendOciError(res, 403, 'DENIED', `forbidden: ${access.reason}`);
    else if (access.status === 429) sendOciError(res, 429, 'TOOMANYREQUESTS', access.reason);
    else sendOciError(res, access.status, 'UNAVAILABLE', access.reason);
    return finish(access.status, access.reason);
  }
  const connector = ctx.state.connector(route.namespace, route.name);
  if (!connector) {
    sendOciError(res, 404, 'NAME_UNKNOWN', `connector ${record.connector} not found`);
    return finish(404, 'connector not found');
  }
  let base: URL;
  try {
    base = new URL(connector.spec.address);
  } catch {
    sendOciError(res, 502, 'UNAVAILABLE', `connector ${record.connector} has an invalid address`);
    return finish(502, 'invalid address');
  }
  const upstreamPath = mapUpstreamQuery(route.upstream, route.namePrefix);
  const q = upstreamPath.indexOf('?');
  const target = new URL(base.origin);
  const apiPrefix = pathPrefix(base) + '/v2/';
  target.pathname = pathPrefix(base) + (q === -1 ? upstreamPath : upstreamPath.slice(0, q));
  target.search = q === -1 ? '' : upstreamPath.slice(q);
  if (!staysUnder(target.pathname, apiPrefix.slice(0, -1))) {
    sendOciError(res, 400, 'NAME_INVALID', 'the path leaves the registry API');
    return finish(400, 'path escapes /v2/');
  }
  // Counted in flight until the response closes (ServerResponse emits 'close' when it ends or is cut).
  const slot = admitted(ctx, res, access.serviceAccount);
  if (!slot) return finish(429, 'too many requests in flight');
  res.once('close', () => ctx.perServiceAccount.release(slot));
  continueIfExpected(req, res);
  const secretRef = connector.spec.auth?.secretRef;
  const secret = secretRef?.name ? ctx.state.secret(secretRef.namespace || route.namespace, secretRef.name) : undefined;
  const creds = registryCredentials(connector, secret);
  if (!creds.ok) {
    sendOciError(res, 502, 'UNAVAILABLE', creds.reason);
    return finish(502, creds.reason);
  }
  const scheme = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
  const proxyOrigin = `${scheme}://${req.headers.host ?? 'localhost'}`;
  const rewriteUrl = (u: string) => rewriteRegistryUrl(u, base, route.clientBase, proxyOrigin);
  const scopes = requiredScopes(method, upstreamPath);
  const resource = ociResource(upstreamPath);
  const connectorKey = record.connector;
  const namePrefix = route.namePrefix;

  const trust = ctx.trust.for(connector);
  const authorization = async (fresh: boolean, extraScope?: string): Promise<string | undefined> =>
    oci.auth.authorization(connectorKey, base, creds.creds, scopes, fresh, extraScope, trust);
  let authz: string | undefined;
  try {
    authz = await authorization(false);
  } catch (err) {
    if (!(err instanceof RegistryAuthError)) throw err;
    sendOciError(res, 502, 'UNAVAILABLE', err.message);
    return finish(502, err.message);
  }
  record.injected = authz !== undefined;
  const baseHeaders = upstreamRequestHeaders(req.headers, ['authorization'], token);
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
    return finishBuffered();
  }

  const replayable = !hasBody(req);
  let retried = false;
  let current = target;
  let headers = withAuth(authz);
  let redirects = 0;
  let sendBody = true;
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
      intercept: (status, h) => {
        if (status === 401 && replayable && !retried && current === target) return true;
        if (
          isRedirect(status) &&
          (method === 'GET' || method === 'HEAD') &&
          typeof h.location === 'string' &&
          redirects < MAX_REDIRECTS
        ) {
          // A redirect within the registry API goes to the client (rewritten to the proxy); anything else
          // (blob storage) is followed here.
          // An unparsable Location (e.g. `http://[::1`) is held too, and answered 502 below.
          const loc = URL.parse(h.location, current.href);
          return !loc || rewriteUrl(loc.href) === loc.href;
        }
        return false;
      },
    });
    record.bytesIn += result.bytesIn;
    record.bytesOut += result.bytesOut;
    const held = result.intercepted;
    if (!held) return finish(result.status, result.error);
    if (held.status === 401) {
      retried = true;
      const challenge = oci.auth.learn(base, held.headers['www-authenticate']);
      try {
        headers = withAuth(await authorization(true, challenge?.scope));
      } catch (err) {
        if (!(err instanceof RegistryAuthError)) throw err;
        sendOciError(res, 502, 'UNAVAILABLE', err.message);
        return finish(502, err.message);
      }
      continue;
    }
    // A redirect off the registry API: follow it with a fresh header set; the registry's credentials go only
    // to the registry's own origin.
    const next = URL.parse(String(held.headers.location), current.href);
    if (!next) {
      sendOciError(res, 502, 'UNAVAILABLE', `registry ${base.host} sent a redirect with an invalid Location`);
      return finish(502, 'invalid Location');
    }
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

  async function finishBuffered(): Promise<void> {
    let a = authz;
    for (let attempt = 0; ; attempt++) {
      let r: Awaited<ReturnType<ProxyContext['upstream']['fetch']>>;
      try {
        const h = withAuth(a);
        delete h['accept-encoding'];
        r = await ctx.upstream.fetch(target, { method: 'GET', headers: h, trust }, 32 * 1024 * 1024);
      } catch (err) {
        sendOciError(res, 502, 'UNAVAILABLE', `registry ${base.host} failed: ${(err as Error).message}`);
        return finish(502, 'upstream failed');
      }
      if (r.status === 401 && attempt === 0) {
        const challenge = oci.auth.learn(base, r.headers['www-authenticate']);
        try {
          a = await authorization(true, challenge?.scope);
        } catch (err) {
          if (!(err instanceof RegistryAuthError)) throw err;
          sendOciError(res, 502, 'UNAVAILABLE', err.message);
          return finish(502, err.message);
        }
        continue;
      }
      let body = r.body;
      if (r.status === 200) body = prefixNames(r.body, resource.kind as 'catalog' | 'tags', namePrefix) ?? r.body;
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(r.headers)) {
        if (
          v === undefined ||
          ['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'content-encoding'].includes(k)
        )
          continue;
        out[k] = v;
      }
      responseHeaders(r.status, out);
      out['content-length'] = String(body.length);
      res.writeHead(r.status, out);
      res.end(body);
      record.bytesOut = body.length;
      return finish(r.status);
    }
  }
}
