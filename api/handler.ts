// One Connectors API request, from route to response (no framework: express routes to it, and the listener's
// front calls it directly for bodiless GET/HEAD). In order:
//   route      → 404 for a path that names no Connector
//   method     → 405 for writes unless enable-connector-apis-write-passthrough, and for other methods always
//                (the route layer: before authentication, so even cluster-admin gets it)
//   token      → Bearer only; TokenReview → 401
//   get        → SubjectAccessReview `get` on the Connector → 403; then the Connector must exist → 404
//   operation  → the class's spec.api.openapi decides provider and address (openapi.ts)
//   apis       → with enable-connector-apis-permissions: `connectors/apis[/<class>[<template>]]` for the verb
//                (permissions.ts; the class's permissions.rego may name the verb) → 403
//   forward    → `api`: the class API with the plugin headers; `proxy`: the tool with the Connector's
//                credentials injected as the proxy injects them (core/connector), streamed both ways.
// Every answer of the API's own is a Kubernetes Status object; the tool's and the plugin's answers pass unchanged.
import type { SecretLike } from '../core/kube/types.ts';
import type { ConnectorTrust } from '../core/connector/ca-pool.ts';
import { secretRefOf } from '../core/connector/secret.ts';
import { injectCredentials, readBody, type InjectionContext, type Prepared } from '../core/connector/inject-request.ts';
import {
  PathEscapesAddress,
  upstreamUrl,
  rewriteLocation,
  withoutQueryValues,
} from '../core/connector/upstream-url.ts';
import type { Authorizer, Authentication, ResourceCheck } from '../core/auth/review.ts';
import { ReviewError } from '../core/auth/review.ts';
import { connectionTokenKey } from '../core/auth/token-key.ts';
import { continueIfExpected, sourceAddress, type ProxyRequest, type ProxyResponse } from '../core/http1/exchange.ts';
import { upstreamRequestHeaders, hasBody, type Upstream } from '../core/http1/upstream.ts';
import type { ConnectorsState } from '../core/kube/state.ts';
import type { ConcurrencyLimit } from '../core/util/limits.ts';
import type { Logger } from '../core/observability/log.ts';
import { isJsonMediaType, mediaType, regoRequest } from '../core/opa/request.ts';
import { PermissionsPolicyError } from '../core/opa/permissions.ts';
import { PolicyNotReadyError, type Policies } from '../core/opa/policies.ts';
import { pluginHeaders, isPluginHeader } from '../core/plugin/contract.ts';
import { sendStatus } from '../core/plugin/status.ts';
import type { AccessLog, AccessRecord } from './access-log.ts';
import { matchOperation, OpenApiError, selectAddress, type OperationMatch } from './openapi.ts';
import { apisSubresources, methodVerb, policyVerb, READ_METHODS, WRITE_METHODS } from './permissions.ts';
import { parseApiRoute, type ApiRoute } from './route.ts';

export const REALM = 'connectors-api';

export interface ApiContext extends InjectionContext {
  state: ConnectorsState;
  /** Custom CAs per Connector for tools over TLS (enable-custom-ca-certs), as the proxy trusts them. */
  trust: ConnectorTrust;
  authorizer: Authorizer;
  policies: Policies;
  /** Requests to tools. */
  upstream: Upstream;
  /** Requests to class API plugins (may trust extra CAs). */
  plugins: Upstream;
  access: AccessLog;
  log: Logger;
  /** Requests each user may have in flight to tools and plugins. */
  perUser: ConcurrencyLimit;
}

type Authenticated = Extract<Authentication, { authenticated: true }>;

/** `Authorization: Bearer <token>`: the token, or '' (any other scheme, or none). */
export function bearerToken(value: string | string[] | undefined): string {
  const v = Array.isArray(value) ? (value.length === 1 ? value[0] : '') : value;
  if (!v) return '';
  // The usual `Bearer <token>` with nothing to trim, without running a pattern over a ~1 KiB token: the
  // front and node:http already refused control characters in field values, so only spaces and tabs remain.
  if (v.startsWith('Bearer ') && v.length > 7 && v.indexOf(' ', 7) === -1 && v.indexOf('\t') === -1) return v.slice(7);
  const m = /^[ \t]*bearer[ \t]+([^ \t]+)[ \t]*$/i.exec(v);
  return m ? m[1] : '';
}

const ALLOW_READ = 'GET, HEAD, OPTIONS';
const ALLOW_ALL = 'GET, HEAD, OPTIONS, POST, PUT, DELETE, PATCH';

/** Headers that never go to a tool or a plugin besides the hop-by-hop ones: the client's own credentials. */
const STRIP_TO_TOOL = ['authorization'];

/** The connection's scheme and host, then the route's prefix: where the client reaches this Connector's API. */
function apiBase(req: ProxyRequest, route: ApiRoute): string {
  const scheme = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
  return `${scheme}://${req.headers.host ?? 'localhost'}${route.prefix}`;
}

/** An answer of the API's own: a Status object, audited. */
/**
 * The upstream URL of a request under `address`, or the refusal: 400 when the client's path leaves `what`,
 * 502 with `invalid` when the address itself does not parse.
 */
function targetOf(
  address: string,
  route: ApiRoute,
  what: string,
  invalid: string,
): URL | { status: number; message: string } {
  try {
    return upstreamUrl(address, route.apiPath + route.query);
  } catch (err) {
    return err instanceof PathEscapesAddress
      ? { status: 400, message: `the path leaves ${what}` }
      : { status: 502, message: invalid };
  }
}

function answer(
  ctx: ApiContext,
  res: ProxyResponse,
  record: AccessRecord,
  started: number,
  code: number,
  message: string,
  headers?: Record<string, string>,
): void {
  sendStatus(res, code, message, headers);
  finish(ctx, record, started, code, message);
}

function finish(ctx: ApiContext, record: AccessRecord, started: number, status: number, reason?: string): void {
  record.status = status;
  record.reason = reason;
  record.durationMs = performance.now() - started;
  ctx.access.record(record);
}

const sendError = (res: ProxyResponse, status: number, text: string) => sendStatus(res, status, text);

/**
 * Whether one SubjectAccessReview allows: at once from the cache when it can (no promise), else after asking.
 * Throws ReviewError when the apiserver cannot be asked.
 */
function allowed(ctx: ApiContext, auth: Authenticated, check: ResourceCheck, key: string): boolean | Promise<boolean> {
  const cached = ctx.authorizer.cachedResourceAccess(check, key);
  return cached !== undefined ? cached : ctx.authorizer.resourceAccess(auth, check, key);
}

/** Handles one request; a promise when it waits for something (a review, the tool), nothing when answered at once. */
export function handleApiRequest(ctx: ApiContext, req: ProxyRequest, res: ProxyResponse): Promise<void> | void {
  const started = performance.now();
  const url = req.url ?? '/';
  const method = req.method ?? 'GET';
  const record: AccessRecord = {
    connector: '',
    user: '',
    method,
    path: url,
    status: 0,
    provider: '',
    template: '',
    durationMs: 0,
    reason: undefined,
  };
  const route = parseApiRoute(url);
  if (!route) {
    return answer(
      ctx,
      res,
      record,
      started,
      404,
      'no connector in the path: use /connectors/v1alpha1/namespaces/<namespace>/connectors/<name>/path/<api-path>' +
        ' or /connectors/v1alpha1/<namespace>/<name>/path/<api-path>',
    );
  }
  record.connector = route.namespace + '/' + route.name;
  const write = WRITE_METHODS.has(method);
  if (!write && !READ_METHODS.has(method)) {
    return answer(ctx, res, record, started, 405, `method ${method} is not allowed`, { allow: ALLOW_ALL });
  }
  if (write && !ctx.state.flags.enabled('enable-connector-apis-write-passthrough')) {
    return answer(
      ctx,
      res,
      record,
      started,
      405,
      `method ${method} is not allowed: write methods pass through only with the feature flag enable-connector-apis-write-passthrough`,
      { allow: ALLOW_READ },
    );
  }
  const token = bearerToken(req.headers.authorization);
  if (!token) {
    return answer(ctx, res, record, started, 401, 'a Bearer token is required (Authorization: Bearer <token>)', {
      'www-authenticate': `Bearer realm="${REALM}"`,
    });
  }
  const key = connectionTokenKey(token, req.socket);
  const cachedAuth = ctx.authorizer.cachedAuthentication(key);
  if (cachedAuth) return authorized(ctx, req, res, record, started, route, token, key, cachedAuth);
  return ctx.authorizer.authenticate(token, key, sourceAddress(req.socket)).then(
    (auth) => authorized(ctx, req, res, record, started, route, token, key, auth),
    (err) => reviewFailed(ctx, res, record, started, err),
  );
}

function reviewFailed(ctx: ApiContext, res: ProxyResponse, record: AccessRecord, started: number, err: unknown): void {
  if (!(err instanceof ReviewError)) throw err;
  if (err.status === 429) return answer(ctx, res, record, started, 429, err.message, { 'retry-after': '1' });
  ctx.log.warn('cannot check the client token', { error: err.message });
  return answer(ctx, res, record, started, 503, 'cannot check the token with the Kubernetes API now', {
    'retry-after': '1',
  });
}

function authorized(
  ctx: ApiContext,
  req: ProxyRequest,
  res: ProxyResponse,
  record: AccessRecord,
  started: number,
  route: ApiRoute,
  token: string,
  key: string,
  auth: Authentication,
): Promise<void> | void {
  if (!auth.authenticated)
    return answer(ctx, res, record, started, 401, 'the token is invalid, expired or for another audience', {
      'www-authenticate': `Bearer realm="${REALM}"`,
    });
  record.user = auth.user.username;
  const check: ResourceCheck = { verb: 'get', resource: 'connectors', namespace: route.namespace, name: route.name };
  let may: boolean | Promise<boolean>;
  try {
    may = allowed(ctx, auth, check, key);
  } catch (err) {
    return reviewFailed(ctx, res, record, started, err);
  }
  const go = (ok: boolean) => {
    if (!ok) {
      return answer(
        ctx,
        res,
        record,
        started,
        403,
        `connectors.connectors.alauda.io ${JSON.stringify(route.name)} is forbidden: User ${JSON.stringify(auth.user.username)}` +
          ` cannot get resource "connectors" in API group "connectors.alauda.io" in the namespace ${JSON.stringify(route.namespace)}`,
      );
    }
    return admitted(ctx, res, record, started, auth, () =>
      serve(ctx, req, res, record, started, route, token, key, auth),
    );
  };
  return may instanceof Promise ? may.then(go, (err) => reviewFailed(ctx, res, record, started, err)) : go(may);
}

/**
 * `work` counted as one of the user's requests in flight until it ends; or 429 when the user already has as
 * many as the API lets one have (one user's slow readers then cannot hold every connection to a tool).
 */
function admitted(
  ctx: ApiContext,
  res: ProxyResponse,
  record: AccessRecord,
  started: number,
  auth: Authenticated,
  work: () => Promise<void> | void,
): Promise<void> | void {
  const slot = ctx.perUser.acquire(auth.user.username);
  if (!slot)
    return answer(
      ctx,
      res,
      record,
      started,
      429,
      `${auth.user.username} has ${ctx.perUser.max} requests in flight through the Connectors API already: retry later`,
      { 'retry-after': '1' },
    );
  let out: Promise<void> | void;
  try {
    out = work();
  } catch (err) {
    ctx.perUser.release(slot);
    throw err;
  }
  if (!(out instanceof Promise)) return ctx.perUser.release(slot);
  return out.finally(() => ctx.perUser.release(slot));
}

/** The Connector, its class and the operation; then the apis check (with the flag) and the forwarding. */
function serve(
  ctx: ApiContext,
  req: ProxyRequest,
  res: ProxyResponse,
  record: AccessRecord,
  started: number,
  route: ApiRoute,
  token: string,
  key: string,
  auth: Authenticated,
): Promise<void> | void {
  const method = req.method ?? 'GET';
  const connector = ctx.state.connector(route.namespace, route.name);
  if (!connector)
    return answer(
      ctx,
      res,
      record,
      started,
      404,
      `connectors.connectors.alauda.io ${JSON.stringify(route.name)} not found`,
    );
  const className = connector.spec.connectorClassName;
  const cls = ctx.state.connectorClass(className);
  if (!cls)
    return answer(
      ctx,
      res,
      record,
      started,
      503,
      `connectorclass ${JSON.stringify(className)} of the connector not found`,
    );
  let op: OperationMatch;
  try {
    op = matchOperation(cls.spec?.api?.openapi, method, route.apiPath);
  } catch (err) {
    if (!(err instanceof OpenApiError)) throw err;
    return answer(ctx, res, record, started, 400, `connectorclass ${JSON.stringify(className)}: ${err.message}`);
  }
  record.template = op.template ?? '';
  record.provider = op.providerType;
  const go = (body: Buffer | undefined) =>
    op.providerType === 'api'
      ? toPlugin(ctx, req, res, record, started, route, token, connector, cls, body)
      : toTool(ctx, req, res, record, started, route, token, connector, op, body);
  // The client may send its body now (a permissions policy may read it; the tool gets it).
  continueIfExpected(req, res);
  if (!ctx.state.flags.enabled('enable-connector-apis-permissions')) return go(undefined);
  return checkApis(ctx, req, res, record, started, route, key, auth, cls, op).then((checked) =>
    checked.ok ? go(checked.body) : undefined,
  );
}

/**
 * enable-connector-apis-permissions: the verb (by the method or the class's permissions.rego) on one of the
 * connectors/apis levels. Answers the client itself when refused; `body` is a JSON body the policy read.
 */
async function checkApis(
  ctx: ApiContext,
  req: ProxyRequest,
  res: ProxyResponse,
  record: AccessRecord,
  started: number,
  route: ApiRoute,
  key: string,
  auth: Authenticated,
  cls: ConnectorClass,
  op: OperationMatch,
): Promise<{ ok: boolean; body?: Buffer }> {
  const refused = { ok: false };
  const method = req.method ?? 'GET';
  const className = cls.metadata.name!;
  let body: Buffer | undefined;
  let verb: string | undefined;
  const rego = cls.spec?.api?.permissions?.rego;
  if (rego?.trim()) {
    if (hasBody(req) && isJsonMediaType(mediaType(one(req.headers['content-type'])))) {
      body = await readBody(req, ctx.maxInjectBodyBytes);
      if (!body) {
        answer(
          ctx,
          res,
          record,
          started,
          413,
          `a JSON body larger than ${ctx.maxInjectBodyBytes} bytes cannot be checked by the permissions policy`,
        );
        return refused;
      }
    }
    try {
      const v = await ctx.policies.permission(
        rego,
        regoRequest({ method, path: route.apiPath + route.query, host: req.headers.host, headers: req.headers, body }),
      );
      verb = policyVerb(v, method);
    } catch (err) {
      if (err instanceof PolicyNotReadyError) answer(ctx, res, record, started, 503, err.message);
      else if (err instanceof PermissionsPolicyError)
        answer(ctx, res, record, started, 500, `connectorclass ${JSON.stringify(className)}: ${err.message}`);
      else throw err;
      return refused;
    }
  } else verb = methodVerb(method);
  const subresources = apisSubresources(className, op.template);
  try {
    for (const subresource of subresources) {
      const a = allowed(
        ctx,
        auth,
        { verb: verb!, resource: 'connectors', subresource, namespace: route.namespace, name: route.name },
        key,
      );
      if (a instanceof Promise ? await a : a) return { ok: true, body };
    }
  } catch (err) {
    reviewFailed(ctx, res, record, started, err);
    return refused;
  }
  answer(
    ctx,
    res,
    record,
    started,
    403,
    `User ${JSON.stringify(auth.user.username)} cannot ${verb} connectors/${subresources[subresources.length - 1]} of connector ${record.connector}` +
      ` (enable-connector-apis-permissions is on: a role must grant ${verb} on one of ${subresources.map((s) => 'connectors/' + s).join(', ')})`,
  );
  return refused;
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

type Connector = NonNullable<ReturnType<ConnectorsState['connector']>>;
type ConnectorClass = NonNullable<ReturnType<ConnectorsState['connectorClass']>>;

function toTool(
  ctx: ApiContext,
  req: ProxyRequest,
  res: ProxyResponse,
  record: AccessRecord,
  started: number,
  route: ApiRoute,
  token: string,
  connector: Connector,
  op: OperationMatch,
  body: Buffer | undefined,
): Promise<void> | void {
  let address: string;
  try {
    address = selectAddress(op.address, connector);
  } catch (err) {
    if (!(err instanceof OpenApiError)) throw err;
    return answer(
      ctx,
      res,
      record,
      started,
      400,
      `connectorclass ${JSON.stringify(connector.spec.connectorClassName)}: ${err.message}`,
    );
  }
  const target = targetOf(
    address,
    route,
    'the connector address',
    `connector ${record.connector} has an invalid address`,
  );
  if (!(target instanceof URL)) return answer(ctx, res, record, started, target.status, target.message);
  const headers = upstreamRequestHeaders(req.headers, STRIP_TO_TOOL, token);
  const forward = (prepared: Prepared): Promise<void> | void => {
    if (!prepared.ok) return answer(ctx, res, record, started, prepared.status, prepared.reason);
    return ctx.upstream
      .forward({
        req,
        res,
        target: prepared.target,
        headers: prepared.headers,
        body: prepared.body ?? body,
        trust: ctx.trust.for(connector),
        rewriteLocation: (loc) =>
          withoutQueryValues(rewriteLocation(loc, address, apiBase(req, route)), prepared.queryCredentials),
        sendError,
      })
      .then((result) => finish(ctx, record, started, result.status, result.error));
  };
  // Header credentials come without a promise; a generator.rego is evaluated first.
  const injecting = injectCredentials(ctx, req, connector, target, headers);
  return injecting instanceof Promise ? injecting.then(forward) : forward(injecting);
}

async function toPlugin(
  ctx: ApiContext,
  req: ProxyRequest,
  res: ProxyResponse,
  record: AccessRecord,
  started: number,
  route: ApiRoute,
  token: string,
  connector: Connector,
  cls: ConnectorClass,
  body: Buffer | undefined,
): Promise<void> {
  const method = req.method ?? 'GET';
  const className = cls.metadata.name!;
  if (WRITE_METHODS.has(method))
    return answer(
      ctx,
      res,
      record,
      started,
      405,
      `method ${method} is not allowed on a custom API operation of connectorclass ${JSON.stringify(className)}` +
        `: write methods pass through only to the tool (x-provider-type: proxy)`,
      { allow: ALLOW_READ },
    );
  const base = cls.status?.api?.address?.url;
  if (!base)
    return answer(ctx, res, record, started, 400, `api address of connectorclass '${className}' is not resolved`);
  // The Secret as it is stored (type and base64 data), by the same-namespace rule of core/connector.
  let secret: SecretLike | undefined;
  const ref = secretRefOf(connector);
  if (ref.state === 'foreign') return answer(ctx, res, record, started, 502, ref.message);
  if (ref.state === 'local') {
    secret = ctx.state.secret(ref.ref.namespace, ref.ref.name);
    if (!secret)
      return answer(
        ctx,
        res,
        record,
        started,
        502,
        `Secret ${JSON.stringify(ref.ref.name)} of namespace ${JSON.stringify(ref.ref.namespace)} not found`,
      );
  }
  const target = targetOf(
    base,
    route,
    'the class API address',
    `api address of connectorclass '${className}' is invalid`,
  );
  if (!(target instanceof URL)) return answer(ctx, res, record, started, target.status, target.message);
  const headers = upstreamRequestHeaders(req.headers, STRIP_TO_TOOL, token);
  for (const k in headers) if (isPluginHeader(k)) delete headers[k];
  Object.assign(headers, pluginHeaders(connector.spec.address, secret));
  const result = await ctx.plugins.forward({ req, res, target, headers, body, sendError });
  finish(ctx, record, started, result.status, result.error);
}
