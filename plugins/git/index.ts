// The git ConnectorClass's API plugin: the first class API server behind the plugin contract
// (core/plugin/contract.ts). The Connectors API forwards `GET /git/gitrefs?repositoryUrl=&search=` here with
// the Connector's address and Secret in the X-Plugin-* headers; the plugin asks the git server itself, with
// git's own smart-HTTP discovery (`info/refs?service=git-upload-pack`), and answers the branches and tags as a
// Connectors API list (`{"listMeta":{"totalItems":N},"items":[{"name","commitID"}]}`, `page`/`itemsPerPage`).
// It holds no Kubernetes credentials and keeps nothing: every request carries what it needs.
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import { Upstream, errorKind } from '../../core/http1/upstream.ts';
import { createLogger, type Logger } from '../../core/observability/log.ts';
import { plainCounter } from '../../core/observability/metrics.ts';
import { startHealthServer, type HealthServer } from '../../core/observability/server.ts';
import { PluginHeaderError, readPluginHeaders } from '../../core/plugin/contract.ts';
import { paginate, PaginationError, parsePagination } from '../../core/plugin/list.ts';
import { sendStatus } from '../../core/plugin/status.ts';
import {
  gitAuthorization,
  gitRefItems,
  GitRefsRequestError,
  infoRefsUrl,
  repositoryUnder,
  type GitRef,
} from './gitrefs.ts';
import { parseDumbRefs, parseRefAdvertisement, PktLineError } from './pktline.ts';

export const GITREFS_PATH = '/git/gitrefs';

export interface GitPluginOptions {
  host?: string;
  /** 0 picks a free port. Default 8080. */
  port?: number;
  healthPort?: number;
  /** Serve HTTPS with this certificate and key (PEM); HTTP when unset. */
  tls?: { cert: string; key: string };
  /** Extra PEM CAs trusted for git servers, besides the system ones. */
  caPem?: string;
  /** Largest ref advertisement read from a git server (default 32 MiB). */
  maxAdvertisementBytes?: number;
  /** Time to the git server's response head (default 30 s). */
  timeoutMs?: number;
  log?: Logger;
}

export interface RunningGitPlugin {
  port: number;
  url: string;
  healthPort?: number;
  stop(): Promise<void>;
}

const ADVERTISEMENT = 'application/x-git-upload-pack-advertisement';

/** A failure to answer with a Status of this code. */
class Answer extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

export async function listGitRefs(
  upstream: Upstream,
  headers: Record<string, string | string[] | undefined>,
  query: URLSearchParams,
  maxBytes: number,
): Promise<GitRef[]> {
  let plugin;
  try {
    plugin = readPluginHeaders(headers);
  } catch (err) {
    if (err instanceof PluginHeaderError) throw new Answer(400, err.message);
    throw err;
  }
  let repo: URL;
  try {
    repo = repositoryUnder(plugin.baseURL, query.get('repositoryUrl') ?? undefined);
  } catch (err) {
    if (err instanceof GitRefsRequestError) throw new Answer(400, err.message);
    throw err;
  }
  const auth = gitAuthorization(plugin.secretType, plugin.data);
  const url = infoRefsUrl(repo);
  let res;
  try {
    res = await upstream.fetch(
      url,
      {
        headers: {
          'user-agent': 'git/2 (connectors-git-plugin)',
          accept: `${ADVERTISEMENT}, */*;q=0.1`,
          ...(auth ? { authorization: auth } : {}),
        },
      },
      maxBytes,
    );
  } catch (err) {
    const kind = errorKind(err);
    if (/larger than/.test((err as Error).message))
      throw new Answer(502, `the git server's ref list is larger than ${maxBytes} bytes`);
    throw new Answer(kind.endsWith('timeout') ? 504 : 502, `git server ${url.host} failed: ${kind}`);
  }
  if (res.status === 401 || res.status === 403)
    throw new Answer(
      403,
      `the git server refused the connector's credentials for ${repo.pathname} (HTTP ${res.status})`,
    );
  if (res.status === 404) throw new Answer(404, `repository ${repo.pathname} not found on the git server`);
  if (res.status >= 300 && res.status < 400)
    throw new Answer(
      502,
      `the git server redirects ${repo.pathname} (HTTP ${res.status}); use the repository's own URL`,
    );
  if (res.status !== 200) throw new Answer(502, `the git server answered HTTP ${res.status} for ${repo.pathname}`);
  const type = String(res.headers['content-type'] ?? '')
    .split(';')[0]
    .trim()
    .toLowerCase();
  try {
    const refs =
      type === ADVERTISEMENT ? parseRefAdvertisement(res.body).refs : parseDumbRefs(res.body.toString('utf8'));
    return gitRefItems(refs, query.get('search') ?? undefined);
  } catch (err) {
    if (err instanceof PktLineError) throw new Answer(502, `unreadable ref list from the git server: ${err.message}`);
    throw err;
  }
}

export async function startGitPlugin(opts: GitPluginOptions = {}): Promise<RunningGitPlugin> {
  const log = opts.log ?? createLogger('git-plugin');
  const upstream = new Upstream({
    caPem: opts.caPem,
    headersTimeoutMs: opts.timeoutMs ?? 30_000,
    metricPrefix: 'connectors_git_plugin',
  });
  const maxBytes = opts.maxAdvertisementBytes ?? 32 * 1024 * 1024;
  const requests = plainCounter('connectors_git_plugin_requests_total', 'Requests answered by the git plugin.', [
    'code',
  ]);
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', false);
  app.get(GITREFS_PATH, async (req: Request, res: Response) => {
    const started = performance.now();
    const q = req.url.indexOf('?');
    const query = new URLSearchParams(q === -1 ? '' : req.url.slice(q + 1));
    let code = 200;
    let reason: string | undefined;
    try {
      const pagination = parsePagination(query);
      const items = await listGitRefs(upstream, req.headers, query, maxBytes);
      const body = JSON.stringify(paginate(items, pagination));
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    } catch (err) {
      if (err instanceof Answer) [code, reason] = [err.code, err.message];
      else if (err instanceof PaginationError) [code, reason] = [400, err.message];
      else {
        [code, reason] = [500, 'internal error of the git plugin'];
        log.error('gitrefs failed', { error: (err as Error)?.message, stack: (err as Error)?.stack });
      }
      sendStatus(res, code, reason);
    }
    requests.child(String(code)).inc();
    log.info('request', {
      path: GITREFS_PATH,
      status: code,
      durationMs: Math.round((performance.now() - started) * 100) / 100,
      ...(reason ? { reason } : {}),
    });
  });
  app.use((req: Request, res: Response) => sendStatus(res, 404, `no route for ${req.method} ${req.path}`));
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    log.error('request failed', { error: (err as Error)?.message });
    sendStatus(res, 500, 'internal error of the git plugin');
  });

  const server: Server = opts.tls
    ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }, app)
    : createHttpServer(app);
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8080, opts.host ?? '0.0.0.0', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = !opts.host || opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host;
  let health: HealthServer | undefined;
  if (opts.healthPort !== undefined) health = await startHealthServer({ port: opts.healthPort, host: opts.host });
  const url = `${opts.tls ? 'https' : 'http'}://${host}:${port}`;
  log.info('git plugin listening', { url });
  return {
    port,
    url,
    healthPort: health?.port,
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      await health?.close();
      await upstream.close();
    },
  };
}
