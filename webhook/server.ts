// The HTTPS admission server: AdmissionReview v1 in, AdmissionReview v1 out, one handler per path. The
// certificate is replaced at run time with setSecureContext (rotation without restart).
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { histogram, counter } from '../core/observability/metrics.ts';
import type { Logger } from '../core/observability/log.ts';
import { review, type AdmissionReview } from './admission.ts';
import type { Handler } from './handlers.ts';

const MAX_BODY = 3 * 1024 * 1024;

const duration = histogram(
  'connectors_webhook_admission_duration_seconds',
  'Time the webhook spent handling one AdmissionReview.',
  ['webhook', 'allowed'],
  [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
);
const requests = counter('connectors_webhook_admission_requests_total', 'AdmissionReviews handled.', [
  'webhook',
  'allowed',
  'code',
]);

export interface AdmissionServerOptions {
  host: string;
  port: number;
  certPem: string;
  keyPem: string;
  handlers: Record<string, Handler>;
  log?: Logger;
  /** Called with every handling time in milliseconds (benchmarks). */
  onTiming?: (path: string, ms: number) => void;
}

export interface AdmissionServer {
  server: Server;
  port: number;
  setCertificate(certPem: string, keyPem: string): void;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error(`request body larger than ${MAX_BODY} bytes`));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res
    .writeHead(status, {
      'content-type': typeof body === 'string' ? 'text/plain' : 'application/json',
      'content-length': Buffer.byteLength(text),
    })
    .end(text);
}

function generateNameOf(object: unknown): string | undefined {
  return (object as { metadata?: { generateName?: string } } | null | undefined)?.metadata?.generateName;
}

export async function startAdmissionServer(opts: AdmissionServerOptions): Promise<AdmissionServer> {
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // Handling time: from the request's arrival (headers parsed) to the response written, body read and
    // JSON parse included.
    const t0 = performance.now();
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && (path === '/healthz' || path === '/readyz')) return send(res, 200, 'ok\n');
    const handler = opts.handlers[path];
    if (!handler) return send(res, 404, `no webhook at ${path}\n`);
    if (req.method !== 'POST') return send(res, 405, 'POST an AdmissionReview\n');
    let body: AdmissionReview;
    try {
      body = JSON.parse((await readBody(req)).toString('utf8')) as AdmissionReview;
    } catch (err) {
      return send(res, 400, `invalid AdmissionReview: ${(err as Error).message}\n`);
    }
    const request = body?.request;
    if (!request?.uid) return send(res, 400, 'invalid AdmissionReview: no request.uid\n');
    let response;
    try {
      response = await handler(request);
    } catch (err) {
      // An unexpected failure is an error the API server applies failurePolicy to; say what it was.
      opts.log?.error('admission handler failed', {
        path,
        error: (err as Error).message,
        kind: request.kind?.kind,
        namespace: request.namespace,
        name: request.name,
      });
      response = {
        uid: request.uid,
        allowed: false,
        status: {
          code: 500,
          reason: 'InternalError',
          message: `connectors webhook: ${(err as Error).message}`,
          status: 'Failure' as const,
        },
      };
    }
    send(res, 200, review(response));
    const ms = performance.now() - t0;
    duration.observe({ webhook: path, allowed: String(response.allowed) }, ms / 1000);
    requests.inc({ webhook: path, allowed: String(response.allowed), code: String(response.status?.code ?? 200) });
    opts.onTiming?.(path, ms);
    if (!response.allowed)
      opts.log?.info('denied', {
        path,
        kind: request.kind?.kind,
        namespace: request.namespace,
        name: request.name ?? generateNameOf(request.object),
        message: response.status?.message,
      });
  };
  const server = createServer({ cert: opts.certPem, key: opts.keyPem, minVersion: 'TLSv1.2' }, (req, res) => {
    void handle(req, res);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    setCertificate(certPem, keyPem) {
      server.setSecureContext({ cert: certPem, key: keyPem, minVersion: 'TLSv1.2' });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
