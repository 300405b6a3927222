// Status lines and the answers written straight onto a socket (a parse error before any request object exists,
// a refused CONNECT): one reason-phrase table for every HTTP/1 writer of the code base, node:http's own.
import { STATUS_CODES } from '../util/node-http.ts';
import type { Socket } from 'node:net';
import type { ProxyResponse } from './exchange.ts';

/** The reason phrase of `status` ('' for a code without one: the phrase is optional in HTTP/1.1). */
export function reasonPhrase(status: number): string {
  return STATUS_CODES[status] ?? '';
}

/**
 * A whole response that closes the connection (pure): status line, `extra` header lines, the body's type and
 * length. For answers written to a raw socket, where no ServerResponse frames them.
 */
export function closingResponse(
  status: number,
  contentType: string,
  body: string,
  extra: Record<string, string> = {},
): string {
  let head = `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\n`;
  for (const k in extra) head += `${k}: ${extra[k]}\r\n`;
  return `${head}Content-Type: ${contentType}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

/**
 * The status a request that node:http's parser refused gets: 431 for a header section over the limit, 408 for
 * a request that did not arrive in time, 400 for anything else.
 */
export function clientErrorStatus(code: string | undefined): 400 | 408 | 431 {
  if (code === 'HPE_HEADER_OVERFLOW') return 431;
  if (code === 'HPE_REQUEST_TIMEOUT' || code === 'ERR_HTTP_REQUEST_TIMEOUT') return 408;
  return 400;
}

/**
 * A response written straight onto a socket that then closes: what a CONNECT is answered with when the proxy
 * refuses it (there is no ServerResponse for a CONNECT). Enough of ProxyResponse for a short answer.
 */
export class SocketAnswer implements ProxyResponse {
  private readonly socket: Socket;
  private status = 0;
  private headers: Record<string, string> = {};
  private body: Buffer[] = [];
  headersSent = false;
  writableFinished = false;

  constructor(socket: Socket) {
    this.socket = socket;
  }

  writeHead(status: number, headers: Record<string, string | string[] | number> = {}): this {
    this.status = status;
    for (const k in headers) {
      const lower = k.toLowerCase();
      // Framed here: a length of its own, and the connection closes.
      if (lower === 'content-length' || lower === 'content-type' || lower === 'connection') {
        if (lower === 'content-type') this.contentType = String(headers[k]);
        continue;
      }
      const v = headers[k];
      this.headers[k] = Array.isArray(v) ? v.join(', ') : String(v);
    }
    this.headersSent = true;
    return this;
  }

  private contentType = 'text/plain';

  write(chunk: Buffer): boolean {
    this.body.push(chunk);
    return true;
  }

  end(data?: string | Buffer): this {
    if (data !== undefined) this.body.push(typeof data === 'string' ? Buffer.from(data) : data);
    if (!this.headersSent) this.writeHead(200);
    this.socket.end(closingResponse(this.status, this.contentType, Buffer.concat(this.body).toString(), this.headers));
    this.writableFinished = true;
    return this;
  }

  destroy(): this {
    this.socket.destroy();
    return this;
  }

  cork(): void {}
  uncork(): void {}
  once(event: 'close' | 'drain', listener: () => void): this {
    this.socket.once(event === 'close' ? 'close' : 'drain', listener);
    return this;
  }
  off(event: 'close', listener: () => void): this {
    this.socket.off(event, listener);
    return this;
  }
}
