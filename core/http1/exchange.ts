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

/** The client's address (the key of its failed-authentication budget), '' when unknown. */
export function sourceAddress(conn: object | undefined): string {
  return (conn as { remoteAddress?: string } | undefined)?.remoteAddress ?? '';
}

/**
 * `Expect: 100-continue` is answered only once the client is authenticated and authorised (node:http's
 * checkContinue hands such requests over without answering): a client that may not send its body is told
 * so before it does.
 */
export function continueIfExpected(req: ProxyRequest, res: ProxyResponse): void {
  if (req.headers.expect !== undefined && res.writeContinue && !res.headersSent) res.writeContinue();
}

/**
 * Whether node:http has sent the head of a response on `socket` (its ServerResponse in progress): a request
 * that then fails (a timeout, a bad body) cannot be answered with another head, only cut.
 */
export function responseStarted(socket: object): boolean {
  return (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
}
