// What the proxy's request handlers use of the client's request and response: node:http's IncomingMessage and
// ServerResponse satisfy these, and so do the front's lighter ones (core/http1/front.ts).
import type { IncomingHttpHeaders } from 'node:http';

export interface ProxyRequest extends AsyncIterable<Buffer> {
  url?: string;
  method?: string;
  headers: IncomingHttpHeaders;
  /** The client's connection (keys per-connection caches; `encrypted` on TLS). */
  socket: object;
}

export interface ProxyResponse {
  readonly headersSent: boolean;
  readonly writableFinished: boolean;
  writeHead(status: number, headers?: Record<string, string | string[] | number>): unknown;
  /** `done`, when the response supports it, is called once the chunk has left (node:http's ServerResponse). */
  write(chunk: Buffer, done?: () => void): boolean;
  end(data?: string | Buffer): unknown;
  destroy(): unknown;
  cork(): void;
  uncork(): void;
  /** Sends `100 Continue` (node:http's responses; the front takes no request that expects it). */
  writeContinue?(): void;
  once(event: 'close' | 'drain', listener: () => void): unknown;
  off(event: 'close', listener: () => void): unknown;
}
