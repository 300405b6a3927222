// The Connectors Proxy: one HTTP listener for both modes, every request through one pipeline (pipeline.ts) in
// the protocol it speaks. Origin-form requests (`GET /path`) are reverse mode (reverse.ts), or the OCI
// distribution API (oci/protocol.ts) when they are registry requests; absolute-form requests
// (`GET http://host/path`) and CONNECT are forward mode (forward.ts). Cluster state comes from views of the
// manager's watched caches (core/kube/state.ts); the client's token is checked with TokenReview and
// SubjectAccessReview, cached briefly (core/auth/review.ts).
//
//   const proxy = await startProxy(kc, { port: 8080, healthPort: 8081 });   // its own manager
//   const proxy = await startProxy(mgr, { port: 0 });                       // on a shared manager (connectors up)
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { KubeAccess, KubeClient } from '../core/kube/client.ts';
import { PROXY_AUDIENCE } from '../core/api/keys.ts';
import { isOciClass } from '../core/connector/index.ts';
import { componentManager, Manager } from '../core/kube/manager.ts';
import { connectorsState, firstSync, type ConnectorsState } from '../core/kube/state.ts';
import { createLogger, type Logger } from '../core/observability/log.ts';
import { Audit } from './audit.ts';
import { Authorizer, type ReviewLimits } from '../core/auth/review.ts';
import { keepLoadingProxyCA, type ProxyCA } from './ca.ts';
import { ConnectorTrust } from '../core/connector/ca-pool.ts';
import { DEFAULT_TLS_PORT, DEFAULT_TLS_SECRET, startTlsListener, unpublishTls, type TlsListener } from './tls.ts';
import type { ProxyContext } from './context.ts';
import { ForwardProxy } from './forward.ts';
import { createListener } from './listener.ts';
import { ConcurrencyLimit } from '../core/util/limits.ts';
import { AddressGuard, HostAllowList } from './rules/target-policy.ts';
import { Policies } from '../core/opa/policies.ts';
import { reverseProtocol } from './reverse.ts';
import { RegistryAuth } from './oci/auth.ts';
import { ociProtocol } from './oci/protocol.ts';
import { Pipeline } from './pipeline.ts';
import { sendText, Upstream, type UpstreamOptions } from '../core/http1/upstream.ts';
import type { ProxyResponse } from '../core/http1/exchange.ts';

export { readProxyCA, ensureProxyCA, PROXY_CA_NAME } from './ca.ts';
export { PROXY_TLS_CONFIGMAP } from './tls.ts';
export { reverseTarget, upstreamUrl, rewriteLocation } from './reverse.ts';
export { planInjection, matchTarget } from '../core/connector/inject.ts';

export interface ProxyOptions {
  host?: string;
  /** 0 picks a free port. Default 8080. */
  port?: number;
  /**
   * Own manager only: serve /healthz, /readyz and /metrics on this port (0: a free one); none when undefined.
   * On a shared manager, its health server serves them.
   */
  healthPort?: number;
  /** The system namespace (a shared manager's, when given, must be this). */
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
  /** The port /healthz, /readyz and /metrics are served on (the shared manager's, on one). */
  healthPort?: number;
  /** PEM of the interception CA, once loaded. */
  caPem(): string | undefined;
  /** Forget cached authentication and authorisation decisions (and cached registry tokens). */
  clearAuthCache(): void;
  /** How many times the proxy asked a registry token service for a token (OCI). */
  registryTokenFetches(): number;
  stop(): Promise<void>;
}

/** What every step of the pipeline shares. */
function proxyContext(client: KubeClient, state: ConnectorsState, opts: ProxyOptions, log: Logger): ProxyContext {
  const perServiceAccount = opts.maxRequestsPerServiceAccount ?? 128;
  return {
    state,
    authorizer: new Authorizer(client, {
      audiences: opts.audiences ?? [PROXY_AUDIENCE],
      acceptApiserverAudience: opts.acceptApiserverAudience ?? true,
      ...opts.authCache,
      limits: opts.reviewLimits,
      now: opts.now,
    }),
    policies: new Policies(state),
    upstream: new Upstream(opts.upstream),
    trust: new ConnectorTrust(state, { ttlMs: opts.caPoolTtlMs, now: opts.now }),
    audit: new Audit(log.child({ audit: true })),
    log,
    maxInjectBodyBytes: opts.maxInjectBodyBytes ?? 8 * 1024 * 1024,
    perServiceAccount: new ConcurrencyLimit(perServiceAccount > 0 ? perServiceAccount : Infinity),
  };
}

/**
 * Starts the proxy on `kcOrManager`: a kubeconfig gives it a manager of its own (stopped with it); on a shared
 * manager (`connectors up`) its caches are views of that manager's informers, its readiness one of its checks.
 */
export async function startProxy(kcOrManager: KubeAccess | Manager, opts: ProxyOptions = {}): Promise<RunningProxy> {
  const log = opts.log ?? createLogger('proxy');
  const { mgr, shared } = componentManager(kcOrManager, {
    systemNamespace: opts.systemNamespace,
    log,
    healthPort: opts.healthPort,
    healthHost: opts.host,
    // The proxy reads a Connector's spec only; the status (conditions) would be most of each cached Connector.
    connectorSpecOnly: true,
  });
  const namespace = mgr.systemNamespace;
  const state = connectorsState(mgr);
  let listening = false;
  const removeReadyCheck = mgr.addReadyCheck('proxy', () => listening || 'the proxy is not listening yet');
  const ctx = proxyContext(mgr.client, state, opts, log);
  const registryAuth = new RegistryAuth(ctx.upstream, { now: opts.now });
  /** Connectors whose class serves the OCI distribution API (core/connector: the class label, not its name). */
  const isOciConnector = (ns: string, name: string) => {
    const c = state.connector(ns, name);
    return c !== undefined && isOciClass(state.connectorClass(c.spec.connectorClassName));
  };
  const pipeline = new Pipeline(ctx);
  const oci = ociProtocol(registryAuth, isOciConnector);
  const maxHeaderSize = opts.maxHeaderSize ?? 32 * 1024;

  // The ports this proxy listens on, known once it does: forward mode never connects to them.
  const ownPorts: number[] = [];
  const forwardOptions = {
    allow: new HostAllowList(opts.forwardAllowHosts ?? []),
    guard: new AddressGuard(() => ownPorts),
    maxHeaderSize,
  };
  let ca: ProxyCA | undefined;
  let forward = new ForwardProxy(ctx, pipeline, forwardOptions);

  /** A handler that threw: logged, and a 500 for the client. */
  const crashed = (res: ProxyResponse) => (err: unknown) => {
    log.error('request failed', { error: (err as Error)?.message, stack: (err as Error)?.stack });
    sendText(res, 500, 'internal proxy error');
  };
  const listener = createListener(
    {
      maxHeaderSize,
      keepAliveTimeoutMs: opts.keepAliveTimeoutMs ?? 65_000,
      requestTimeoutMs: opts.requestTimeoutMs || 600_000,
      maxConnections: opts.maxConnections || (opts.maxConnections === 0 ? Infinity : 10_000),
      sendTimeoutMs: opts.upstream?.sendTimeoutMs ?? 60_000,
    },
    {
      // The protocol of a request: absolute-form is forward mode, a registry request OCI, anything else reverse.
      request: (req: IncomingMessage, res: ServerResponse) => {
        const url = req.url ?? '';
        const work = !url.startsWith('/')
          ? forward.handle(req, res)
          : oci.accepts(req.headers.host, url)
            ? pipeline.run(oci, req, res)
            : pipeline.run(reverseProtocol, req, res);
        work.catch(crashed(res));
      },
      front: {
        accepts: (r) => !oci.accepts(r.headers.host, r.url),
        handle: (req, res) => void pipeline.run(reverseProtocol, req, res).catch(crashed(res)),
      },
      connect: (req: IncomingMessage, socket: Socket, head: Buffer) => {
        forward.handleConnect(req, socket, head).catch((err) => {
          log.error('CONNECT failed', { error: (err as Error)?.message });
          socket.destroy();
        });
      },
    },
  );

  let caLoader: { close(): void } | undefined;
  let tls: TlsListener | undefined;
  const stopAll = async () => {
    caLoader?.close();
    await listener.close();
    await tls?.close();
    forward.close();
    await ctx.upstream.close();
    removeReadyCheck();
    await state.stop();
    if (!shared) await mgr.stop();
  };
  try {
    await mgr.start();
    if (mgr.health) ownPorts.push(mgr.health.port);
    if (opts.interceptHttps ?? true)
      caLoader = await keepLoadingProxyCA(mgr.client, namespace, log, (loaded) => {
        ca = loaded;
        forward.close();
        forward = new ForwardProxy(ctx, pipeline, { ...forwardOptions, ca: loaded });
      });
    await firstSync(state);
    const port = await listener.listen(opts.port ?? 8080, opts.host ?? '0.0.0.0');
    ownPorts.push(port);
    if (opts.tls) {
      tls = await startTlsListener(
        listener.server,
        state,
        mgr.client,
        namespace,
        {
          secretName: opts.tls.secretName ?? DEFAULT_TLS_SECRET,
          port: opts.tls.port ?? DEFAULT_TLS_PORT,
          host: opts.host ?? '0.0.0.0',
        },
        log,
      );
      ownPorts.push(tls.port);
    } else await unpublishTls(mgr.client, namespace, log);
    listening = true;
    const host = !opts.host || opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host;
    log.info('proxy listening', {
      url: `http://${host}:${port}`,
      tlsPort: tls?.port,
      namespace,
      interceptHttps: Boolean(ca),
    });

    let stopped: Promise<void> | undefined;
    return {
      port,
      url: `http://${host}:${port}`,
      tlsPort: tls?.port,
      tlsUrl: tls ? `https://${host}:${tls.port}` : undefined,
      tlsCaPem: () => tls?.caPem(),
      healthPort: mgr.health?.port,
      caPem: () => ca?.certPem,
      clearAuthCache: () => {
        ctx.authorizer.clear();
        registryAuth.clear();
        ctx.trust.clear();
      },
      registryTokenFetches: () => registryAuth.tokenFetches,
      stop: () => (stopped ??= stopAll()),
    };
  } catch (err) {
    await stopAll().catch(() => undefined);
    throw err;
  }
}
