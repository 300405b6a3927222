// Stand-ins for tool servers that cannot run here (GitHub, GitLab, Harbor, SonarQube): a small real HTTP(S)
// server that answers the documented API endpoints itself and relays everything else, unchanged, to a real
// server started by the test (the git http-backend, the distribution registry). Every request it receives is
// recorded as it arrived (method, path, headers), so tests can assert exactly what the proxy sent.
import {
  createServer as createHttpServer,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { createCA, issueServingCert, type CertificateAuthority } from '../../core/pki/index.ts';

export interface StandInRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
}

/** Answers a request itself (returns true after writing `res`) or leaves it to the relay (returns false). */
export type StandInRoute = (req: StandInRequest, res: ServerResponse) => boolean;

export interface StandIn {
  /** `http://127.0.0.1:PORT`, or for TLS `https://<host>:PORT` with the host the certificate names. */
  url: string;
  port: number;
  requests: StandInRequest[];
  clear(): void;
  stop(): Promise<void>;
}

export interface StandInOptions {
  route: StandInRoute;
  /** Base URL of the real server that gets every request `route` does not answer. */
  relay?: string;
  /** Serve HTTPS with a certificate from this CA for `tlsHost` (an IP address). */
  tls?: { ca: CertificateAuthority; host: string };
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): true {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
  return true;
}

/** A CA for the TLS stand-ins of one test file. */
export function testCA(): Promise<CertificateAuthority> {
  return createCA({ commonName: 'connectors class tests stand-in CA' });
}

export async function startStandIn(o: StandInOptions): Promise<StandIn> {
  const requests: StandInRequest[] = [];
  const sockets = new Set<Socket>();
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://stand-in.invalid');
    const rec: StandInRequest = {
      method: req.method ?? '',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
    };
    requests.push(rec);
    if (o.route(rec, res)) {
      req.resume();
      return;
    }
    if (!o.relay) {
      json(res, 404, { message: '404 Not Found' });
      req.resume();
      return;
    }
    const target = new URL(req.url ?? '/', o.relay);
    // The Host header stays the stand-in's: servers build absolute URLs (upload Locations) from it.
    const upstream = httpRequest(target, { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', (err) => {
      if (!res.headersSent) json(res, 502, { message: `stand-in relay failed: ${err.message}` });
      else res.destroy();
    });
    req.pipe(upstream);
  };
  let server;
  if (o.tls) {
    const cert = await issueServingCert(o.tls.ca, { ipAddresses: [o.tls.host, '127.0.0.1'] });
    server = createHttpsServer({ key: cert.keyPem, cert: cert.certPem }, handler);
  } else server = createHttpServer(handler);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: o.tls ? `https://${o.tls.host}:${port}` : `http://127.0.0.1:${port}`,
    port,
    requests,
    clear: () => void (requests.length = 0),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

/** The token of an `Authorization: Bearer` or `Basic` header, and the Basic user ('' for Bearer). */
export function credentialOf(headers: IncomingMessage['headers']): { scheme: string; user: string; secret: string } {
  const v = headers.authorization ?? '';
  const [scheme, rest = ''] = v.split(' ', 2);
  if (scheme.toLowerCase() === 'basic') {
    const text = Buffer.from(rest, 'base64').toString();
    const i = text.indexOf(':');
    return { scheme: 'basic', user: text.slice(0, i), secret: text.slice(i + 1) };
  }
  return { scheme: scheme.toLowerCase(), user: '', secret: rest };
}
