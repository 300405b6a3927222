// Forward mode: clients set http_proxy/https_proxy to the proxy and authenticate with
// `Proxy-Authorization: Basic base64("<ns>/<name>[,<ns>/<name>...]:<token>")`. Every listed Connector must
// pass the same TokenReview/SubjectAccessReview checks as reverse mode. Credentials are injected only when the
// target matches a listed Connector's spec.address or addressExtensions[].value (scheme, host, port, path
// prefix); other targets are forwarded without credentials.
//
// Hosts that are not a listed Connector's are refused with 403, unless the operator allows them
// (`forwardAllowHosts`); then they are reached without credentials, but never at a loopback or link-local
// address or the proxy itself, judged on the resolved address when connecting (rules/target-policy.ts).
//
// HTTPS (`CONNECT host:port`):
// - a host:port of an https address of a listed Connector is intercepted: the proxy answers 200, terminates
//   TLS with a certificate for that host signed by its CA (Secret/ConfigMap connectors-proxy-ca, the
//   CSI driver's ca.crt), and handles the requests inside like plain forward requests;
// - a host:port of an http address of a listed Connector (clients such as Yarn tunnel plain HTTP too): the
//   requests inside the tunnel are read as plain HTTP and handled like forward requests;
// - an allowed host is tunnelled untouched (the proxy sees no plaintext and injects nothing);
// - anything else gets 403, a malformed authority 400.
// CONNECT requires the same Proxy-Authorization; without it the answer is 407.
//
// Three protocols of the pipeline (pipeline.ts) live here: absolute-form HTTP, HTTP inside a tunnel (the same
// target and credentials steps, the tunnel's Connectors and token) and CONNECT itself, whose response step
// opens the tunnel.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from '../core/util/node-http.ts';
import { connect as netConnect, type Socket } from 'node:net';
import { TLSSocket, createSecureContext, type SecureContext } from 'node:tls';
import type { Connector } from '../core/api/index.ts';
import { servingCerts, type ProxyCA } from './ca.ts';
import { forwardCredentials } from './auth/credentials.ts';
import type { ConnectorRef } from '../core/connector/index.ts';
import type { ProxyContext } from './context.ts';
import { injectCredentials, type Prepared } from '../core/connector/inject-request.ts';
import { matchTarget, originOf } from '../core/connector/inject.ts';
import { withoutQueryValues } from '../core/connector/upstream-url.ts';
import type { ProxyRequest } from '../core/http1/exchange.ts';
import { SocketAnswer } from '../core/http1/status.ts';
import type { ForwardResult } from '../core/http1/upstream.ts';
import { sendText, upstreamRequestHeaders } from '../core/http1/upstream.ts';
import { Pipeline, Refusal, writeError, type Exchange, type Outbound, type Protocol, type Route } from './pipeline.ts';
import { connectAuthority } from './rules/request-rules.ts';
import {
  connectorHostPorts,
  forwardTarget,
  TARGET_REFUSED,
  type AddressGuard,
  type HostAllowList,
} from './rules/target-policy.ts';

const EMPTY = Buffer.alloc(0);

interface Tunnel {
  /** host:port of the CONNECT. */
  authority: string;
  /** What the client speaks inside: TLS (intercepted) or plain HTTP (an http Connector address). */
  scheme: 'https' | 'http';
  connectors: ConnectorRef[];
  token: string;
  /** The client's TCP connection the tunnel runs in. */
  socket: Socket;
}

export interface ForwardOptions {
  /** Hosts that are not a listed Connector's but may be reached (without credentials). */
  allow: HostAllowList;
  /** Where connections to those hosts may not go. */
  guard: AddressGuard;
  ca?: ProxyCA;
  maxHeaderSize?: number;
}

/** A forward HTTP request's target URL, from the request line or the tunnel it came through. */
interface ForwardState {
  url: URL;
}

/** Where a forward HTTP request goes: its URL, the listed Connector it matches, whether to guard the address. */
interface ForwardAim {
  match: Connector | undefined;
  guarded: boolean;
}

/** What a CONNECT asks for. */
interface ConnectState {
  host: string;
  port: number;
  /** host:port, IPv6 in brackets. */
  hostPort: string;
}

/** How a CONNECT is answered once its client may use the Connectors it lists. */
type ConnectAim =
  | { kind: 'http'; connector: Connector }
  | { kind: 'https'; connector: Connector }
  | { kind: 'tunnel'; guarded: boolean };

export class ForwardProxy {
  private readonly ctx: ProxyContext;
  private readonly pipeline: Pipeline;
  private readonly allow: HostAllowList;
  private readonly guard: AddressGuard;
  private readonly certs?: ReturnType<typeof servingCerts>;
  private readonly contexts = new Map<string, Promise<SecureContext>>();
  private readonly tunnels = new WeakMap<object, Tunnel>();
  private readonly inner: Server;
  private readonly open = new Set<Socket>();
  /** Absolute-form requests (`GET http://host/path`). */
  readonly http: Protocol<ForwardState, ForwardAim>;
  /** Requests inside a CONNECT tunnel to a Connector's host (decrypted, or plain HTTP). */
  readonly tunnelled: Protocol<ForwardState, ForwardAim>;
  /** `CONNECT host:port`. */
  readonly connect: Protocol<ConnectState, ConnectAim, { injected?: boolean; head: Buffer; aim: ConnectAim }>;

  constructor(ctx: ProxyContext, pipeline: Pipeline, opts: ForwardOptions) {
    this.ctx = ctx;
    this.pipeline = pipeline;
    this.allow = opts.allow;
    this.guard = opts.guard;
    if (opts.ca) this.certs = servingCerts(opts.ca);
    const target = (c: ProxyContext, ex: Exchange<ForwardState>) => this.target(c, ex);
    const credentials = (c: ProxyContext, ex: Exchange<ForwardState>, aim: ForwardAim) => this.credentials(c, ex, aim);
    this.http = {
      mode: 'forward',
      errors: 'text',
      challenge: 407,
      route: (_c, req) => this.absoluteForm(req),
      target,
      credentials,
    };
    this.tunnelled = {
      mode: 'connect',
      errors: 'text',
      challenge: 407,
      route: (_c, req) => this.insideTunnel(req),
      target,
      credentials,
    };
    this.connect = {
      mode: 'connect',
      errors: 'text',
      challenge: 407,
      route: (_c, req) => this.connectRoute(req),
      target: (_c, ex) => this.connectTarget(ex),
      // Nothing is injected into a tunnel: its requests, when the proxy reads them, are forward requests.
      credentials: (_c, ex, aim) => ({ injected: undefined, head: this.heads.get(ex.req) ?? EMPTY, aim }),
      respond: (_c, ex, out) => this.openTunnel(ex, out.aim, out.head),
    };
    const onRequest = (req: IncomingMessage, res: ServerResponse) => {
      void this.pipeline.run(this.tunnelled, req, res).catch((err) => this.crash(res, err));
    };
    this.inner = createServer({ maxHeaderSize: opts.maxHeaderSize }, onRequest);
    this.inner.on('checkContinue', onRequest); // 100 Continue only once authorised (continueIfExpected)
  }

  close(): void {
    for (const s of this.open) s.destroy();
    this.inner.close();
  }

  private crash(res: ServerResponse, err: unknown): void {
    this.ctx.log.error('forward request failed', { error: (err as Error)?.message });
    sendText(res, 500, 'internal proxy error');
  }

  /** An absolute-form request (`GET http://host/path`). */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    return this.pipeline.run(this.http, req, res);
  }

  /** `CONNECT host:port`: answered on the socket itself (a Connection: close response, or the tunnel). */
  async handleConnect(req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    socket.on('error', () => {});
    this.heads.set(req, head);
    await this.pipeline.run(this.connect, req, new SocketAnswer(socket));
  }

  /** The bytes a client sent after its CONNECT head, by request. */
  private readonly heads = new WeakMap<object, Buffer>();

  private absoluteForm(req: ProxyRequest): Route<ForwardState> | Refusal {
    let url: URL;
    try {
      url = new URL(req.url ?? '');
    } catch {
      return new Refusal(400, 'invalid request target', 'bad request target');
    }
    return this.forwardRoute(url, forwardCredentials(req.headers));
  }

  private insideTunnel(req: ProxyRequest): Route<ForwardState> | Refusal {
    const tunnel = this.tunnels.get(req.socket);
    if (!tunnel) return new Refusal(500, 'unknown tunnel');
    let url: URL;
    try {
      url = new URL(req.url?.startsWith('/') ? `${tunnel.scheme}://${tunnel.authority}${req.url}` : (req.url ?? ''));
    } catch {
      return new Refusal(400, 'invalid request target', 'bad request target');
    }
    if (originOf(url) !== originOf(new URL(`${tunnel.scheme}://${tunnel.authority}`)))
      return new Refusal(421, 'request for another host inside this tunnel', 'misdirected');
    return this.forwardRoute(url, { ok: true, connectors: tunnel.connectors, token: tunnel.token });
  }

  private forwardRoute(url: URL, creds: ReturnType<typeof forwardCredentials>): Route<ForwardState> | Refusal {
    if (!creds.ok) return new Refusal(407, creds.reason);
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      return new Refusal(400, 'only http and https targets are proxied', 'bad scheme');
    return { token: creds.token, connectors: creds.connectors, auditPath: url.origin + url.pathname, state: { url } };
  }

  /** The Connectors of the list that exist. */
  private listed(refs: ConnectorRef[]): Connector[] {
    return refs.map((r) => this.ctx.state.connector(r.namespace, r.name)).filter((c): c is Connector => Boolean(c));
  }

  private target(_ctx: ProxyContext, ex: Exchange<ForwardState>): ForwardAim | Refusal {
    const url = ex.route.state.url;
    const listed = this.listed(ex.route.connectors);
    const match = matchTarget(url, listed);
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
    const decision = forwardTarget(
      host,
      port,
      match !== undefined || connectorHostPorts(listed).has(`${host}:${port}`),
      this.allow,
      this.guard,
    );
    if (!decision.allowed) return new Refusal(decision.status, decision.reason, 'target refused');
    if (match) ex.record.connector = `${match.metadata.namespace}/${match.metadata.name}`;
    return { match, guarded: decision.guarded };
  }

  private credentials(
    ctx: ProxyContext,
    ex: Exchange<ForwardState>,
    aim: ForwardAim,
  ): Outbound | Refusal | Promise<Outbound | Refusal> {
    const { req, res } = ex;
    const url = ex.route.state.url;
    const headers = upstreamRequestHeaders(req.headers, [], ex.route.token);
    const guard = aim.guarded ? this.guard : undefined;
    const match = aim.match;
    if (!match) return { req, res, target: url, headers, guard, injected: false };
    const outbound = (prepared: Prepared): Outbound | Refusal => {
      if (!prepared.ok) return new Refusal(prepared.status, prepared.reason);
      const queryCredentials = prepared.queryCredentials;
      return {
        req,
        res,
        target: prepared.target,
        headers: prepared.headers,
        body: prepared.body,
        trust: ctx.trust.for(match),
        guard,
        injected: prepared.injected,
        rewriteLocation: queryCredentials && ((loc) => withoutQueryValues(loc, queryCredentials)),
      };
    };
    const injecting = injectCredentials(ctx, req, match, url, headers);
    return injecting instanceof Promise ? injecting.then(outbound) : outbound(injecting);
  }

  private connectRoute(req: ProxyRequest): Route<ConnectState> | Refusal {
    const parsed = connectAuthority(req.url ?? '');
    if (!parsed)
      return new Refusal(
        400,
        'CONNECT needs host:port (a host name, an IPv4 address or a bracketed IPv6 address; port 1-65535)',
        'bad authority',
      );
    const creds = forwardCredentials(req.headers);
    if (!creds.ok) return new Refusal(407, creds.reason);
    const { host, port } = parsed;
    const hostPort = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    return { token: creds.token, connectors: creds.connectors, state: { host, port, hostPort } };
  }

  private connectTarget(ex: Exchange<ConnectState>): ConnectAim | Refusal {
    const { host, port, hostPort } = ex.route.state;
    const listed = this.listed(ex.route.connectors);
    const addressed = (scheme: 'https' | 'http') => {
      const origin = originOf(new URL(`${scheme}://${hostPort}`));
      return listed.find((c) =>
        [c.spec.address, ...(c.spec.addressExtensions ?? []).map((e) => e.value)].some((a) => {
          try {
            return originOf(new URL(a)) === origin;
          } catch {
            return false;
          }
        }),
      );
    };
    const intercepted = addressed('https');
    // Some clients tunnel plain HTTP too (Yarn's proxy agent sends CONNECT for http:// registries): for the
    // host:port of an http Connector address, the tunnel carries HTTP requests handled like forward requests.
    const plain = intercepted ? undefined : addressed('http');
    const connector = intercepted ?? plain;
    if (connector) {
      ex.record.connector = `${connector.metadata.namespace}/${connector.metadata.name}`;
      if (intercepted && !this.certs)
        return new Refusal(501, 'HTTPS interception is not configured on this proxy (no CA)', 'no CA');
      return intercepted ? { kind: 'https', connector } : { kind: 'http', connector };
    }
    const decision = forwardTarget(
      host,
      port,
      connectorHostPorts(listed).has(`${host}:${port}`),
      this.allow,
      this.guard,
    );
    if (!decision.allowed) return new Refusal(decision.status, decision.reason, 'target refused');
    return { kind: 'tunnel', guarded: decision.guarded };
  }

  /** The CONNECT's response step: the tunnel, intercepted, read as plain HTTP, or spliced to the target. */
  private async openTunnel(ex: Exchange<ConnectState>, aim: ConnectAim, head: Buffer): Promise<ForwardResult> {
    const socket = ex.req.socket as Socket;
    const { host, port, hostPort } = ex.route.state;
    const done = (status: number, reason: string): ForwardResult => ({
      status,
      error: reason,
      bytesIn: 0,
      bytesOut: 0,
    });
    const refused = (status: number, message: string, reason: string): ForwardResult => {
      writeError(ex.res, 'text', new Refusal(status, message, reason));
      return done(status, reason);
    };
    const tunnel = (scheme: 'https' | 'http'): Tunnel => ({
      authority: hostPort,
      scheme,
      connectors: ex.route.connectors,
      token: ex.route.token,
      socket,
    });
    if (aim.kind === 'http') {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) socket.unshift(head);
      this.tunnels.set(socket, tunnel('http'));
      this.track(socket);
      this.inner.emit('connection', socket);
      return done(200, 'plain http tunnel');
    }
    if (aim.kind === 'https') {
      let secureContext: SecureContext;
      try {
        secureContext = await this.secureContext(host);
      } catch (err) {
        this.ctx.log.error('cannot issue an interception certificate', { host, error: (err as Error).message });
        return refused(502, 'cannot issue a certificate for this host', 'certificate');
      }
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) socket.unshift(head);
      const tls = new TLSSocket(socket, { isServer: true, secureContext, ALPNProtocols: ['http/1.1'] });
      tls.on('error', () => socket.destroy());
      this.tunnels.set(tls, tunnel('https'));
      this.track(socket);
      this.inner.emit('connection', tls);
      return done(200, 'intercepted');
    }
    const upstream = netConnect({ host, port, ...(aim.guarded ? { lookup: this.guard.lookupFor(port) } : {}) });
    this.track(socket);
    this.track(upstream);
    return new Promise<ForwardResult>((resolve) => {
      let connected = false;
      upstream.on('error', (err: NodeJS.ErrnoException) => {
        if (!connected && !socket.destroyed) {
          if (err.code === TARGET_REFUSED) resolve(refused(403, err.message, 'target refused'));
          else resolve(refused(502, 'cannot connect to the target', 'connect failed'));
        }
        socket.destroy();
        resolve(done(502, 'connect failed'));
      });
      upstream.once('connect', () => {
        connected = true;
        socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        if (head.length) upstream.write(head);
        socket.pipe(upstream);
        upstream.pipe(socket);
        socket.on('close', () => upstream.destroy());
        upstream.on('close', () => socket.destroy());
        resolve(done(200, 'tunnelled'));
      });
    });
  }

  private track(s: Socket): void {
    this.open.add(s);
    s.once('close', () => this.open.delete(s));
  }

  private secureContext(host: string): Promise<SecureContext> {
    let p = this.contexts.get(host);
    if (!p) {
      p = this.certs!.get(host).then((c) => createSecureContext({ key: c.keyPem, cert: c.certPem }));
      this.contexts.set(host, p);
      p.catch(() => this.contexts.delete(host));
      // Certificates are renewed by ServingCertCache; drop our context after an hour to pick the renewal up.
      setTimeout(() => this.contexts.delete(host), 3_600_000).unref();
    }
    return p;
  }
}
