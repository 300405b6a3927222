// The Connectors Proxy: one HTTP listener for both modes, every request through one pipeline (pipeline.ts) in
// the protocol it speaks. Origin-form requests (`GET /path`) are reverse mode (reverse.ts), or the OCI
// distribution API (oci/protocol.ts) when they are registry requests; absolute-form requests
// (`GET http://host/path`) and CONNECT are forward mode (forward.ts). Cluster state comes from watched caches
// (state.ts); the client's token is checked with TokenReview and SubjectAccessReview, cached briefly
// (core/auth/review.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from '../core/util/node-http.ts';
import type { AddressInfo, Socket } from 'node:net';
import type { KubeAccess } from '../core/kube/client.ts';
import { PROXY_AUDIENCE } from '../core/api/keys.ts';
import { isOciClass } from '../core/connector/index.ts';
import { systemNamespace as defaultSystemNamespace } from '../core/kube/config.ts';
import { kubeRest } from '../core/kube/rest.ts';
import { createLogger, type Logger } from '../core/observability/log.ts';
import { startHealthServer, type HealthServer } from '../core/observability/server.ts';
import { Audit } from './audit.ts';
import { Authorizer, type ReviewLimits } from '../core/auth/review.ts';
import { ensureProxyCA, type ProxyCA } from './ca.ts';
import { ConnectorTrust } from '../core/connector/ca-pool.ts';
import { DEFAULT_TLS_PORT, DEFAULT_TLS_SECRET, startTlsListener, unpublishTls, type TlsListener } from './tls.ts';
import type { ProxyContext } from './context.ts';
import { ForwardProxy } from './forward.ts';
import { ConcurrencyLimit } from '../core/util/limits.ts';
import { AddressGuard, HostAllowList } from './rules/target-policy.ts';
import { Policies } from '../core/opa/policies.ts';
import { reverseProtocol } from './reverse.ts';
import { RegistryAuth } from './oci/auth.ts';
import { ociProtocol } from './oci/protocol.ts';
import { Pipeline } from './pipeline.ts';
import { watchState } from '../core/kube/state.ts';
import { sendText, Upstream, type UpstreamOptions } from '../core/http1/upstream.ts';
import { installFront } from '../core/http1/front.ts';
import { responseStarted, type ProxyResponse } from '../core/http1/exchange.ts';
import { clientErrorStatus, closingResponse } from '../core/http1/status.ts';

export { readProxyCA, ensureProxyCA, PROXY_CA_NAME } from './ca.ts';
export { PROXY_TLS_CONFIGMAP } from './tls.ts';
export { reverseTarget, upstreamUrl, rewriteLocation } from './reverse.ts';
export { planInjection, matchTarget } from '../core/connector/inject.ts';

export interface ProxyOptions {
  host?: string;
  /** 0 picks a free port. Default 8080. */
  port?: number;
  /** Serve /healthz, /readyz and /metrics on this port (0: a free one); none when undefined. */
  healthPort?: number;
  systemNamespace?: string;
  /** Token audiences the proxy accepts (default [connectors-proxy]). */
  audiences?: string[];
  /** Also accept tokens for the apiserver's own audiences, e.g. plain `kubectl create token` (default true). */
  acceptApiserverAudience?: boolean;
  /**
   * Hosts forward mode (absolute-form requests and CONNECT) reaches besides the listed Connectors' own
   * addresses, without credentials: `*`, `name`, `*.domain`, an IP or a CIDR. Default none: other hosts get
   * 403. Never loopback, link-local or the proxy itself, whatever this says.
   */
  forwardAllowHosts?: string[];
  /** Intercept HTTPS for Connector hosts with the shared CA (default true). */
  interceptHttps?: boolean;
  upstream?: UpstreamOptions;
  authCache?: { authnTtlMs?: number; allowTtlMs?: number; denyTtlMs?: number; maxEntries?: number };
  /** Request header limit; larger requests get 431 (default 32 KiB). */
  maxHeaderSize?: number;
  /** Idle keep-alive time of client connections (default 65 s). */
  keepAliveTimeoutMs?: number;
  /**
   * Also listen on TLS, with the certificate of this Secret of the system namespace (tls.crt, tls.key, ca.crt;
   * replaced when the Secret changes). Port default 8443 (0: a free one).
   */
  tls?: { secretName?: string; port?: number };
  /** How long a Connector's custom CA pool is cached (default 5 min; enable-custom-ca-certs). */
  caPoolTtlMs?: number;
  /** Largest request body buffered for body-position credentials (default 8 MiB). */
  maxInjectBodyBytes?: number;
  /** Client connections open at once (default 10,000; 0: no cap); further ones are closed as they come. */
  maxConnections?: number;
  /** Requests one ServiceAccount may have in flight to the tools (default 128; 0: no cap); more get 429. */
  maxRequestsPerServiceAccount?: number;
  /** Longest time to receive a whole request, body included (default 10 min); then 408. */
  requestTimeoutMs?: number;
  /** How hard clients may make the proxy ask the apiserver (core/auth/review.ts). */
  reviewLimits?: ReviewLimits;
  /** Clock for cache expiry (tests). */
  now?: () => number;
  log?: Logger;
}

export interface RunningProxy {
  port: number;
  /** `http://HOST:PORT` (127.0.0.1 when listening on every interface). */
  url: string;
  /** With `tls`: the TLS listener's port and `https://HOST:PORT`. */
  tlsPort?: number;
  tlsUrl?: string;
  /** With `tls`: the PEM clients trust, once a certificate is loaded. */
  tlsCaPem(): string | undefined;
  healthPort?: number;
  /** PEM of the interception CA, once loaded. */
  caPem(): string | undefined;
  /** Forget cached authentication and authorisation decisions (and cached registry tokens). */
  clearAuthCache(): void;
  /** How many times the proxy asked a registry token service for a token (OCI). */
  registryTokenFetches(): number;
  stop(): Promise<void>;
}

export async function startProxy(kc: KubeAccess, opts: ProxyOptions = {}): Promise<RunningProxy> {
  const log = opts.log ?? createLogger('proxy');
  const namespace = opts.systemNamespace ?? defaultSystemNamespace();
  const rest = await kubeRest(kc);
  const state = watchState(kc, namespace, log, rest);
  const authorizer = new Authorizer(rest, {
    audiences: opts.audiences ?? [PROXY_AUDIENCE],
    acceptApiserverAudience: opts.acceptApiserverAudience ?? true,
    ...opts.authCache,
    limits: opts.reviewLimits,
    now: opts.now,
  });
  const upstream = new Upstream(opts.upstream);
  const perServiceAccount = opts.maxRequestsPerServiceAccount ?? 128;
  const ctx: ProxyContext = {
    state,
    authorizer,
    policies: new Policies(state),
    upstream,
    trust: new ConnectorTrust(state, { ttlMs: opts.caPoolTtlMs, now: opts.now }),
    audit: new Audit(log.child({ audit: true })),
    log,
    maxInjectBodyBytes: opts.maxInjectBodyBytes ?? 8 * 1024 * 1024,
    perServiceAccount: new ConcurrencyLimit(perServiceAccount > 0 ? perServiceAccount : Infinity),
  };
  const maxHeaderSize = opts.maxHeaderSize ?? 32 * 1024;
  const registryAuth = new RegistryAuth(upstream, { now: opts.now });
  /** Connectors whose class serves the OCI distribution API (core/connector: the class label, not its name). */
  const isOciConnector = (ns: string, name: string) => {
    const c = state.connector(ns, name);
    return c !== undefined && isOciClass(state.connectorClass(c.spec.connectorClassName));
  };
  const pipeline = new Pipeline(ctx);
  const oci = ociProtocol(registryAuth, isOciConnector);

  // The ports this proxy listens on, known once it does: forward mode never connects to them.
  const ownPorts: number[] = [];
  const forwardOptions = {
    allow: new HostAllowList(opts.forwardAllowHosts ?? []),
    guard: new AddressGuard(() => ownPorts),
    maxHeaderSize,
  };
  let ca: ProxyCA | undefined;
  let forward = new ForwardProxy(ctx, pipeline, forwardOptions);
  let caTimer: NodeJS.Timeout | undefined;
  const loadCA = async (): Promise<void> => {
    try {
      ca = await ensureProxyCA(rest, namespace);
      forward.close();
      forward = new ForwardProxy(ctx, pipeline, { ...forwardOptions, ca });
    } catch (err) {
      log.warn('cannot load the interception CA; HTTPS interception is off until it can', {
        namespace,
        error: (err as Error).message,
      });
      caTimer = setTimeout(() => void loadCA(), 30_000);
      caTimer.unref();
    }
  };
  if (opts.interceptHttps ?? true) await loadCA();

  /** A handler that threw: logged, and a 500 for the client. */
  const crashed = (res: ProxyResponse) => (err: unknown) => {
    log.error('request failed', { error: (err as Error)?.message, stack: (err as Error)?.stack });
    sendText(res, 500, 'internal proxy error');
  };
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '';
    const work = !url.startsWith('/')
      ? forward.handle(req, res)
      : oci.accepts(req.headers.host, url)
        ? pipeline.run(oci, req, res)
        : pipeline.run(reverseProtocol, req, res);
    work.catch(crashed(res));
  };
  const keepAliveTimeoutMs = opts.keepAliveTimeoutMs ?? 65_000;
  const requestTimeoutMs = opts.requestTimeoutMs || 600_000;
  const headersTimeoutMs = Math.min(60_000, requestTimeoutMs); // node:http wants it no longer
  const server = createServer(
    {
      maxHeaderSize,
      requestTimeout: requestTimeoutMs,
      headersTimeout: headersTimeoutMs,
      keepAliveTimeout: keepAliveTimeoutMs,
      // How often node looks for requests past their timeouts (its default, 30 s, unless they are shorter).
      connectionsCheckingInterval: Math.min(30_000, Math.max(250, requestTimeoutMs / 4)),
    },
    onRequest,
  );
  const maxConnections = opts.maxConnections || (opts.maxConnections === 0 ? Infinity : 10_000);
  server.maxConnections = maxConnections;
  // Expect: 100-continue is answered once the client is authorised (continueIfExpected), not by node at once.
  server.on('checkContinue', onRequest);
  // Bodiless reverse-mode GET/HEAD requests are answered by the front; everything else by node:http.
  const front = installFront({
    server,
    maxHeaderSize,
    headersTimeoutMs,
    keepAliveTimeoutMs,
    sendTimeoutMs: opts.upstream?.sendTimeoutMs ?? 60_000,
    accepts: (r) => !oci.accepts(r.headers.host, r.url),
    handle: (req, res) => void pipeline.run(reverseProtocol, req, res).catch(crashed(res)),
  });
  server.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    forward.handleConnect(req, socket, head).catch((err) => {
      log.error('CONNECT failed', { error: (err as Error)?.message });
      socket.destroy();
    });
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // A response already under way (a request timed out while the tool answered) cannot get another head.
    if (!socket.writable || responseStarted(socket)) return socket.destroy();
    const status = clientErrorStatus(err.code);
    const text =
      status === 431 ? 'request header fields too large\n' : status === 408 ? 'request timeout\n' : 'bad request\n';
    socket.end(closingResponse(status, 'text/plain', text));
  });
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    // The plain listener refuses connections beyond the cap itself (maxConnections); the TLS listener's come
    // here once established, and count against the same cap.
    if (sockets.size >= maxConnections) return void s.destroy();
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });

  const synced = Promise.race([state.synced, new Promise<void>((r) => setTimeout(r, 30_000).unref())]);
  await synced;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8080, opts.host ?? '0.0.0.0', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  ownPorts.push(port);
  const host = !opts.host || opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host;
  let tls: TlsListener | undefined;
  if (opts.tls) {
    tls = await startTlsListener(
      server,
      state,
      rest,
      namespace,
      {
        secretName: opts.tls.secretName ?? DEFAULT_TLS_SECRET,
        port: opts.tls.port ?? DEFAULT_TLS_PORT,
        host: opts.host ?? '0.0.0.0',
      },
      log,
    );
  } else await unpublishTls(rest, namespace, log);
  let ready = false;
  void state.synced.then(() => (ready = true));
  let health: HealthServer | undefined;
  if (opts.healthPort !== undefined)
    health = await startHealthServer({ port: opts.healthPort, host: opts.host, readiness: { caches: () => ready } });
  if (health) ownPorts.push(health.port);
  if (tls) ownPorts.push(tls.port);
  log.info('proxy listening', {
    url: `http://${host}:${port}`,
    tlsPort: tls?.port,
    namespace,
    interceptHttps: Boolean(ca),
  });

  return {
    port,
    url: `http://${host}:${port}`,
    tlsPort: tls?.port,
    tlsUrl: tls ? `https://${host}:${tls.port}` : undefined,
    tlsCaPem: () => tls?.caPem(),
    healthPort: health?.port,
    caPem: () => ca?.certPem,
    clearAuthCache: () => {
      authorizer.clear();
      registryAuth.clear();
      ctx.trust.clear();
    },
    registryTokenFetches: () => registryAuth.tokenFetches,
    async stop() {
      if (caTimer) clearTimeout(caTimer);
      front.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      await tls?.close();
      forward.close();
      await health?.close();
      await upstream.close();
      await state.stop();
      await rest.close();
    },
  };
}
