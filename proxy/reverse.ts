// Reverse mode (PRX-05): the client calls the Connector's proxy address. The Connector is named by the host
// (`c-{name}.{ns}.svc[.cluster.local][:port]`) or by the path (`/namespaces/{ns}/connectors/{name}/...`, the
// prefix stripped before forwarding). The request goes to spec.address (with its path prefix) + the rest of
// the path + the query, with the Connector's credentials instead of the client's token.
import { regoRequest } from '../core/opa/index.ts';
import { reverseToken } from './auth/credentials.ts';
import type { AuditRecord } from './audit.ts';
import type { ProxyRequest, ProxyResponse } from '../core/http1/exchange.ts';
import { admitted, checkAccess, continueIfExpected, deny, injectCredentials, type ProxyContext } from './context.ts';
import { rewriteLocation, upstreamUrl, withoutQueryValues } from '../core/connector/upstream-url.ts';
import { withoutTokenInQuery } from './rules/request-rules.ts';
import { upstreamRequestHeaders, sendText } from '../core/http1/upstream.ts';

export { rewriteLocation, upstreamUrl };

export interface ReverseTarget {
  namespace: string;
  name: string;
  /** The client-visible prefix naming the Connector ('' in host form). */
  prefix: string;
  /** Path and query to append to the Connector address. */
  rest: string;
}

const HOST_FORM =
  /^c-([a-z0-9]([-a-z0-9.]*[a-z0-9])?)\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.svc(\.cluster\.local)?\.?(:\d+)?$/i;
const PATH_FORM = /^\/namespaces\/([^/?#]+)\/connectors\/([^/?#]+)(?=[/?#]|$)/;

/** Which Connector a reverse-mode request is for (pure); undefined when neither host nor path names one. */
export function reverseTarget(host: string | undefined, url: string): ReverseTarget | undefined {
  const h = host ? HOST_FORM.exec(host) : null;
  if (h) return { namespace: h[3].toLowerCase(), name: h[1].toLowerCase(), prefix: '', rest: url };
  const p = PATH_FORM.exec(url);
  if (p) {
    let namespace: string, name: string;
    try {
      namespace = p[1].includes('%') ? decodeURIComponent(p[1]) : p[1];
      name = p[2].includes('%') ? decodeURIComponent(p[2]) : p[2];
    } catch {
      return undefined;
    }
    return { namespace, name, prefix: p[0], rest: url.slice(p[0].length) || '/' };
  }
  return undefined;
}

/** Audits a reverse-mode request that ends with `status`. */
function finish(ctx: ProxyContext, record: AuditRecord, started: number, status: number, reason?: string): void {
  record.status = status;
  record.reason = reason;
  record.durationMs = performance.now() - started;
  ctx.audit.record(record);
}

export async function handleReverse(ctx: ProxyContext, req: ProxyRequest, res: ProxyResponse): Promise<void> {
  const started = performance.now();
  const url = req.url ?? '/';
  // The audit record itself, filled in as the request goes and handed over once at the end.
  const record: AuditRecord = {
    mode: 'reverse',
    connector: '',
    serviceAccount: '',
    method: req.method ?? '',
    path: url,
    status: 0,
    bytesIn: 0,
    bytesOut: 0,
    durationMs: 0,
    injected: false,
    reason: undefined,
  };
  const target = reverseTarget(req.headers.host, url);
  if (!target) {
    sendText(
      res,
      404,
      'no connector in the request: use the host c-<name>.<namespace>.svc or the path /namespaces/<namespace>/connectors/<name>/',
    );
    return finish(ctx, record, started, 404, 'no connector named');
  }
  record.connector = target.namespace + '/' + target.name;
  const connector = ctx.state.connector(target.namespace, target.name);
  const cls = connector && ctx.state.connectorClass(connector.spec.connectorClassName);

  let token = '';
  let rest = target.rest;
  const extractor = cls?.spec?.proxy?.authExtractor?.rego;
  if (extractor) {
    try {
      token = await ctx.policies.extract(
        extractor,
        regoRequest({ method: req.method ?? 'GET', path: url, host: req.headers.host, headers: req.headers }),
      );
    } catch (err) {
      ctx.log.warn('authExtractor failed; falling back to Authorization', {
        connector: record.connector,
        error: (err as Error).message,
      });
    }
    // A token the extractor read from the query (e.g. GitLab's ?private_token=) does not go on to the tool.
    if (token) rest = withoutTokenInQuery(rest, token);
  }
  if (!token) token = reverseToken(req.headers);
  if (!token) {
    deny(res, 401, 'a ServiceAccount token is required: Basic (any user name, the token as password) or Bearer');
    return finish(ctx, record, started, 401, 'no token');
  }
  // Cached decisions and header credentials come without a promise: no await (microtask turns) for them.
  const checked = checkAccess(ctx, token, [target], req.socket);
  const access = checked instanceof Promise ? await checked : checked;
  record.serviceAccount = access.serviceAccount;
  if (!access.ok) {
    deny(
      res,
      access.status,
      access.status === 401
        ? 'the token is invalid, expired or for another audience'
        : access.status === 403
          ? 'forbidden: ' + access.reason
          : access.reason,
    );
    return finish(ctx, record, started, access.status, access.reason);
  }
  if (!connector) {
    sendText(res, 404, `connector ${record.connector} not found`);
    return finish(ctx, record, started, 404, 'connector not found');
  }
  const address = connector.spec.address;
  let upstream: URL;
  try {
    upstream = upstreamUrl(address, rest);
  } catch (err) {
    const escapes = /escapes/.test((err as Error).message);
    sendText(
      res,
      escapes ? 400 : 502,
      escapes ? 'the path leaves the connector address' : `connector ${record.connector} has an invalid address`,
    );
    return finish(ctx, record, started, escapes ? 400 : 502, escapes ? 'path escapes prefix' : 'invalid address');
  }
  const slot = admitted(ctx, res, access.serviceAccount);
  if (!slot) return finish(ctx, record, started, 429, 'too many requests in flight');
  try {
    continueIfExpected(req, res);
    const headers = upstreamRequestHeaders(req.headers, STRIP_AUTHORIZATION, token);
    const injecting = injectCredentials(ctx, req, connector, upstream, headers);
    const prepared = injecting instanceof Promise ? await injecting : injecting;
    if (!prepared.ok) {
      sendText(res, prepared.status, prepared.reason);
      return finish(ctx, record, started, prepared.status, prepared.reason);
    }
    record.injected = prepared.injected;
    const result = await ctx.upstream.forward({
      req,
      res,
      target: prepared.target,
      headers: prepared.headers,
      body: prepared.body,
      trust: ctx.trust.for(connector),
      // The proxy's own URL of the Connector is only needed for a Location header: built then.
      rewriteLocation: (loc) =>
        withoutQueryValues(rewriteLocation(loc, address, proxyBase(req, target.prefix)), prepared.queryCredentials),
    });
    record.bytesIn = result.bytesIn;
    record.bytesOut = result.bytesOut;
    finish(ctx, record, started, result.status, result.error);
  } finally {
    ctx.perServiceAccount.release(slot);
  }
}

const STRIP_AUTHORIZATION = ['authorization'];

/** The client-visible URL of the Connector: scheme and host the client used, then its prefix. */
function proxyBase(req: ProxyRequest, prefix: string): string {
  const scheme = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
  return `${scheme}://${req.headers.host ?? 'localhost'}${prefix}`;
}
