// Forward mode (PRX-02..04): clients set http_proxy/https_proxy to the proxy and authenticate with
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
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import { TLSSocket, createSecureContext, type SecureContext } from 'node:tls';
import type { Connector } from '../core/api/index.ts';
import { ServingCertCache, type CertificateAuthority } from '../core/pki/index.ts';
import { forwardCredentials, type ConnectorRef } from './auth/credentials.ts';
import { admitted, checkAccess, continueIfExpected, deny, injectCredentials, type ProxyContext } from './context.ts';
import { matchTarget, originOf } from '../core/connector/inject.ts';
import { withoutQueryValues } from '../core/connector/upstream-url.ts';
import { ALLOWED_METHODS, connectAuthority, refusedMethod } from './rules/request-rules.ts';
import {
  connectorHostPorts,
  forwardTarget,
  TARGET_REFUSED,
  type AddressGuard,
  type HostAllowList,
} from './rules/target-policy.ts';
import { sendText, upstreamRequestHeaders } from '../core/http1/upstream.ts';

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
  ca?: CertificateAuthority;
  maxHeaderSize?: number;
}

export class ForwardProxy {
  private readonly ctx: ProxyContext;
  private readonly allow: HostAllowList;
  private readonly guard: AddressGuard;
  private readonly certs?: ServingCertCache;
  private readonly contexts = new Map<string, Promise<SecureContext>>();
  private readonly tunnels = new WeakMap<object, Tunnel>();
  private readonly inner: Server;
  private readonly open = new Set<Socket>();

  constructor(ctx: ProxyContext, opts: ForwardOptions) {
    this.ctx = ctx;
    this.allow = opts.allow;
    this.guard = opts.guard;
    if (opts.ca) this.certs = new ServingCertCache(opts.ca);
    const onRequest = (req: IncomingMessage, res: ServerResponse) => {
      void this.handleIntercepted(req, res).catch((err) => this.crash(res, err));
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
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let target: URL;
    try {
      target = new URL(req.url ?? '');
    } catch {
      sendText(res, 400, 'invalid request target');
      return;
    }
    const creds = forwardCredentials(req.headers);
    if (!creds.ok) {
      deny(res, 407, creds.reason);
      this.audit407(req, target, creds.reason);
      return;
    }
    await this.proxy(req, res, target, creds.connectors, creds.token, 'forward', req.socket);
  }

  private audit407(req: IncomingMessage, target: URL, reason: string): void {
    this.ctx.audit.record({
      mode: 'forward',
      connector: '',
      serviceAccount: '',
      method: req.method ?? '',
      path: target.origin + target.pathname,
      status: 407,
      bytesIn: 0,
      bytesOut: 0,
      durationMs: 0,
      reason,
    });
  }

  private async proxy(
    req: IncomingMessage,
    res: ServerResponse,
    target: URL,
    refs: ConnectorRef[],
    token: string,
    mode: 'forward' | 'connect',
    conn: Socket,
  ): Promise<void> {
    const started = performance.now();
    const record = {
      mode,
      connector: '',
      serviceAccount: '',
      method: req.method ?? '',
      path: target.origin + target.pathname,
      status: 0,
      bytesIn: 0,
      bytesOut: 0,
      injected: false,
      reason: undefined as string | undefined,
    };
    const finish = (status: number, reason?: string) => {
      record.status = status;
      record.reason = reason;
      this.ctx.audit.record({ ...record, durationMs: performance.now() - started });
    };
    if (target.protocol !== 'http:' && target.protocol !== 'https:') {
      sendText(res, 400, 'only http and https targets are proxied');
      return finish(400, 'bad scheme');
    }
    const access = await checkAccess(this.ctx, token, refs, conn);
    record.serviceAccount = access.serviceAccount;
    if (!access.ok) {
      const status = access.status === 401 ? 407 : access.status;
      deny(res, status, status === 407 ? 'the token is invalid, expired or for another audience' : access.reason);
      return finish(status, access.reason);
    }
    const listed = refs
      .map((r) => this.ctx.state.connector(r.namespace, r.name))
      .filter((c): c is Connector => Boolean(c));
    const match = matchTarget(target, listed);
    const host = target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname;
    const port = Number(target.port) || (target.protocol === 'https:' ? 443 : 80);
    const decision = forwardTarget(
      host,
      port,
      match !== undefined || connectorHostPorts(listed).has(`${host}:${port}`),
      this.allow,
      this.guard,
    );
    if (!decision.allowed) {
      sendText(res, decision.status, decision.reason);
      return finish(decision.status, 'target refused');
    }
    const slot = admitted(this.ctx, res, access.serviceAccount);
    if (!slot) return finish(429, 'too many requests in flight');
    try {
      continueIfExpected(req, res);
      let headers = upstreamRequestHeaders(req.headers, [], token);
      let upstream = target;
      let body: Buffer | undefined;
      let queryCredentials: string[] | undefined;
      if (match) {
        record.connector = `${match.metadata.namespace}/${match.metadata.name}`;
        const prepared = await injectCredentials(this.ctx, req, match, target, headers);
        if (!prepared.ok) {
          sendText(res, prepared.status, prepared.reason);
          return finish(prepared.status, prepared.reason);
        }
        ({ headers, target: upstream, body, queryCredentials } = prepared);
        record.injected = prepared.injected;
      }
      const trust = match ? this.ctx.trust.for(match) : undefined;
      const result = await this.ctx.upstream.forward({
        req,
        res,
        target: upstream,
        headers,
        body,
        trust,
        guard: decision.guarded ? this.guard : undefined,
        rewriteLocation: queryCredentials && ((loc) => withoutQueryValues(loc, queryCredentials)),
      });
      record.bytesIn = result.bytesIn;
      record.bytesOut = result.bytesOut;
      finish(result.status, result.error);
    } finally {
      this.ctx.perServiceAccount.release(slot);
    }
  }

  /** `CONNECT host:port`. */
  async handleConnect(req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    const started = performance.now();
    const authority = req.url ?? '';
    const record = {
      mode: 'connect' as const,
      connector: '',
      serviceAccount: '',
      method: 'CONNECT',
      path: authority,
      status: 0,
      bytesIn: 0,
      bytesOut: 0,
    };
    const finish = (status: number, reason?: string) =>
      this.ctx.audit.record({ ...record, status, reason, durationMs: performance.now() - started });
    socket.on('error', () => {});
    const reply = (status: number, text: string, headers: string[] = []) => {
      const body = text + '\n';
      socket.end(
        `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\n${headers.map((h) => h + '\r\n').join('')}Content-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    };
    const parsed = connectAuthority(authority);
    if (!parsed) {
      reply(400, 'CONNECT needs host:port (a host name, an IPv4 address or a bracketed IPv6 address; port 1-65535)');
      return finish(400, 'bad authority');
    }
    const { host, port } = parsed;
    const creds = forwardCredentials(req.headers);
    if (!creds.ok) {
      reply(407, creds.reason, [`Proxy-Authenticate: Basic realm="connectors-proxy"`]);
      return finish(407, creds.reason);
    }
    const access = await checkAccess(this.ctx, creds.token, creds.connectors, socket);
    record.serviceAccount = access.serviceAccount;
    if (!access.ok) {
      const status = access.status === 401 ? 407 : access.status;
      reply(
        status,
        status === 407 ? 'the token is invalid, expired or for another audience' : access.reason,
        status === 407 ? [`Proxy-Authenticate: Basic realm="connectors-proxy"`] : [],
      );
      return finish(status, access.reason);
    }
    const listed = creds.connectors
      .map((r) => this.ctx.state.connector(r.namespace, r.name))
      .filter((c): c is Connector => Boolean(c));
    const hostPort = `${host.includes(':') ? `[${host}]` : host}:${port}`;
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
    if (plain) {
      record.connector = `${plain.metadata.namespace}/${plain.metadata.name}`;
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) socket.unshift(head);
      this.tunnels.set(socket, {
        authority: hostPort,
        scheme: 'http',
        connectors: creds.connectors,
        token: creds.token,
        socket,
      });
      this.track(socket);
      this.inner.emit('connection', socket);
      return finish(200, 'plain http tunnel');
    }
    if (intercepted) {
      if (!this.certs) {
        reply(501, 'HTTPS interception is not configured on this proxy (no CA)');
        return finish(501, 'no CA');
      }
      record.connector = `${intercepted.metadata.namespace}/${intercepted.metadata.name}`;
      let secureContext: SecureContext;
      try {
        secureContext = await this.secureContext(host);
      } catch (err) {
        this.ctx.log.error('cannot issue an interception certificate', { host, error: (err as Error).message });
        reply(502, 'cannot issue a certificate for this host');
        return finish(502, 'certificate');
      }
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) socket.unshift(head);
      const tls = new TLSSocket(socket, { isServer: true, secureContext, ALPNProtocols: ['http/1.1'] });
      tls.on('error', () => socket.destroy());
      this.tunnels.set(tls, {
        authority: hostPort,
        scheme: 'https',
        connectors: creds.connectors,
        token: creds.token,
        socket,
      });
      this.track(socket);
      this.inner.emit('connection', tls);
      return finish(200, 'intercepted');
    }
    const decision = forwardTarget(
      host,
      port,
      connectorHostPorts(listed).has(`${host}:${port}`),
      this.allow,
      this.guard,
    );
    if (!decision.allowed) {
      reply(decision.status, decision.reason);
      return finish(decision.status, 'target refused');
    }
    const upstream = netConnect({ host, port, ...(decision.guarded ? { lookup: this.guard.lookupFor(port) } : {}) });
    this.track(socket);
    this.track(upstream);
    let connected = false;
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      if (!connected && !socket.destroyed) {
        if (err.code === TARGET_REFUSED) {
          reply(403, err.message);
          finish(403, 'target refused');
        } else reply(502, 'cannot connect to the target');
      }
      socket.destroy();
    });
    upstream.once('connect', () => {
      connected = true;
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      socket.pipe(upstream);
      upstream.pipe(socket);
      socket.on('close', () => upstream.destroy());
      upstream.on('close', () => socket.destroy());
      finish(200, 'tunnelled');
    });
  }

  private track(s: Socket): void {
    this.open.add(s);
    s.once('close', () => this.open.delete(s));
  }

  private async handleIntercepted(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const tunnel = this.tunnels.get(req.socket);
    if (!tunnel) {
      sendText(res, 500, 'unknown tunnel');
      return;
    }
    if (refusedMethod(req.method)) {
      sendText(res, 405, `${req.method} is not allowed through the proxy`, { allow: ALLOWED_METHODS });
      return;
    }
    let target: URL;
    try {
      target = new URL(req.url?.startsWith('/') ? `${tunnel.scheme}://${tunnel.authority}${req.url}` : (req.url ?? ''));
    } catch {
      sendText(res, 400, 'invalid request target');
      return;
    }
    if (originOf(target) !== originOf(new URL(`${tunnel.scheme}://${tunnel.authority}`))) {
      sendText(res, 421, 'request for another host inside this tunnel');
      return;
    }
    await this.proxy(req, res, target, tunnel.connectors, tunnel.token, 'connect', tunnel.socket);
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

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  429: 'Too Many Requests',
  407: 'Proxy Authentication Required',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};
