// The proxy's one exchange pipeline. Every request through the proxy, whatever its protocol, takes the same steps:
//
//   hooks → identify → authenticate + authorise → connector → target → admit → credentials → forward → audit
//
// - hooks: request rules that hold for every protocol (TRACE is refused: it would echo injected credentials);
// - identify (`Protocol.route`): which Connectors the request names and the client's ServiceAccount token;
// - authenticate + authorise: TokenReview, then SubjectAccessReview on every named Connector (checkAccess);
// - connector: the Connector the request goes to, looked up only once the client may know whether it exists;
// - target (`Protocol.target`): where upstream the request goes, or why it may not go there;
// - admit: one slot of the ServiceAccount's requests in flight (429 beyond the cap), then `100 Continue`;
// - credentials (`Protocol.credentials`): the upstream request with the Connector's credentials in it;
// - forward: streamed by core/http1's Upstream, or the protocol's own response step (`Protocol.respond`);
// - audit: one line and the metrics, for every request, answered by the tool or refused by the proxy.
//
// The proxy's own answers (401, 403, 404, 407, 429, 502, 503, ...) are all written by `writeError`, in the
// protocol's error format: plain text, or the OCI distribution spec's JSON errors for registry clients.
// Cached decisions and header credentials come without a promise: a proxied request whose token and Connector
// were seen before waits for no microtask turn in these steps.
import type { Connector } from '../core/api/index.ts';
import type { ProxyRequest, ProxyResponse } from '../core/http1/exchange.ts';
import { continueIfExpected } from '../core/http1/exchange.ts';
import type { ForwardResult, Forwarding } from '../core/http1/upstream.ts';
import { sendText } from '../core/http1/upstream.ts';
import type { ConnectorRef } from '../core/connector/index.ts';
import type { AuditRecord } from './audit.ts';
import { checkAccess, REALM, type Access, type ProxyContext } from './context.ts';
import { ALLOWED_METHODS, refusedMethod } from './rules/request-rules.ts';

/** An answer the proxy gives itself instead of the tool's. */
export class Refusal {
  readonly status: number;
  /** For the client: says what is wrong, never a secret. */
  readonly message: string;
  /** For the audit line (short). */
  readonly reason: string;
  readonly headers?: Record<string, string>;
  constructor(status: number, message: string, reason: string = message, headers?: Record<string, string>) {
    this.status = status;
    this.message = message;
    this.reason = reason;
    this.headers = headers;
  }
}

/** How a protocol's clients read the proxy's own answers. */
export type ErrorFormat = 'text' | 'oci';

/** A value now, or later. */
export type Maybe<T> = T | Promise<T>;

/** What identify found: the Connectors the token must be allowed to use, the token, and the protocol's own. */
export interface Route<R> {
  /** The client's ServiceAccount token. */
  token: string;
  /** Every Connector the request names; the token must be allowed to use all of them. */
  connectors: ConnectorRef[];
  /**
   * The Connector the request goes to, when it names exactly one: looked up after authorisation (404 when it
   * does not exist) and handed to the later steps as `Exchange.connector`.
   */
  connector?: ConnectorRef;
  /**
   * That Connector, when identify looked it up already (e.g. for its class's authExtractor): not looked up
   * again. null: it does not exist. Still answered only after authorisation.
   */
  found?: Connector | null;
  /** The audit's `path` when not the request target (forward mode: origin and path, without the query). */
  auditPath?: string;
  /** What the protocol keeps for its later steps. */
  state: R;
}

/** One request as it goes through the pipeline. */
export interface Exchange<R> {
  req: ProxyRequest;
  res: ProxyResponse;
  route: Route<R>;
  /** The Connector of `route.connector` (undefined when the route names none). */
  connector: Connector | undefined;
  /** `namespace/name` of the client's ServiceAccount. */
  serviceAccount: string;
  /** The audit record, filled in as the request goes; the protocol may set `connector` and `injected`. */
  record: AuditRecord;
}

/** The upstream request as core/http1's Upstream.forward takes it, and whether the credentials are in it. */
export type Outbound = Forwarding & { injected: boolean };

/**
 * A protocol the proxy speaks: reverse HTTP, forward HTTP (absolute-form and inside CONNECT tunnels), CONNECT,
 * the OCI distribution API. The pipeline does everything else; a new protocol is one object of this shape.
 */
export interface Protocol<R = unknown, T = unknown, O extends { injected?: boolean } = Outbound> {
  /** The audit line's `mode`. */
  readonly mode: AuditRecord['mode'];
  /** The format of the proxy's own answers. */
  readonly errors: ErrorFormat;
  /** The status telling the client to authenticate: 401 (a server) or 407 (a forward proxy). */
  readonly challenge: 401 | 407;
  /** Identify: the Connectors the request names and the client's token; pure but for cached lookups. */
  route(ctx: ProxyContext, req: ProxyRequest): Maybe<Route<R> | Refusal>;
  /** Where the request goes once the client may use the Connectors (pure but for cached lookups). */
  target(ctx: ProxyContext, ex: Exchange<R>): Maybe<T | Refusal>;
  /** The upstream request with the Connector's credentials (once the request is admitted). */
  credentials(ctx: ProxyContext, ex: Exchange<R>, target: T): Maybe<O | Refusal>;
  /**
   * The response step, when the protocol does more than stream one upstream exchange to the client (the
   * registry's token retry, redirects followed, a tunnel). Default: Upstream.forward of the outbound request.
   */
  respond?(ctx: ProxyContext, ex: Exchange<R>, outbound: O): Promise<ForwardResult>;
}

/** A rule every request must pass before its protocol sees it: undefined, or the proxy's answer. */
export type RequestHook = (req: ProxyRequest) => Refusal | undefined;

/** TRACE (and TRACK) would make the tool echo the request back, credentials the proxy injected and all. */
export const refuseEchoMethods: RequestHook = (req) =>
  refusedMethod(req.method)
    ? new Refusal(405, `${req.method} is not allowed through the proxy`, 'method not allowed', {
        allow: ALLOWED_METHODS,
      })
    : undefined;

/** The hooks of the proxy's listeners. */
export const DEFAULT_HOOKS: readonly RequestHook[] = [refuseEchoMethods];

/** The distribution spec's error code of a status the proxy answers itself. */
export function ociErrorCode(status: number): string {
  switch (status) {
    case 400:
      return 'NAME_INVALID';
    case 401:
      return 'UNAUTHORIZED';
    case 403:
      return 'DENIED';
    case 404:
      return 'NAME_UNKNOWN';
    case 405:
      return 'UNSUPPORTED';
    case 413:
      return 'SIZE_INVALID';
    case 429:
      return 'TOOMANYREQUESTS';
    default:
      return 'UNAVAILABLE';
  }
}

const OCI_API_VERSION = 'registry/2.0';

/**
 * The one writer of the proxy's own answers. The status decides the extra headers (a challenge for 401 and
 * 407, `Retry-After` for 429 and 503); the format the body. A response already started is cut instead.
 */
export function writeError(res: ProxyResponse, format: ErrorFormat, refusal: Refusal): void {
  const { status, message } = refusal;
  const headers: Record<string, string> = { ...refusal.headers };
  if (status === 401) headers['www-authenticate'] = `Basic realm="${REALM}"`;
  else if (status === 407) headers['proxy-authenticate'] = `Basic realm="${REALM}"`;
  else if (status === 429 || status === 503) headers['retry-after'] = '1';
  if (format === 'text') return sendText(res, status, message, headers);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ errors: [{ code: ociErrorCode(status), message, detail: null }] });
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'docker-distribution-api-version': OCI_API_VERSION,
    ...headers,
  });
  res.end(body);
}

/** The answer to a client the reviews refused (pure): the same words in every protocol. */
export function accessRefusal(access: Extract<Access, { ok: false }>, challenge: 401 | 407): Refusal {
  switch (access.status) {
    case 401:
      return new Refusal(challenge, 'the token is invalid, expired or for another audience', access.reason);
    case 403:
      return new Refusal(403, 'forbidden: ' + access.reason, access.reason);
    default:
      return new Refusal(access.status, access.reason);
  }
}

export class Pipeline {
  private readonly ctx: ProxyContext;
  private readonly hooks: readonly RequestHook[];

  constructor(ctx: ProxyContext, hooks: readonly RequestHook[] = DEFAULT_HOOKS) {
    this.ctx = ctx;
    this.hooks = hooks;
  }

  /** Takes one request through every step; resolves once it is audited. */
  async run<R, T, O extends { injected?: boolean }>(
    protocol: Protocol<R, T, O>,
    req: ProxyRequest,
    res: ProxyResponse,
  ): Promise<void> {
    const ctx = this.ctx;
    const started = performance.now();
    const record: AuditRecord = {
      mode: protocol.mode,
      connector: '',
      serviceAccount: '',
      method: req.method ?? '',
      path: req.url ?? '/',
      status: 0,
      bytesIn: 0,
      bytesOut: 0,
      durationMs: 0,
      injected: false,
      reason: undefined,
    };
    const errors = protocol.errors;
    for (let i = 0; i < this.hooks.length; i++) {
      const refused = this.hooks[i](req);
      if (refused) return this.refuse(res, errors, record, started, refused);
    }

    // identify
    const routing = protocol.route(ctx, req);
    const route = routing instanceof Promise ? await routing : routing;
    if (route instanceof Refusal) return this.refuse(res, errors, record, started, route);
    if (route.auditPath !== undefined) record.path = route.auditPath;
    const named = route.connector;
    if (named) record.connector = named.namespace + '/' + named.name;

    // authenticate + authorise
    const checked = checkAccess(ctx, route.token, route.connectors, req.socket);
    const access = checked instanceof Promise ? await checked : checked;
    record.serviceAccount = access.serviceAccount;
    if (!access.ok) return this.refuse(res, errors, record, started, accessRefusal(access, protocol.challenge));

    // connector
    let connector: Connector | undefined;
    if (named) {
      connector =
        route.found !== undefined ? (route.found ?? undefined) : ctx.state.connector(named.namespace, named.name);
      if (!connector) {
        const missing = new Refusal(404, `connector ${record.connector} not found`, 'connector not found');
        return this.refuse(res, errors, record, started, missing);
      }
    }
    const ex: Exchange<R> = { req, res, route, connector, serviceAccount: access.serviceAccount, record };

    // target
    const aiming = protocol.target(ctx, ex);
    const target = aiming instanceof Promise ? await aiming : aiming;
    if (target instanceof Refusal) return this.refuse(res, errors, record, started, target);

    // admit
    const slot = ctx.perServiceAccount.acquire(access.serviceAccount);
    if (!slot)
      return this.refuse(
        res,
        errors,
        record,
        started,
        new Refusal(
          429,
          `${access.serviceAccount} has ${ctx.perServiceAccount.max} requests in flight through the proxy already: retry later`,
          'too many requests in flight',
        ),
      );
    try {
      continueIfExpected(req, res);
      // credentials
      const preparing = protocol.credentials(ctx, ex, target);
      const outbound = preparing instanceof Promise ? await preparing : preparing;
      if (outbound instanceof Refusal) return this.refuse(res, errors, record, started, outbound);
      record.injected = outbound.injected;
      // forward
      const result = protocol.respond
        ? await protocol.respond(ctx, ex, outbound)
        : await ctx.upstream.forward(outbound as unknown as Outbound);
      record.bytesIn += result.bytesIn;
      record.bytesOut += result.bytesOut;
      this.audit(record, started, result.status, result.error);
    } finally {
      ctx.perServiceAccount.release(slot);
    }
  }

  /** The proxy's own answer, audited. */
  private refuse(res: ProxyResponse, errors: ErrorFormat, record: AuditRecord, started: number, r: Refusal): void {
    writeError(res, errors, r);
    this.audit(record, started, r.status, r.reason);
  }

  /** The audit step: the record as the request ended. */
  private audit(record: AuditRecord, started: number, status: number, reason: string | undefined): void {
    record.status = status;
    record.reason = reason;
    record.durationMs = performance.now() - started;
    this.ctx.audit.record(record);
  }
}
