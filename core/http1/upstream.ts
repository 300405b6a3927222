// The streaming forwarder: one request to the tool over the proxy's HTTP/1.1 client (keep-alive pools per origin), bodies streamed
// both ways with back-pressure and never buffered, redirects never followed, hop-by-hop headers dropped.
// Upstream failures become 502 (504 for timeouts) with a short text body that names no secret.
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { ProxyRequest, ProxyResponse } from './exchange.ts';
import { rootCertificates } from 'node:tls';
import { Http1Client, UpstreamError, type ConnectionGuard } from './client.ts';
import { counter } from '../observability/metrics.ts';

/** Hop-by-hop headers (RFC 9110 §7.6.1) and the ones a proxy must never pass on. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'trailers',
  'transfer-encoding',
  'upgrade',
  'host',
  'expect',
  'http2-settings',
]);

/** The CAs an upstream TLS connection verifies against, with a key naming the set (for connection pooling). */
export interface UpstreamTrust {
  key: string;
  ca: string[];
}

export interface UpstreamOptions {
  connectTimeoutMs?: number;
  /** Time to the response headers. */
  headersTimeoutMs?: number;
  /** Longest silence while receiving the response body. */
  idleTimeoutMs?: number;
  /** Extra PEM CAs trusted for https upstreams, besides the system ones. */
  caPem?: string;
  /** Connections per upstream origin (default 256)... */
  connections?: number;
  /** Names the error metric: `<prefix>_upstream_errors_total` (default connectors_proxy). */
  metricPrefix?: string;
  /** ...and how long a request waits for one of them when all are busy (default 10 s), then 503. */
  poolWaitMs?: number;
  /** How long a response may wait for a client that does not read it (default 60 s), then both are closed. */
  sendTimeoutMs?: number;
}

/** Response hop-by-hop headers: Proxy-Authenticate is the tool's to send on. */
const RESPONSE_HOP_BY_HOP = new Set(HOP_BY_HOP);
RESPONSE_HOP_BY_HOP.delete('proxy-authenticate');

/**
 * The header names listed in a Connection header (lower case), undefined when it lists only `keep-alive` or
 * `close` (nearly always: those are hop-by-hop anyway, and no set is built per request).
 */
function connectionTokens(conn: string | string[]): Set<string> | undefined {
  const text = String(conn);
  const lower = text.length < 11 ? text.toLowerCase() : '';
  if (lower === 'keep-alive' || lower === 'close') return undefined;
  const out = new Set<string>();
  for (const t of text.split(',')) out.add(t.trim().toLowerCase());
  return out;
}

/**
 * Request headers to send to the tool: hop-by-hop ones, those named by Connection, and `strip` (lower-case
 * names) removed, and any header carrying the client's token.
 */
export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  strip: readonly string[] = [],
  secret?: string,
): Record<string, string | string[]> {
  const conn = incoming.connection;
  const named = conn ? connectionTokens(conn) : undefined;
  const out: Record<string, string | string[]> = {};
  for (const k in incoming) {
    const v = incoming[k];
    if (v === undefined || HOP_BY_HOP.has(k) || strip.includes(k) || named?.has(k)) continue;
    // A header carrying the client's token (whatever its name, e.g. the authExtractor's) never goes upstream.
    if (secret && (typeof v === 'string' ? v.includes(secret) : v.some((x) => x.includes(secret)))) continue;
    out[k] = v;
  }
  return out;
}

/** Response headers for the client: hop-by-hop ones removed. */
export function clientResponseHeaders(
  upstream: Record<string, string | string[] | undefined>,
): Record<string, string | string[]> {
  const conn = upstream.connection;
  const named = conn ? connectionTokens(conn) : undefined;
  const out: Record<string, string | string[]> = {};
  for (const k in upstream) {
    const v = upstream[k];
    if (v !== undefined && !RESPONSE_HOP_BY_HOP.has(k) && !named?.has(k)) out[k] = v;
  }
  return out;
}

export interface ForwardResult {
  status: number;
  bytesIn: number;
  bytesOut: number;
  /** Set when the proxy answered itself because the upstream failed. */
  error?: string;
  /** Set when `intercept` took the response: nothing was sent to the client. */
  intercepted?: { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer };
}

export interface Forwarding {
  req: ProxyRequest;
  res: ProxyResponse;
  target: URL;
  headers: Record<string, string | string[]>;
  /** A replacement body (generator body injection); otherwise the client's body is streamed. */
  body?: Buffer;
  /** Rewrites the Location of an upstream response (redirects are never followed). */
  rewriteLocation?: (location: string) => string;
  /** Last change to the client's response headers (after hop-by-hop removal and rewriteLocation). */
  responseHeaders?: (status: number, headers: Record<string, string | string[]>) => Record<string, string | string[]>;
  /**
   * Whether the proxy handles this upstream response itself (e.g. a 401 to retry, a redirect to follow): then
   * nothing reaches the client, the body (first 64 KiB) is returned in `intercepted`.
   */
  intercept?: (status: number, headers: Record<string, string | string[] | undefined>) => boolean;
  /** Request method to send instead of the client's. */
  method?: string;
  /** Do not send the client's body (a followed redirect). */
  noBody?: boolean;
  /** CAs for an https target (a Connector's custom CAs, core/connector/ca-pool.ts); default the system pool. */
  trust?: UpstreamTrust;
  /**
   * `res.write` calls its callback once a chunk has left (node:http's ServerResponse does): the response is read
   * into recycled buffers (client.ts), no memory allocated per read of a large body.
   */
  recycleReads?: boolean;
  /** How an upstream failure is answered (default: a short text body). */
  sendError?: (res: ProxyResponse, status: number, text: string) => void;
  /** Forward mode to a host that is not a Connector's: where the connection may go. */
  guard?: ConnectionGuard;
}

const upstreamErrorsOf = (prefix: string) =>
  counter(`${prefix}_upstream_errors_total`, 'Requests the upstream failed (connect errors, timeouts, resets).', [
    'kind',
  ]);

/** Whether the client's request has a body (by its framing headers). */
export function hasBody(req: ProxyRequest): boolean {
  const cl = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (cl !== undefined && cl !== '0');
}

export function sendText(res: ProxyResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = text.endsWith('\n') ? text : text + '\n';
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

export class Upstream {
  private readonly client: Http1Client;
  private readonly metricPrefix: string;

  constructor(opts: UpstreamOptions = {}) {
    this.client = new Http1Client({
      connectTimeoutMs: opts.connectTimeoutMs,
      headersTimeoutMs: opts.headersTimeoutMs,
      idleTimeoutMs: opts.idleTimeoutMs,
      maxConnectionsPerOrigin: opts.connections,
      poolWaitMs: opts.poolWaitMs,
      sendTimeoutMs: opts.sendTimeoutMs,
      ca: opts.caPem ? [...rootCertificates, opts.caPem] : undefined,
    });
    this.metricPrefix = opts.metricPrefix ?? 'connectors_proxy';
  }

  close(): Promise<void> {
    this.client.close();
    return Promise.resolve();
  }

  /** A small request the proxy makes itself (token endpoints, registry pings): the body is read up to `limit`. */
  fetch(
    url: URL,
    init: { method?: string; headers?: Record<string, string | string[]>; trust?: UpstreamTrust } = {},
    limit = 1024 * 1024,
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
    return new Promise((resolve, reject) => {
      let status = 0;
      let headers: Record<string, string | string[]> = {};
      const chunks: Buffer[] = [];
      let size = 0;
      const exchange = this.client.request(
        { url, method: init.method ?? 'GET', headers: init.headers ?? {}, trust: init.trust },
        {
          onHead: (s, h) => {
            status = s;
            headers = h;
          },
          onData: (chunk) => {
            size += chunk.length;
            if (size > limit) {
              exchange.abort();
              reject(new Error(`response of ${url.host} larger than ${limit} bytes`));
            } else chunks.push(chunk);
          },
          onEnd: () => resolve({ status, headers, body: Buffer.concat(chunks) }),
          onError: reject,
        },
      );
    });
  }

  /**
   * Sends the request with the proxy's HTTP/1.1 client: the response is written to the client as it arrives,
   * and the upstream is paused while the client's socket is full.
   */
  forward(f: Forwarding): Promise<ForwardResult> {
    const { req, res, target } = f;
    // A request with a body is always node:http's IncomingMessage (the front takes none).
    const body = f.body ?? (!f.noBody && hasBody(req) ? (req as unknown as Readable) : undefined);
    return new Promise<ForwardResult>((resolve) => {
      let status = 0;
      let bytesOut = 0;
      let done = false;
      let paused = false;
      let held:
        | { status: number; headers: Record<string, string | string[] | undefined>; chunks: Buffer[]; size: number }
        | undefined;
      const finish = (r: ForwardResult) => {
        if (done) return;
        done = true;
        res.off('close', onClose);
        resolve(r);
      };
      const onClose = () => {
        if (!res.writableFinished && !done) {
          exchange.abort();
          finish({ status: status || 499, bytesIn: exchange.bytesSent, bytesOut, error: 'client closed the request' });
        }
      };
      const onDrain = () => {
        paused = false;
        exchange.resume();
      };
      let corked = false;
      const uncork = () => {
        if (!corked) return;
        corked = false;
        res.uncork();
      };
      const exchange = this.client.request(
        {
          url: target,
          method: f.method ?? req.method ?? 'GET',
          headers: f.headers,
          body,
          trust: f.trust,
          recycle: f.recycleReads,
          guard: f.guard,
        },
        {
          onHead: (statusCode, upstreamHeaders) => {
            if (f.intercept?.(statusCode, upstreamHeaders)) {
              status = statusCode;
              held = { status: statusCode, headers: upstreamHeaders, chunks: [], size: 0 };
              return;
            }
            let headers = clientResponseHeaders(upstreamHeaders);
            const location = headers.location;
            if (f.rewriteLocation && typeof location === 'string') headers.location = f.rewriteLocation(location);
            if (f.responseHeaders) headers = f.responseHeaders(statusCode, headers);
            // If the head cannot be written (a throw, which fails this exchange), nothing was sent: the client
            // gets a 502 (status still 0), not a cut connection.
            res.writeHead(statusCode, headers);
            status = statusCode;
          },
          onData: (chunk, last, release) => {
            if (held) {
              // Kept: its buffer is not released (left to the garbage collector).
              if (held.size < 65536) held.chunks.push(chunk);
              held.size += chunk.length;
              return;
            }
            bytesOut += chunk.length;
            if (!corked && !last) {
              // The pieces of one upstream read (e.g. many small chunks of a chunked body) leave in one write.
              // Not needed for the last piece: end() follows at once.
              corked = true;
              res.cork();
              process.nextTick(uncork);
            }
            if (!(release ? res.write(chunk, release) : res.write(chunk)) && !paused) {
              paused = true;
              exchange.pause();
              res.once('drain', onDrain);
            }
          },
          onEnd: () => {
            if (held) {
              const body = Buffer.concat(held.chunks).subarray(0, 65536);
              return finish({
                status,
                bytesIn: exchange.bytesSent,
                bytesOut: 0,
                intercepted: { status: held.status, headers: held.headers, body },
              });
            }
            // Uncorked first: node's end() writes the last chunk before chunks still held by a cork.
            if (corked) uncork();
            res.end();
            finish({ status, bytesIn: exchange.bytesSent, bytesOut });
          },
          onError: (err) => {
            if (done) return;
            if (status === 0 || held) {
              finish(this.failed(res, err, target, exchange.bytesSent, f.sendError));
            } else {
              // The response has started: cut the connection so the client sees a truncated body.
              upstreamErrorsOf(this.metricPrefix).inc({ kind: err.kind });
              res.destroy();
              finish({ status, bytesIn: exchange.bytesSent, bytesOut, error: `response interrupted: ${err.kind}` });
            }
          },
        },
      );
      res.once('close', onClose);
    });
  }

  private failed(
    res: ProxyResponse,
    err: unknown,
    target: URL,
    bytesIn: number,
    send: (res: ProxyResponse, status: number, text: string) => void = sendText,
  ): ForwardResult {
    const kind = errorKind(err);
    upstreamErrorsOf(this.metricPrefix).inc({ kind });
    if (kind === 'aborted') {
      res.destroy();
      return { status: 499, bytesIn, bytesOut: 0, error: 'client closed the request' };
    }
    const { status, text } = failureAnswer(kind, target.host, (err as Error)?.message ?? '');
    if (send === sendText && status === 503) sendText(res, status, text, { 'retry-after': '1' });
    else send(res, status, text);
    return { status, bytesIn, bytesOut: 0, error: text };
  }
}

/**
 * The proxy's answer to a failed upstream exchange (pure): 403 for a connection forward mode refuses (its
 * message names the host and why), 503 when no pooled connection became free in time, 504 for timeouts, 502
 * for anything else. The texts name the host and the kind of failure, never a credential.
 */
export function failureAnswer(kind: string, host: string, message: string): { status: number; text: string } {
  if (kind === 'target refused') return { status: 403, text: message };
  if (kind === 'connection pool busy')
    return { status: 503, text: `upstream ${host} is busy: no connection became free in time` };
  if (kind.endsWith('timeout')) return { status: 504, text: `upstream ${host} timed out (${kind})` };
  return { status: 502, text: `upstream ${host} failed: ${kind}` };
}

/** A short, secret-free name for an upstream failure. */
export function errorKind(err: unknown): string {
  if (err instanceof UpstreamError) return err.kind;
  const e = err as { code?: string; name?: string };
  if (e?.name === 'AbortError' || e?.code === 'ABORT_ERR') return 'aborted';
  return typeof e?.code === 'string' ? e.code : (e?.name ?? 'error');
}
