// The Connectors API: clients (UIs, pipelines) query a tool through a Connector with their own Kubernetes
// token, never holding the tool's credentials. One HTTP listener:
//   /connectors/v1alpha1/namespaces/{ns}/connectors/{name}/path/{api-path}   (and /connectors/v1alpha1/{ns}/{name}/path/…)
//   /connectors-operator/featureflags
// express routes every request and answers errors; bodiless GET/HEAD requests on the Connector routes, the
// frequent case, are answered by the same handler from the listener's front (core/http1/front.ts) without
// node:http's server and express's layers, which cost more than the rest of such a request (docs/api.md).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from '../core/util/node-http.ts';
import type { AddressInfo, Socket } from 'node:net';
import type { KubeAccess } from '../core/kube/client.ts';
import express, { type NextFunction, type Request, type Response } from 'express';
import { Authorizer, type ReviewLimits } from '../core/auth/review.ts';
import { ConnectorTrust } from '../core/connector/ca-pool.ts';
import { installFront } from '../core/http1/front.ts';
import { serverOptions } from '../core/http1/server-options.ts';
import { responseStarted, type ProxyRequest, type ProxyResponse } from '../core/http1/exchange.ts';
import { Upstream, type UpstreamOptions } from '../core/http1/upstream.ts';
import { clientErrorStatus, closingResponse } from '../core/http1/status.ts';
import { ConcurrencyLimit } from '../core/util/limits.ts';
import { componentManager, Manager } from '../core/kube/manager.ts';
import { connectorsState, firstSync } from '../core/kube/state.ts';
import { createLogger, type Logger } from '../core/observability/log.ts';
import { Policies } from '../core/opa/policies.ts';
import { failure, sendStatus } from '../core/plugin/status.ts';
import { AccessLog } from './access-log.ts';
import { handleApiRequest, type ApiContext } from './handler.ts';
import { FEATURE_FLAGS_PATH, handleFeatureFlags } from './operator.ts';
import { API_ROUTE_PREFIX } from './route.ts';

export { parseApiRoute } from './route.ts';
export { matchOperation, selectAddress } from './openapi.ts';

export interface ApiOptions {
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
  /** Answer bodiless GET/HEAD on the Connector routes from the front (default true); false: express for all. */
  front?: boolean;
  /** Requests to tools. */
  upstream?: UpstreamOptions;
  /** Extra PEM CAs trusted for class API plugins (e.g. the CA of the plugins' serving certificates). */
  pluginCaPem?: string;
  authCache?: { authnTtlMs?: number; allowTtlMs?: number; denyTtlMs?: number; maxEntries?: number };
  /** Request header limit; larger requests get 431 (default 32 KiB). */
  maxHeaderSize?: number;
  /** Largest request body buffered for body credentials or a permissions policy (default 8 MiB). */
  maxBodyBytes?: number;
  keepAliveTimeoutMs?: number;
  /** Client connections open at once (default 10,000; 0: no cap); further ones are closed as they come. */
  maxConnections?: number;
  /** Longest time to receive a whole request, body included (default 10 min); then 408. */
  requestTimeoutMs?: number;
  /** Requests one user may have in flight to tools and plugins (default 128; 0: no cap); more get 429. */
  maxRequestsPerUser?: number;
  /** How hard clients may make the API ask the apiserver (core/auth/review.ts). */
  reviewLimits?: ReviewLimits;
  now?: () => number;
  log?: Logger;
}

export interface RunningApi {
  port: number;
  /** `http://HOST:PORT` (127.0.0.1 when listening on every interface). */
  url: string;
  /** The port /healthz, /readyz and /metrics are served on (the shared manager's, on one). */
  healthPort?: number;
  /** Forget cached authentication and authorisation decisions. */
  clearAuthCache(): void;
  stop(): Promise<void>;
}

/**
 * Starts the API on `kcOrManager`: a kubeconfig gives it a manager of its own (stopped with it); on a shared
 * manager (`connectors up`) its caches are views of that manager's informers, its readiness one of its checks.
 */
export async function startApi(kcOrManager: KubeAccess | Manager, opts: ApiOptions = {}): Promise<RunningApi> {
  const log = opts.log ?? createLogger('api');
  const { mgr, shared } = componentManager(kcOrManager, {
    systemNamespace: opts.systemNamespace,
    log,
    healthPort: opts.healthPort,
    healthHost: opts.host,
  });
  const namespace = mgr.systemNamespace;
  const rest = mgr.client;
  const state = connectorsState(mgr);
  let listening = false;
  const removeReadyCheck = mgr.addReadyCheck('api', () => listening || 'the API is not listening yet');
  // Tokens for the apiserver's own audiences (what `kubectl create token` and UIs hold); a token minted for the
  // proxy's audience is refused, so a workload's proxy token is no key to the API.
  const authorizer = new Authorizer(rest, {
    audiences: [],
    acceptApiserverAudience: true,
    metricPrefix: 'connectors_api',
    ...opts.authCache,
    limits: opts.reviewLimits,
    now: opts.now,
  });
  const perUser = opts.maxRequestsPerUser ?? 128;
  const ctx: ApiContext = {
    state,
    trust: new ConnectorTrust(state, { now: opts.now }),
    authorizer,
    policies: new Policies(state),
    upstream: new Upstream({ ...opts.upstream, metricPrefix: 'connectors_api' }),
    plugins: new Upstream({ ...opts.upstream, caPem: opts.pluginCaPem, metricPrefix: 'connectors_api_plugin' }),
    access: new AccessLog(log.child({ access: true })),
    log,
    maxInjectBodyBytes: opts.maxBodyBytes ?? 8 * 1024 * 1024,
    perUser: new ConcurrencyLimit(perUser > 0 ? perUser : Infinity),
  };

  const crashed = (res: ProxyResponse) => (err: unknown) => {
    log.error('request failed', { error: (err as Error)?.message, stack: (err as Error)?.stack });
    sendStatus(res, 500, 'internal error of the Connectors API');
  };
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', false);
  /** handleApiRequest, its failures (thrown or rejected) given to `failed`. */
  const handle = (req: ProxyRequest, res: ProxyResponse, failed: (err: unknown) => void) => {
    try {
      handleApiRequest(ctx, req, res)?.catch(failed);
    } catch (err) {
      failed(err);
    }
  };
  const connectorRoute = (req: Request, res: Response, next: NextFunction) => handle(req, res, next);
  app.all('/connectors/v1alpha1/namespaces/:namespace/connectors/:name/path{/*rest}', connectorRoute);
  app.all('/connectors/v1alpha1/:namespace/:name/path{/*rest}', connectorRoute);
  app.get(FEATURE_FLAGS_PATH, (req, res, next) => void handleFeatureFlags(ctx, req, res).catch(next));
  app.use((req: Request, res: Response) =>
    sendStatus(
      res,
      404,
      `no route for ${req.method} ${req.path}: the API serves ${API_ROUTE_PREFIX}<namespace>/<name>/path/<api-path> and ${FEATURE_FLAGS_PATH}`,
    ),
  );
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    // express's own refusals (a path that does not decode) carry a 4xx status: the client's mistake.
    const status = (err as { status?: unknown })?.status;
    if (typeof status === 'number' && status >= 400 && status < 500)
      return sendStatus(res, status, (err as Error).message || 'bad request');
    crashed(res)(err);
  });

  const maxHeaderSize = opts.maxHeaderSize ?? 32 * 1024;
  const keepAliveTimeoutMs = opts.keepAliveTimeoutMs ?? 65_000;
  const requestTimeoutMs = opts.requestTimeoutMs || 600_000;
  const options = serverOptions({ maxHeaderSize, keepAliveTimeoutMs, requestTimeoutMs });
  const headersTimeoutMs = options.headersTimeout;
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    app(req, res);
  };
  const server = createServer(options, onRequest);
  server.maxConnections = opts.maxConnections || (opts.maxConnections === 0 ? Infinity : 10_000);
  // Expect: 100-continue is answered once the client is authorised (continueIfExpected), not by node at once.
  server.on('checkContinue', onRequest);
  const front =
    opts.front === false
      ? undefined
      : installFront({
          server,
          maxHeaderSize,
          headersTimeoutMs,
          keepAliveTimeoutMs,
          sendTimeoutMs: opts.upstream?.sendTimeoutMs ?? 60_000,
          accepts: (r) => r.url.startsWith(API_ROUTE_PREFIX),
          handle: (req, res) => handle(req, res, crashed(res)),
        });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // A response already under way (a request timed out while the tool answered) cannot get another head.
    if (!socket.writable || responseStarted(socket)) return socket.destroy();
    const code = clientErrorStatus(err.code);
    const body = JSON.stringify(failure(code, CLIENT_ERROR_MESSAGES[code]));
    socket.end(closingResponse(code, 'application/json', body));
  });
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });

  const stopAll = async () => {
    front?.close();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
    await ctx.upstream.close();
    await ctx.plugins.close();
    removeReadyCheck();
    await state.stop();
    if (!shared) await mgr.stop();
  };
  try {
    await mgr.start();
    await firstSync(state);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 8080, opts.host ?? '0.0.0.0', () => resolve());
    });
  } catch (err) {
    await stopAll().catch(() => undefined);
    throw err;
  }
  listening = true;
  const port = (server.address() as AddressInfo).port;
  const host = !opts.host || opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host;
  log.info('api listening', { url: `http://${host}:${port}`, namespace, front: Boolean(front) });

  let stopped: Promise<void> | undefined;
  return {
    port,
    url: `http://${host}:${port}`,
    healthPort: mgr.health?.port,
    clearAuthCache: () => {
      authorizer.clear();
      ctx.trust.clear();
    },
    stop: () => (stopped ??= stopAll()),
  };
}

/** Status code, reason, message and reason phrase of node:http's refusal of a request (pure). */
/** What a request node:http's parser refused is told, by status (clientErrorStatus). */
const CLIENT_ERROR_MESSAGES = {
  400: 'bad request',
  408: 'the request did not arrive within the request timeout',
  431: 'request header fields too large',
} as const;
