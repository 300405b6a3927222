// Reverse mode: the client calls the Connector's proxy address. The Connector is named by the host
// (`c-{name}.{ns}.svc[.cluster.local][:port]`) or by the path (`/namespaces/{ns}/connectors/{name}/...`, the
// prefix stripped before forwarding). The request goes to spec.address (with its path prefix) + the rest of
// the path + the query, with the Connector's credentials instead of the client's token.
import type { Connector } from '../core/api/index.ts';
import { regoRequest } from '../core/opa/index.ts';
import { reverseToken } from './auth/credentials.ts';
import type { ProxyRequest } from '../core/http1/exchange.ts';
import { injectCredentials, type Prepared } from '../core/connector/inject-request.ts';
import type { ProxyContext } from './context.ts';
import { Refusal, type Exchange, type Outbound, type Protocol, type Route } from './pipeline.ts';
import {
  PathEscapesAddress,
  rewriteLocation,
  upstreamUrl,
  withoutQueryValues,
} from '../core/connector/upstream-url.ts';
import { withoutTokenInQuery } from './rules/request-rules.ts';
import { upstreamRequestHeaders } from '../core/http1/upstream.ts';

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

const NO_CONNECTOR = new Refusal(
  404,
  'no connector in the request: use the host c-<name>.<namespace>.svc or the path /namespaces/<namespace>/connectors/<name>/',
  'no connector named',
);
const NO_TOKEN = new Refusal(
  401,
  'a ServiceAccount token is required: Basic (any user name, the token as password) or Bearer',
  'no token',
);

/** Reverse HTTP: the Connector named by the host or the path, its address the upstream. */
export const reverseProtocol: Protocol<ReverseTarget, URL> = {
  mode: 'reverse',
  errors: 'text',
  challenge: 401,

  route(ctx, req) {
    const target = reverseTarget(req.headers.host, req.url ?? '/');
    if (!target) return NO_CONNECTOR;
    const connector = ctx.state.connector(target.namespace, target.name);
    const extractor =
      connector && ctx.state.connectorClass(connector.spec.connectorClassName)?.spec?.proxy?.authExtractor?.rego;
    if (!extractor) return reverseRoute(target, connector, reverseToken(req.headers));
    return extracted(ctx, req, extractor, target).then((token) =>
      // A token the extractor read from the query (e.g. GitLab's ?private_token=) does not go on to the tool.
      token
        ? reverseRoute({ ...target, rest: withoutTokenInQuery(target.rest, token) }, connector, token)
        : reverseRoute(target, connector, reverseToken(req.headers)),
    );
  },

  target(_ctx, ex) {
    try {
      return upstreamUrl(ex.connector!.spec.address, ex.route.state.rest);
    } catch (err) {
      return err instanceof PathEscapesAddress
        ? new Refusal(400, 'the path leaves the connector address', 'path escapes prefix')
        : new Refusal(502, `connector ${ex.record.connector} has an invalid address`, 'invalid address');
    }
  },

  credentials(ctx, ex, upstream) {
    const headers = upstreamRequestHeaders(ex.req.headers, STRIP_AUTHORIZATION, ex.route.token);
    const injecting = injectCredentials(ctx, ex.req, ex.connector!, upstream, headers);
    return injecting instanceof Promise
      ? injecting.then((prepared) => outbound(ctx, ex, prepared))
      : outbound(ctx, ex, injecting);
  },
};

/** The route of a Connector (as the cache has it: null when it does not exist) and a token; 401 without one. */
function reverseRoute(
  target: ReverseTarget,
  found: Connector | undefined,
  token: string,
): Route<ReverseTarget> | Refusal {
  return token ? { token, connectors: [target], connector: target, found: found ?? null, state: target } : NO_TOKEN;
}

/** The upstream request of the credentials step. */
function outbound(ctx: ProxyContext, ex: Exchange<ReverseTarget>, prepared: Prepared): Outbound | Refusal {
  if (!prepared.ok) return new Refusal(prepared.status, prepared.reason);
  const { req, res } = ex;
  const connector = ex.connector!;
  const address = connector.spec.address;
  const prefix = ex.route.state.prefix;
  return {
    req,
    res,
    target: prepared.target,
    headers: prepared.headers,
    body: prepared.body,
    injected: prepared.injected,
    trust: ctx.trust.for(connector),
    // The proxy's own URL of the Connector is only needed for a Location header: built then.
    rewriteLocation: (loc) =>
      withoutQueryValues(rewriteLocation(loc, address, proxyBase(req, prefix)), prepared.queryCredentials),
  };
}

/** The token the class's authExtractor.rego finds in the request; '' when none (or the policy fails). */
async function extracted(ctx: ProxyContext, req: ProxyRequest, rego: string, target: ReverseTarget): Promise<string> {
  try {
    return await ctx.policies.extract(
      rego,
      regoRequest({ method: req.method ?? 'GET', path: req.url ?? '/', host: req.headers.host, headers: req.headers }),
    );
  } catch (err) {
    ctx.log.warn('authExtractor failed; falling back to Authorization', {
      connector: `${target.namespace}/${target.name}`,
      error: (err as Error).message,
    });
    return '';
  }
}

const STRIP_AUTHORIZATION = ['authorization'];

/** The client-visible URL of the Connector: scheme and host the client used, then its prefix. */
function proxyBase(req: ProxyRequest, prefix: string): string {
  const scheme = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
  return `${scheme}://${req.headers.host ?? 'localhost'}${prefix}`;
}
