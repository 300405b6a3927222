// The client-facing front of the proxy's listener: it answers the simplest and most frequent requests (GET and
// HEAD without a body, in origin form, for the reverse mode) itself, and hands every other connection, at its
// first request that is not one of those, to node:http with the bytes already read. node:http's server costs
// about as much CPU per small request as all of the proxy's own work; the front's parser is strict and narrow
// (anything unusual goes to node:http, which answers or rejects it), so it adds no way of reading a request
// that node:http would read differently.
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { ProxyRequest, ProxyResponse } from './exchange.ts';
import { sweepDeadlines, type Expiring } from './deadlines.ts';
import { HEAD_END, lowerName, NOT_FIELD_VALUE, TOKEN, trimOws } from './fields.ts';
import { batchWrites } from './write-batch.ts';
import { reasonPhrase } from './status.ts';
import { rememberLast } from '../util/remember-last.ts';

export interface ParsedRequest {
  method: 'GET' | 'HEAD';
  url: string;
  http10: boolean;
  headers: IncomingHttpHeaders;
  keepAlive: boolean;
}

const REQUEST_LINE = /^(GET|HEAD) (\/[\x21-\x7e]*) HTTP\/1\.([01])$/;
/** Field values: visible ASCII, space, tab and obs-text; no CR, LF, NUL or other controls. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/**
 * Fields that give a request a body or change the protocol: node:http's business. And Proxy-Connection, which
 * llhttp reads as Connection (`Proxy-Connection: close` closes) where the front would not.
 */
const HANDOFF_FIELDS = new Set([
  'content-length',
  'transfer-encoding',
  'upgrade',
  'expect',
  'http2-settings',
  'proxy-connection',
]);

/**
 * A request head (without its final CRLFCRLF) the front may answer, or undefined: then node:http takes the
 * connection (other methods, bodies, absolute-form targets, repeated or malformed fields, obs-fold, HTTP/1.1
 * without Host). Pure. `fields` parses the header fields: the front gives each connection a memo of
 * parseFields (rememberLast), since a keep-alive client sends the same fields again and again (the same Host,
 * Authorization, User-Agent...) and checking a ~1 KiB token alone took ~6% of a small request.
 */
export function parseRequestHead(
  text: string,
  fields: (text: string) => IncomingHttpHeaders | undefined = parseFields,
): ParsedRequest | undefined {
  const eol = text.indexOf('\r\n');
  const m = REQUEST_LINE.exec(eol === -1 ? text : text.slice(0, eol));
  if (!m) return undefined;
  const parsed = fields(eol === -1 ? '' : text.slice(eol));
  if (!parsed) return undefined;
  const headers = { ...parsed }; // the request's own: a memo keeps what `fields` returned
  const http10 = m[3] === '0';
  if (!http10 && headers.host === undefined) return undefined;
  const conn = headers.connection;
  const keepAlive = conn === undefined ? !http10 : keepsAlive(conn, http10);
  return { method: m[1] as 'GET' | 'HEAD', url: m[2], http10, headers, keepAlive };
}

/** Whether a request with this Connection field leaves the connection open. Pure. */
function keepsAlive(conn: string, http10: boolean): boolean {
  // The usual single token, without splitting the field.
  const single = conn.length <= 10 ? conn.toLowerCase() : '';
  if (single === 'keep-alive') return true;
  if (single === 'close') return false;
  // Comma-separated tokens, white space around each ignored (not inside: `c lose` is no `close`, as for llhttp).
  const tokens = conn.toLowerCase().split(',').map(trimOws);
  return http10 ? tokens.includes('keep-alive') : !tokens.includes('close');
}

/** Header fields (`\r\nName: value` repeated), or undefined when the front does not take them. Pure. */
export function parseFields(text: string): IncomingHttpHeaders | undefined {
  const headers: IncomingHttpHeaders = {};
  let eol = text === '' ? -1 : 0;
  while (eol !== -1) {
    const start = eol + 2;
    eol = text.indexOf('\r\n', start);
    const colon = text.indexOf(':', start);
    if (colon <= start || (eol !== -1 && colon > eol)) return undefined;
    const name = text.slice(start, colon);
    const value = text.slice(colon + 1, eol === -1 ? text.length : eol);
    if (!TOKEN.test(name) || !FIELD_VALUE.test(value)) return undefined;
    const k = lowerName(name);
    if (HANDOFF_FIELDS.has(k) || k in headers) return undefined;
    headers[k] = trimOws(value);
  }
  return headers;
}

/** What the front makes of the bytes a connection has sent so far. */
export type FrontStep =
  /** A request it takes, whose head is the first `headLength` bytes. */
  | { kind: 'take'; request: ParsedRequest; headLength: number }
  /** Not a request it takes: the connection and every byte so far go to node:http. */
  | { kind: 'handoff' }
  /** The head is not complete yet and may still become one it takes. */
  | { kind: 'wait' };

/**
 * The front's decision on the bytes `buf` received so far on a connection (at a request boundary). Pure: the
 * differential test holds it against node's own parser.
 */
export function frontStep(
  buf: Buffer,
  maxHeaderSize: number,
  fields: (text: string) => IncomingHttpHeaders | undefined = parseFields,
): FrontStep {
  const end = buf.indexOf(HEAD_END);
  if (end === -1) {
    // Bytes that cannot start a request the front takes (another method, a TLS hello) go to node:http at
    // once, as does a head over the size limit (431): only the front's own requests are waited for.
    return buf.length > maxHeaderSize || !mayStartRequest(buf) ? { kind: 'handoff' } : { kind: 'wait' };
  }
  const request = end <= maxHeaderSize ? parseRequestHead(buf.toString('latin1', 0, end), fields) : undefined;
  return request ? { kind: 'take', request, headLength: end + 4 } : { kind: 'handoff' };
}

/** Whether the start of a head, not yet complete, may still become a request the front takes. Pure. */
export function mayStartRequest(buf: Buffer): boolean {
  const lf = buf.indexOf(10);
  if (lf !== -1) return lf > 0 && buf[lf - 1] === 13 && REQUEST_LINE.test(buf.toString('latin1', 0, lf - 1));
  const start = buf.toString('latin1', 0, Math.min(buf.length, 6));
  return 'GET /'.startsWith(start.slice(0, 5)) || 'HEAD /'.startsWith(start);
}

const DEFAULT_SEND_TIMEOUT_MS = 60_000;

export interface FrontOptions {
  /** The node:http server (listening) whose connections pass through the front. */
  server: Server;
  maxHeaderSize: number;
  /** Longest wait for the rest of a request head. */
  headersTimeoutMs: number;
  /** Longest wait for the next request on a kept connection. */
  keepAliveTimeoutMs: number;
  /** Longest wait for a client to read what the front wrote before its next request is taken (default 60 s). */
  sendTimeoutMs?: number;
  /** Whether the front answers this request itself (otherwise node:http takes the connection). */
  accepts(req: ParsedRequest): boolean;
  handle(req: ProxyRequest, res: ProxyResponse): void;
}

/**
 * Puts the front before node:http's own connection handling of `opts.server`: node's handler (the server's
 * first 'connection' listener, added by createServer) is called for a connection only when it is handed over.
 */
export function installFront(opts: FrontOptions): { close(): void } {
  const { server } = opts;
  const [nodeHandler] = server.listeners('connection') as Array<(socket: Socket) => void>;
  server.removeListener('connection', nodeHandler);
  const connections = new Set<FrontConnection>();
  const handOver = (socket: Socket, bytes: Buffer | undefined) => {
    nodeHandler.call(server, socket);
    // Synchronously, before any later read of the socket reaches node's parser.
    if (bytes && bytes.length > 0) socket.emit('data', bytes);
  };
  server.prependListener('connection', (socket: Socket) => {
    const c = new FrontConnection(socket, opts, handOver, () => connections.delete(c));
    connections.add(c);
  });
  const sweep = sweepDeadlines(
    () => connections,
    Math.min(opts.headersTimeoutMs, opts.keepAliveTimeoutMs, opts.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS),
  );
  return {
    close() {
      clearInterval(sweep);
    },
  };
}

class FrontConnection implements Expiring {
  private buffer: Buffer | undefined;
  private readonly fields = rememberLast(parseFields);
  private busy = false;
  private done = false;
  deadline = 0;
  private readonly onData = (chunk: Buffer) => {
    try {
      this.received(chunk);
    } catch {
      // Nothing a client sends may end the process: a request the front cannot handle costs its connection.
      this.expire();
    }
  };
  /** The client read what was written: the next request may be taken. */
  private readonly onDrain = () => this.ready();
  private readonly onError = () => {}; // 'close' follows; kept after hand-over too, harmless to node's own
  private readonly onClose = () => this.finished();
  /** The client half-closed: closed from this side too (node:http's default), which ends any response in progress. */
  private readonly onEnd = () => this.socket.end();
  private readonly socket: Socket;
  private readonly opts: FrontOptions;
  private readonly handOver: (socket: Socket, bytes: Buffer | undefined) => void;
  private readonly forget: () => void;
  response: FrontResponse | undefined;

  constructor(
    socket: Socket,
    opts: FrontOptions,
    handOver: (socket: Socket, bytes: Buffer | undefined) => void,
    forget: () => void,
  ) {
    this.socket = socket;
    this.opts = opts;
    this.handOver = handOver;
    this.forget = forget;
    socket.setNoDelay(true);
    socket.on('data', this.onData);
    socket.on('close', this.onClose);
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
    this.deadline = Date.now() + opts.headersTimeoutMs;
  }

  private received(chunk: Buffer): void {
    const starting = this.buffer === undefined;
    this.buffer = this.buffer ? Buffer.concat([this.buffer, chunk]) : chunk;
    if (this.busy) {
      this.socket.pause(); // a pipelined request waits for the response in progress
      return;
    }
    // The whole head must arrive within the headers timeout from its first byte, however slowly it drips.
    if (starting) this.deadline = Date.now() + this.opts.headersTimeoutMs;
    this.next();
  }

  /** Takes the next request out of the buffer, if it is complete. */
  private next(): void {
    const buf = this.buffer;
    if (!buf) return;
    const step = frontStep(buf, this.opts.maxHeaderSize, this.fields);
    if (step.kind === 'wait') return;
    if (step.kind === 'handoff' || !this.opts.accepts(step.request)) return this.handoff();
    const parsed = step.request;
    this.buffer = step.headLength < buf.length ? buf.subarray(step.headLength) : undefined;
    this.busy = true;
    this.deadline = 0;
    const res = (this.response = new FrontResponse(this.socket, parsed, () => this.responded(res)));
    this.opts.handle(new FrontRequest(parsed, this.socket), res);
  }

  private responded(res: FrontResponse): void {
    if (this.response !== res) return;
    this.response = undefined;
    if (!res.keepAlive) {
      this.busy = false;
      this.done = true;
      this.socket.end();
      return;
    }
    if (this.socket.writableNeedDrain) {
      // The client does not read what it asked for: its next request waits until it does (a client that
      // pipelines requests and never reads would otherwise have every response buffered here), at most the
      // send timeout.
      this.deadline = Date.now() + (this.opts.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS);
      this.socket.once('drain', this.onDrain);
      return;
    }
    this.ready();
  }

  /** Ready for the next request on the connection. */
  private ready(): void {
    if (this.done) return;
    this.busy = false;
    this.deadline = Date.now() + (this.buffer ? this.opts.headersTimeoutMs : this.opts.keepAliveTimeoutMs);
    // A pipelined request is taken on the next turn, not inside the handler's end() of this one.
    if (this.buffer) setImmediate(() => !this.busy && !this.done && this.next());
    this.socket.resume();
  }

  private handoff(): void {
    this.detach();
    this.socket.resume();
    this.handOver(this.socket, this.buffer);
    this.buffer = undefined;
  }

  private detach(): void {
    this.done = true;
    this.deadline = 0;
    this.socket.off('data', this.onData);
    this.socket.off('close', this.onClose);
    this.socket.off('end', this.onEnd);
    this.socket.off('drain', this.onDrain);
    this.forget();
  }

  /**
   * No complete request in time (a partial head or an idle kept connection), or a client that did not read its
   * response in time: closed, as node:http does.
   */
  expire(): void {
    this.detach();
    this.socket.destroy();
  }

  private finished(): void {
    if (this.done) return;
    this.detach();
    this.response?.clientGone();
  }
}

class FrontRequest implements ProxyRequest {
  readonly url: string;
  readonly method: string;
  readonly headers: IncomingHttpHeaders;
  readonly socket: Socket;
  readonly httpVersion: string;

  constructor(p: ParsedRequest, socket: Socket) {
    this.url = p.url;
    this.method = p.method;
    this.headers = p.headers;
    this.socket = socket;
    this.httpVersion = p.http10 ? '1.0' : '1.1';
  }

  /** The front takes no request with a body. */
  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {}
}

/** The response date, formatted once per second. */
let dateSecond = 0;
let dateText = '';
function httpDate(): string {
  const s = Math.floor(Date.now() / 1000);
  if (s !== dateSecond) {
    dateSecond = s;
    dateText = new Date(s * 1000).toUTCString();
  }
  return dateText;
}

const BATCHED_BODY_BYTES = 64 * 1024;
/** Bodies up to this size leave with the head in one string (copying them once costs less than a second chunk). */
const JOINED_BODY_BYTES = 1024;

/** A response field line; a value with a control character or DEL is refused, as node:http's writeHead does. */
function fieldLine(name: string, value: string): string {
  if (NOT_FIELD_VALUE.test(value)) throw new TypeError(`invalid response header ${name}`);
  return name + ': ' + value + '\r\n';
}

/**
 * The response to a request the front took. Not an EventEmitter: its two events ('close' when the client goes
 * before the end, 'drain') have at most a listener or two, kept in plain lists (an emitter and its once-wrappers
 * were a measurable part of a small request).
 */
class FrontResponse implements ProxyResponse {
  headersSent = false;
  writableFinished = false;
  keepAlive: boolean;
  private head = '';
  private bodyBytes = 0;
  private chunked = false;
  private drainPending = false;
  private noBody: boolean;
  private readonly socket: Socket;
  private readonly http10: boolean;
  private readonly onDone: () => void;
  private closeListeners: Array<() => void> | undefined;
  private drainListeners: Array<() => void> | undefined;

  constructor(socket: Socket, req: ParsedRequest, onDone: () => void) {
    this.socket = socket;
    this.http10 = req.http10;
    this.keepAlive = req.keepAlive;
    this.noBody = req.method === 'HEAD';
    this.onDone = onDone;
  }

  writeHead(status: number, headers: Record<string, string | string[] | number> = {}): this {
    if (this.headersSent) throw new Error('headers already sent');
    let head = 'HTTP/1.1 ' + status + ' ' + reasonPhrase(status) + '\r\n';
    let length = false;
    let date = false;
    for (const k in headers) {
      const v = headers[k];
      const lower = lowerName(k);
      // The front frames the response and decides the connection itself.
      if (lower === 'connection' || lower === 'transfer-encoding' || lower === 'keep-alive') continue;
      if (lower === 'content-length') length = true;
      else if (lower === 'date') date = true;
      if (!TOKEN.test(k)) throw new TypeError(`invalid response header ${k}`);
      if (Array.isArray(v)) for (const x of v) head += fieldLine(k, String(x));
      else head += fieldLine(k, typeof v === 'string' ? v : String(v));
    }
    if (status === 204 || status === 304 || status < 200) this.noBody = true;
    if (!date) head += 'date: ' + httpDate() + '\r\n';
    if (!length && !this.noBody) {
      // No length: chunked for HTTP/1.1, the end of the connection for HTTP/1.0.
      if (this.http10) this.keepAlive = false;
      else {
        this.chunked = true;
        head += 'transfer-encoding: chunked\r\n';
      }
    }
    if (!this.keepAlive) head += 'connection: close\r\n';
    else if (this.http10) head += 'connection: keep-alive\r\n';
    this.head = head + '\r\n';
    this.headersSent = true;
    return this;
  }

  write(chunk: Buffer): boolean {
    if (!this.headersSent) this.writeHead(200);
    const s = this.socket;
    if (this.noBody || chunk.length === 0) return this.flushHead();
    // A small body waits for the end of the turn with the other responses (write-batch.ts); past the first
    // 64 KiB a body goes out at once: held for the turn, it filled the socket's buffer and paused the upstream
    // on every read.
    this.bodyBytes += chunk.length;
    if (this.bodyBytes <= BATCHED_BODY_BYTES) batchWrites(s);
    if (this.head !== '' && !this.chunked && chunk.length <= JOINED_BODY_BYTES) {
      // Head and a small body as one string: one chunk for the socket, written without writev's array.
      const text = this.head + chunk.toString('latin1');
      this.head = '';
      return this.watchDrain(s.write(text, 'latin1'));
    }
    s.cork();
    this.flushHead();
    let ok: boolean;
    if (this.chunked) {
      s.write(chunk.length.toString(16) + '\r\n', 'latin1');
      s.write(chunk);
      ok = s.write('\r\n', 'latin1');
    } else ok = s.write(chunk);
    s.uncork();
    return this.watchDrain(ok);
  }

  /** `ok` (what the socket's write said); when false, the drain listeners are called at the socket's next drain. */
  private watchDrain(ok: boolean): boolean {
    const s = this.socket;
    if (!ok && !this.drainPending) {
      this.drainPending = true;
      s.once('drain', () => {
        this.drainPending = false;
        const listeners = this.drainListeners;
        this.drainListeners = undefined;
        if (listeners) for (const l of listeners) l();
      });
    }
    return ok;
  }

  end(data?: string | Buffer): this {
    if (this.writableFinished) return this;
    if (!this.headersSent) this.writeHead(200);
    const s = this.socket;
    batchWrites(s);
    if (data !== undefined && data.length > 0) this.write(typeof data === 'string' ? Buffer.from(data) : data);
    this.flushHead();
    if (this.chunked) s.write('0\r\n\r\n', 'latin1');
    this.writableFinished = true;
    this.onDone();
    return this;
  }

  private flushHead(): boolean {
    if (this.head === '') return true;
    const ok = this.socket.write(this.head, 'latin1');
    this.head = '';
    return ok;
  }

  destroy(): this {
    this.socket.destroy();
    return this;
  }

  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
  }

  /** `listener` once, at the next 'drain' or at 'close' (the client's connection closed before the end). */
  once(event: 'close' | 'drain', listener: () => void): this {
    if (event === 'close') (this.closeListeners ??= []).push(listener);
    else (this.drainListeners ??= []).push(listener);
    return this;
  }

  off(event: 'close', listener: () => void): this {
    const i = this.closeListeners?.indexOf(listener) ?? -1;
    if (i !== -1) this.closeListeners!.splice(i, 1);
    return this;
  }

  /** The client's connection closed before the response ended. */
  clientGone(): void {
    if (this.writableFinished) return;
    const listeners = this.closeListeners;
    this.closeListeners = undefined;
    if (listeners) for (const l of listeners) l();
  }
}
