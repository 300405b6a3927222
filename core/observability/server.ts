// The health and metrics endpoint every component serves: /healthz (the process is alive), /readyz
// (its readiness checks pass) and /metrics (Prometheus text format).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { registry } from './metrics.ts';

export interface HealthServerOptions {
  host?: string;
  port: number;
  /** Named readiness checks; /readyz is 200 only when all return true. */
  readiness?: Record<string, () => boolean>;
}

export interface HealthServer {
  server: Server;
  port: number;
  close(): Promise<void>;
}

export async function startHealthServer(opts: HealthServerOptions): Promise<HealthServer> {
  const server = createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz' || path === '/livez') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const failing = Object.entries(opts.readiness ?? {})
        .filter(([, check]) => !check())
        .map(([name]) => name);
      res
        .writeHead(failing.length ? 503 : 200, { 'content-type': 'text/plain' })
        .end(failing.length ? `not ready: ${failing.join(', ')}\n` : 'ok\n');
    } else if (path === '/metrics') {
      res.writeHead(200, { 'content-type': registry.contentType }).end(await registry.metrics());
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '0.0.0.0', () => resolve());
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
