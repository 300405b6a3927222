// A tiny real HTTP upstream (node:http) that records every request it receives — method, URL, headers and the
// raw body — and answers with a configurable handler. For proxy injection tests (headers, query, body).
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** Path and query as received, e.g. `/v1/things?x=1`. */
  url: string;
  path: string;
  /** Parsed query (repeated keys keep every value, in order). */
  query: URLSearchParams;
  /** Lower-case header names, as node:http parses them (repeated headers joined per node's rules). */
  headers: IncomingHttpHeaders;
  /** Header names and values exactly as received, in order. */
  rawHeaders: string[];
  /** The body bytes as they arrived (chunked framing removed, no decompression). */
  body: Buffer;
  receivedAt: number;
}

export type UpstreamHandler = (req: RecordedRequest, res: ServerResponse) => void | Promise<void>;

export interface RecordingUpstream {
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  /** Requests received so far, oldest first (recorded once the whole body has arrived). */
  requests: RecordedRequest[];
  /** The last request, or throws if none arrived. */
  last(): RecordedRequest;
  /** Replace the handler for later requests. */
  setHandler(handler: UpstreamHandler): void;
  clear(): void;
  stop(): Promise<void>;
}

/** Default answer: 200 with a JSON echo of the request (body as UTF-8 and base64). */
export const echoHandler: UpstreamHandler = (req, res) => {
  const payload = JSON.stringify({
    method: req.method,
    url: req.url,
    headers: req.headers,
    body: req.body.toString('utf8'),
    bodyBase64: req.body.toString('base64'),
  });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
  res.end(payload);
};

export async function startRecordingUpstream(
  opts: { handler?: UpstreamHandler; host?: string } = {},
): Promise<RecordingUpstream> {
  let handler = opts.handler ?? echoHandler;
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = req.url ?? '/';
      const parsed = new URL(url, 'http://upstream.invalid');
      const rec: RecordedRequest = {
        method: req.method ?? '',
        url,
        path: parsed.pathname,
        query: parsed.searchParams,
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks),
        receivedAt: Date.now(),
      };
      requests.push(rec);
      Promise.resolve()
        .then(() => handler(rec, res))
        .catch((err: unknown) => {
          if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`recording upstream handler failed: ${err instanceof Error ? err.message : String(err)}`);
        });
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    port,
    requests,
    last() {
      const r = requests[requests.length - 1];
      if (!r) throw new Error('the recording upstream has received no request');
      return r;
    },
    setHandler(h) {
      handler = h;
    },
    clear() {
      requests.length = 0;
    },
    stop() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
}
