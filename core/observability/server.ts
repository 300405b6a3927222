// The health and metrics endpoint every component serves: /healthz (the process is alive: its liveness
// checks pass), /readyz (its readiness checks pass) and /metrics (Prometheus text format). A failing check
// is named in the 503 body; `?verbose` lists every check.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from '../util/node-http.ts';
import type { AddressInfo } from 'node:net';
import { registry } from './metrics.ts';

/** A named check: true (or undefined) when fine, false or a message when not. */
export type Check = () => boolean | string | undefined;

export interface HealthServerOptions {
  host?: string;
  port: number;
  /** Named readiness checks; /readyz is 200 only when all pass. */
  readiness?: Record<string, Check> | (() => Record<string, Check>);
  /** Named liveness checks; /healthz is 200 only when all pass. */
  liveness?: Record<string, Check> | (() => Record<string, Check>);
}

export interface HealthServer {
  server: Server;
  port: number;
  close(): Promise<void>;
}

/** Pure: the lines of a check report and whether every check passed. */
export function runChecks(checks: Record<string, Check>): { ok: boolean; lines: string[] } {
  const lines: string[] = [];
  let ok = true;
  for (const [name, check] of Object.entries(checks)) {
    let result: boolean | string | undefined;
    try {
      result = check();
    } catch (err) {
      result = (err as Error).message;
    }
    const passed = result === true || result === undefined;
    if (!passed) ok = false;
    lines.push(
      `[${passed ? '+' : '-'}]${name} ${passed ? 'ok' : typeof result === 'string' ? `failed: ${result}` : 'failed'}`,
    );
  }
  return { ok, lines };
}

export async function startHealthServer(opts: HealthServerOptions): Promise<HealthServer> {
  const checksOf = (c: HealthServerOptions['readiness']) => (typeof c === 'function' ? c() : (c ?? {}));
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://health');
    const path = url.pathname;
    if (path === '/healthz' || path === '/livez' || path === '/readyz') {
      const { ok, lines } = runChecks(checksOf(path === '/readyz' ? opts.readiness : opts.liveness));
      const failing = lines.filter((l) => l.startsWith('[-]'));
      const body = url.searchParams.has('verbose')
        ? `${lines.join('\n')}\n${path.slice(1)} ${ok ? 'check passed' : 'check failed'}\n`
        : ok
          ? 'ok\n'
          : `not ${path === '/readyz' ? 'ready' : 'healthy'}: ${failing.map((l) => l.slice(3)).join('; ')}\n`;
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(body);
    } else if (path === '/metrics') {
      res.writeHead(200, { 'content-type': registry.contentType }).end(await registry.metrics());
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  };
  // A request this cannot answer (a target no URL parser reads, a failing metrics collector) gets a 500 naming
  // why; it never reaches the process as an unhandled rejection.
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) return void res.destroy();
      res
        .writeHead(500, { 'content-type': 'text/plain' })
        .end(`internal error: ${String((err as Error)?.message ?? err)}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '0.0.0.0', () => resolve());
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
