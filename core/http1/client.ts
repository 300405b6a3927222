// The proxy's HTTP/1.1 client to the tools: keep-alive connections pooled per origin, one request at a time per
// connection, request head and small bodies in one write, responses parsed by ResponseParser and handed over
// as they arrive. It replaced undici on the forwarding path, where undici's per-request machinery (request
// objects, wasm parser callbacks, body streams) cost more CPU than the rest of the proxy together.
// Redirects are never followed; a request that failed on a reused connection before any response byte is
// sent again on a new one when it is replayable (no streamed body, idempotent method), as Go's Transport does.
// Whatever a server sends, and whatever a response handler throws while taking it, fails only that exchange
// (and closes its connection): no socket event handler lets an exception out.
import { connect as netConnect, isIP, Socket, type LookupFunction } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Readable } from 'node:stream';
import { ResponseParseError, ResponseParser, type ResponseHead } from './response-parser.ts';
import { TARGET_REFUSED, UpstreamError } from './errors.ts';
import { sweepDeadlines, type Expiring } from './deadlines.ts';
import { serializeRequestHead } from './request-head.ts';
import { batchWrites } from './write-batch.ts';

export { UpstreamError };

export interface Http1ClientOptions {
  connectTimeoutMs?: number;
  /** From the request written to the response head. */
  headersTimeoutMs?: number;
  /** Longest silence while the response body arrives. */
  idleTimeoutMs?: number;
  /** How long an unused connection is kept (shortened by the server's Keep-Alive: timeout hint). */
  keepAliveTimeoutMs?: number;
  /** Connections per origin; further requests wait for one... */
  maxConnectionsPerOrigin?: number;
  /** ...at most this long (then they fail with kind 'connection pool busy'). */
  poolWaitMs?: number;
  /** Longest time a response may stay paused because the proxy's client does not read it ('send timeout'). */
  sendTimeoutMs?: number;
  /** CAs for https origins (PEM); Node's defaults when absent. */
  ca?: string[];
}

export interface UpstreamRequest {
  url: URL;
  method: string;
  /** Field names in any case; Host, Content-Length and framing are set by the client. */
  headers: Record<string, string | string[]>;
  /** A whole body, or a stream sent with back-pressure (with its Content-Length if the headers have one, chunked otherwise). */
  body?: Buffer | Readable;
  /**
   * CAs for an https origin instead of the client's (custom CAs of a Connector); `key` names the set.
   * Connections are pooled per origin and key, never shared between two sets.
   */
  trust?: { key: string; ca: string[] };
  /**
   * The consumer hands every body chunk back once it is done with it (the `release` of onData): the response is
   * then read into recycled buffers (plain http), so a large body allocates no memory per read. See ReadTicket.
   */
  recycle?: boolean;
  /**
   * Checks where the connection goes (forward mode to a host that is not a Connector's): such requests get
   * connections of their own, opened through the guard.
   */
  guard?: ConnectionGuard;
}

/** Where a guarded connection may go: `lookupFor(port)` resolves names, `refusal` judges IP literals. */
export interface ConnectionGuard {
  lookupFor(port: number): LookupFunction;
  refusal(address: string, port: number): string | undefined;
}

export interface ResponseHandler {
  onHead(status: number, headers: Record<string, string | string[]>): void;
  /**
   * `last`: the body ends with this chunk, onEnd follows at once (known for Content-Length bodies). `release` is
   * given for a request with `recycle`: call it when the chunk's bytes are no longer needed (e.g. written to the
   * client's socket); never calling it is safe (the buffer is then left to the garbage collector).
   */
  onData(chunk: Buffer, last: boolean, release?: () => void): void;
  onEnd(): void;
  /** Called at most once, instead of or after onHead; never after onEnd. */
  onError(err: UpstreamError): void;
}

export interface Exchange {
  /** Stop reading the response (the client's socket is full). */
  pause(): void;
  resume(): void;
  /** Give up (the client went away): the connection is closed, the handler hears nothing more. */
  abort(): void;
  /** Request body bytes sent so far. */
  readonly bytesSent: number;
}

const REPLAYABLE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/** One request on one connection (or, after a replay, on a second). */
class Request implements Exchange, Expiring {
  bytesSent = 0;
  /** While waiting for a pooled connection: when it gives up (epoch ms). */
  deadline = 0;
  finished = false;
  requestSent = false;
  responseEnded = false;
  headReceived = false;
  replayed = false;
  conn: Connection | undefined;
  readonly head: string;
  readonly replayable: boolean;
  private pump: (() => void) | undefined;

  readonly client: Http1Client;
  readonly spec: UpstreamRequest;
  readonly handler: ResponseHandler;
  readonly chunked: boolean;

  constructor(client: Http1Client, spec: UpstreamRequest, handler: ResponseHandler, chunked: boolean) {
    this.client = client;
    this.spec = spec;
    this.handler = handler;
    this.chunked = chunked;
    this.head = serializeRequestHead(spec.method, spec.url, spec.headers, spec.body, chunked);
    this.replayable = !spec.body || Buffer.isBuffer(spec.body) ? REPLAYABLE_METHODS.has(spec.method) : false;
  }

  pause(): void {
    if (!this.conn) return;
    this.conn.socket.pause();
    // Waiting for our client is not the upstream's silence, but a client that never reads must not hold the
    // connection for ever.
    this.conn.stall(this.client.sendTimeoutMs);
  }

  resume(): void {
    if (!this.conn) return;
    this.conn.socket.resume();
    this.conn.unstall();
  }

  /** Waited too long for a pooled connection. */
  expire(): void {
    this.deadline = 0;
    this.client.pool(this.spec).unqueue(this);
    this.fail(new UpstreamError('connection pool busy', `no connection to ${this.spec.url.host} became free in time`));
  }

  abort(): void {
    if (this.finished) return;
    this.finished = true;
    this.stopPump();
    this.conn?.destroy();
  }

  /** Writes the request on `conn` (which may still be connecting: the socket queues the bytes). */
  send(conn: Connection): void {
    this.deadline = 0;
    this.conn = conn;
    conn.request = this;
    conn.parser.start(this.spec.method, conn);
    const { socket } = conn;
    conn.arm(conn.connected ? this.client.headersTimeoutMs : this.client.connectTimeoutMs);
    const body = this.spec.body;
    batchWrites(socket); // corked until the end of the turn, with the other requests sent in it (write-batch.ts)
    socket.write(this.head, 'latin1');
    if (body === undefined || Buffer.isBuffer(body)) {
      if (body && body.length > 0) {
        socket.write(body);
        this.bytesSent = body.length;
      }
      this.requestSent = true;
      return;
    }
    this.streamBody(body, socket);
  }

  private streamBody(body: Readable, socket: Socket): void {
    const onData = (chunk: Buffer) => {
      this.bytesSent += chunk.length;
      this.conn?.touch(); // a long upload is activity, not a wait for the response head
      let ok: boolean;
      if (this.chunked) {
        socket.cork();
        socket.write(chunk.length.toString(16) + '\r\n', 'latin1');
        socket.write(chunk);
        ok = socket.write('\r\n', 'latin1');
        socket.uncork();
      } else ok = socket.write(chunk);
      if (!ok) {
        body.pause();
        socket.once('drain', onDrain);
      }
    };
    const onDrain = () => body.resume();
    const onEnd = () => {
      this.stopPump();
      if (this.chunked) socket.write('0\r\n\r\n', 'latin1');
      this.requestSent = true;
      this.conn?.maybeRelease();
    };
    const onAbort = () => this.fail(new UpstreamError('aborted', 'the client request body was interrupted'));
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onAbort);
    body.once('aborted', onAbort);
    this.pump = () => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onAbort);
      body.off('aborted', onAbort);
      socket.off('drain', onDrain);
    };
  }

  stopPump(): void {
    this.pump?.();
    this.pump = undefined;
  }

  /** The exchange failed: replayed once on a new connection when that is safe, otherwise reported. */
  fail(err: UpstreamError): void {
    if (this.finished) return;
    const conn = this.conn;
    const early = conn !== undefined && conn.reused && !conn.parser.started;
    conn?.destroy();
    if (early && this.replayable && !this.replayed && err.kind !== 'aborted') {
      this.replayed = true;
      this.client.connectFresh(this);
      return;
    }
    this.finished = true;
    this.stopPump();
    this.handler.onError(err);
  }
}

/**
 * Read buffers handed back by their consumer and used again. A socket's default reads allocate a new 64 KiB buffer
 * each: through a large blob that is the whole body again in garbage, and V8 answers that much external memory with
 * full (mark-compact) collections of the proxy's heap (its watch caches), which were most of the proxy's CPU on an
 * image pull. A buffer goes back to the free list only when every piece of it given to the consumer was released
 * and nothing else kept a view of it (the parser copies a partial head).
 */
const READ_BUFFER_SIZE = 256 * 1024;
const MAX_FREE_READ_BUFFERS = 16; // 4 MiB kept at most: enough to keep a handful of large downloads from allocating
const freeReadBuffers: Buffer[] = [];
/**
 * Every other plain-http read goes into this one buffer, shared by all connections (a read and its callback run
 * in one turn of the event loop, so no two reads overlap), and the body bytes handed on are copied out of it: a
 * small response costs a copy of its few bytes instead of a 64 KiB allocation per read, which made V8 collect
 * (and stall the proxy for milliseconds) every few hundred responses.
 */
const SCRATCH_READ_BUFFER = Buffer.allocUnsafeSlow(64 * 1024);

/** One read into a recycled buffer: recycled when the connection and every released piece are done with it. */
class ReadTicket {
  refs = 1;
  /** A piece went to a consumer that does not release: the buffer is left to the garbage collector. */
  kept = false;
  readonly buf: Buffer;
  constructor(buf: Buffer) {
    this.buf = buf;
  }
  piece(): () => void {
    this.refs++;
    let done = false;
    return () => {
      if (!done) {
        done = true;
        this.unref();
      }
    };
  }
  unref(): void {
    if (--this.refs === 0 && !this.kept && freeReadBuffers.length < MAX_FREE_READ_BUFFERS)
      freeReadBuffers.push(this.buf);
  }
}

/** A socket to one origin with its parser; also the parser's sink for the request it carries. */
class Connection implements Expiring {
  readonly parser = new ResponseParser();
  request: Request | undefined;
  connected = false;
  reused = false;
  keepAliveMs: number;
  private keepAlive = false;
  private destroyed = false;
  private timeoutMs = 0;
  /** The response is paused because the proxy's client does not read it. */
  private stalled = false;
  /** When the connection has been inactive too long (epoch ms); see arm(). */
  deadline = 0;

  readonly pool: OriginPool;
  readonly socket: Socket;

  constructor(pool: OriginPool, socket: Socket, tls: boolean) {
    this.pool = pool;
    this.socket = socket;
    this.keepAliveMs = pool.client.keepAliveTimeoutMs;
    socket.setNoDelay(true);
    socket.once(tls ? 'secureConnect' : 'connect', () => {
      this.connected = true;
      if (this.request && !this.request.finished) this.arm(pool.client.headersTimeoutMs);
    });
    socket.on('data', (chunk: Buffer) => this.onSocketData(chunk)); // TLS sockets (plain ones read by onRead)
    socket.on('end', () => this.onSocketEnd());
    socket.on('error', (err: NodeJS.ErrnoException) => this.fail(socketError(err)));
    socket.on('close', () => this.onSocketClose());
  }

  // ResponseSink
  onHead(head: ResponseHead): void {
    this.keepAlive = head.keepAlive;
    if (head.keepAliveTimeoutS !== undefined)
      this.keepAliveMs = Math.min(this.keepAliveMs, head.keepAliveTimeoutS * 1000 - 1000);
    const r = this.request!;
    r.headReceived = true;
    this.arm(this.pool.client.idleTimeoutMs);
    r.handler.onHead(head.status, head.headers);
  }

  onData(chunk: Buffer, last: boolean): void {
    const r = this.request!;
    if (r.finished) return;
    const t = this.ticket;
    if (t && r.spec.recycle) r.handler.onData(chunk, last, t.piece());
    else if (this.scratchRead) r.handler.onData(Buffer.copyBytesFrom(chunk), last);
    else {
      if (t) t.kept = true;
      r.handler.onData(chunk, last);
    }
  }

  /** The read being parsed is in SCRATCH_READ_BUFFER: what leaves the parse must be copied. */
  private scratchRead = false;

  /** The recycled buffer of the read being parsed, if any. */
  private ticket: ReadTicket | undefined;

  /** A buffer for the next read (onread): recycled when the request hands its chunks back, else a fresh one. */
  readBuffer(): Buffer {
    if (this.request?.spec.recycle) return freeReadBuffers.pop() ?? Buffer.allocUnsafeSlow(READ_BUFFER_SIZE);
    return SCRATCH_READ_BUFFER;
  }

  /** A read into `buf` (onread). */
  onRead(n: number, buf: Buffer): void {
    if (buf === SCRATCH_READ_BUFFER) {
      this.scratchRead = true;
      try {
        this.onSocketData(buf.subarray(0, n));
      } finally {
        this.scratchRead = false;
      }
      return;
    }
    const t = (this.ticket = new ReadTicket(buf));
    try {
      this.onSocketData(buf.subarray(0, n));
    } finally {
      this.ticket = undefined;
      t.unref();
    }
  }

  onEnd(): void {
    const r = this.request!;
    r.responseEnded = true;
    if (r.finished) return;
    r.finished = true;
    if (!r.requestSent) {
      // Answered before the whole body was sent (e.g. 401 to a push): the rest is not sent and the
      // connection is not reused.
      r.stopPump();
      r.requestSent = true;
      this.keepAlive = false;
    }
    r.handler.onEnd();
  }

  private onSocketData(chunk: Buffer): void {
    this.touch();
    const r = this.request;
    if (!r) {
      this.destroy(); // bytes from an idle connection: nothing can make sense of them
      return;
    }
    try {
      this.parser.execute(chunk);
    } catch (err) {
      // A malformed response, or one the handler could not take (e.g. a value its writer refuses): this
      // exchange fails, the connection is closed, the process goes on.
      this.fail(invalidResponse(err));
      return;
    }
    if (this.parser.extraneous) this.keepAlive = false;
    if (r.responseEnded) this.maybeRelease();
  }

  /** Back to the pool once both the request and the response are complete. */
  maybeRelease(): void {
    const r = this.request;
    if (!r || !r.responseEnded || !r.requestSent) return;
    this.request = undefined;
    if (!this.keepAlive || this.keepAliveMs <= 0 || this.destroyed) this.destroy();
    else {
      // The response may have ended while its reader paused the socket (a slow client): no 'drain' resumes it
      // after the end, and a paused kept connection would never read the next response (nor see the server
      // close it).
      this.socket.resume();
      this.pool.release(this);
    }
  }

  private onSocketEnd(): void {
    const r = this.request;
    if (r && !r.responseEnded) {
      try {
        this.parser.finish(); // ends a body delimited by the connection's close
      } catch (err) {
        this.fail(
          err instanceof ResponseParseError ? new UpstreamError('connection reset', err.message) : invalidResponse(err),
        );
        return;
      }
    }
    this.keepAlive = false;
    this.maybeRelease();
    this.destroy();
  }

  private onSocketClose(): void {
    this.destroyed = true;
    this.pool.remove(this);
    const r = this.request;
    if (r && !r.responseEnded && !r.finished)
      this.fail(new UpstreamError('connection reset', 'upstream connection closed'));
  }

  /** An inactivity timeout of `ms` from now (checked by the client's sweepDeadlines). */
  arm(ms: number): void {
    this.timeoutMs = ms;
    this.deadline = Date.now() + ms;
  }

  touch(): void {
    this.deadline = Date.now() + this.timeoutMs;
  }

  /** The proxy's client stopped reading: at most `ms` more, then the exchange fails ('send timeout'). */
  stall(ms: number): void {
    this.stalled = true;
    this.arm(ms);
  }

  unstall(): void {
    this.stalled = false;
    this.arm(this.pool.client.idleTimeoutMs);
  }

  expire(): void {
    const r = this.request;
    if (!r) return this.destroy(); // idle past its keep-alive time
    this.fail(
      new UpstreamError(
        this.stalled
          ? 'send timeout'
          : !this.connected
            ? 'connect timeout'
            : !r.headReceived
              ? 'headers timeout'
              : 'idle timeout',
      ),
    );
  }

  private fail(err: UpstreamError): void {
    const r = this.request;
    this.request = undefined;
    if (r && r.conn === this && !r.finished) r.fail(err);
    else this.destroy();
  }

  destroy(): void {
    if (!this.destroyed) {
      this.destroyed = true;
      this.socket.destroy();
    }
    this.pool.remove(this);
  }
}

/** The connections to one origin. */
class OriginPool {
  private readonly idle: Connection[] = [];
  private readonly all = new Set<Connection>();
  private readonly waiting: Request[] = [];

  readonly client: Http1Client;
  readonly origin: URL;
  /** Pool key: the origin, the CA set's key when the pool has its own CAs, and whether it is guarded. */
  readonly key: string;
  private readonly ca: string[] | undefined;
  readonly guard: ConnectionGuard | undefined;

  constructor(
    client: Http1Client,
    origin: URL,
    key: string,
    ca: string[] | undefined,
    guard: ConnectionGuard | undefined,
  ) {
    this.client = client;
    this.origin = origin;
    this.key = key;
    this.ca = ca;
    this.guard = guard;
  }

  send(r: Request): void {
    let conn: Connection | undefined;
    while ((conn = this.idle.pop())) {
      if (this.all.has(conn) && !conn.socket.destroyed) {
        conn.socket.ref();
        conn.reused = true;
        return r.send(conn);
      }
    }
    if (this.all.size < this.client.maxConnectionsPerOrigin) return r.send(this.open());
    r.deadline = Date.now() + this.client.poolWaitMs;
    this.waiting.push(r);
  }

  /** Takes `r` out of the queue (it gave up). */
  unqueue(r: Request): void {
    const i = this.waiting.indexOf(r);
    if (i !== -1) this.waiting.splice(i, 1);
    if (this.all.size === 0 && this.waiting.length === 0) this.client.dropPool(this);
  }

  /** A new connection, for a replay. */
  sendFresh(r: Request): void {
    r.send(this.open());
  }

  release(conn: Connection): void {
    const next = this.waiting.shift();
    if (next) {
      conn.reused = true;
      return next.finished ? this.release(conn) : next.send(conn);
    }
    conn.arm(conn.keepAliveMs);
    conn.socket.unref(); // an idle connection does not keep the process alive
    this.idle.push(conn);
  }

  remove(conn: Connection): void {
    if (!this.all.delete(conn)) return;
    const i = this.idle.indexOf(conn);
    if (i !== -1) this.idle.splice(i, 1);
    while (this.waiting.length > 0 && this.all.size < this.client.maxConnectionsPerOrigin) {
      const next = this.waiting.shift()!;
      if (!next.finished) next.send(this.open());
    }
    if (this.all.size === 0 && this.waiting.length === 0) this.client.dropPool(this);
  }

  private open(): Connection {
    const { origin, client } = this;
    const ca = this.ca ?? client.ca;
    const host = origin.hostname.startsWith('[') ? origin.hostname.slice(1, -1) : origin.hostname;
    const https = origin.protocol === 'https:';
    const port = Number(origin.port) || (https ? 443 : 80);
    const guard = this.guard;
    // An IP literal is not looked up, so a guard judges it here; a name, when it has been resolved.
    const refusal = guard && isIP(host) ? guard.refusal(host, port) : undefined;
    const lookup = guard ? { lookup: guard.lookupFor(port) } : {};
    // eslint-disable-next-line prefer-const -- the onread callbacks below read it before it is assigned (a const would throw)
    let conn: Connection | undefined;
    const socket = refusal
      ? refusedSocket(host, refusal)
      : https
        ? tlsConnect({
            host,
            port,
            servername: isIP(host) ? undefined : host,
            ALPNProtocols: ['http/1.1'],
            ...(ca ? { ca } : {}),
            ...lookup,
          })
        : netConnect({
            host,
            port,
            ...lookup,
            onread: {
              // Called at once for the first read, before `conn` exists.
              buffer: () => (conn ? conn.readBuffer() : SCRATCH_READ_BUFFER),
              callback: (n: number, buf: Uint8Array) => {
                conn!.onRead(n, buf as Buffer);
                return true;
              },
            },
          });
    const created = new Connection(this, socket, https);
    conn = created;
    this.all.add(created);
    return created;
  }

  connections(): Iterable<Connection> {
    return this.all;
  }

  queued(): Iterable<Request> {
    return this.waiting;
  }

  close(): void {
    for (const c of [...this.all]) c.destroy();
    for (const r of this.waiting.splice(0)) r.fail(new UpstreamError('aborted', 'client closed'));
  }
}

export class Http1Client {
  readonly connectTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxConnectionsPerOrigin: number;
  readonly poolWaitMs: number;
  readonly sendTimeoutMs: number;
  readonly ca: string[] | undefined;
  private readonly pools = new Map<string, OriginPool>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(opts: Http1ClientOptions = {}) {
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
    this.headersTimeoutMs = opts.headersTimeoutMs ?? 120_000;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 300_000;
    this.keepAliveTimeoutMs = opts.keepAliveTimeoutMs ?? 30_000;
    this.maxConnectionsPerOrigin = opts.maxConnectionsPerOrigin ?? 256;
    this.poolWaitMs = opts.poolWaitMs ?? 10_000;
    this.sendTimeoutMs = opts.sendTimeoutMs ?? 60_000;
    this.ca = opts.ca;
    const pools = this.pools;
    this.sweeper = sweepDeadlines(
      function* () {
        for (const p of pools.values()) {
          yield* p.connections();
          yield* p.queued();
        }
      },
      Math.min(
        this.connectTimeoutMs,
        this.headersTimeoutMs,
        this.idleTimeoutMs,
        this.keepAliveTimeoutMs,
        this.poolWaitMs,
        this.sendTimeoutMs,
      ),
    );
  }

  /**
   * Sends a request; the handler hears the response. A request that cannot be written (a header value with a
   * line break, an unsupported scheme) fails through onError on the next tick, never with an exception.
   */
  request(spec: UpstreamRequest, handler: ResponseHandler): Exchange {
    const chunked =
      spec.body !== undefined && !Buffer.isBuffer(spec.body) && !hasHeader(spec.headers, 'content-length');
    let r: Request;
    try {
      if (spec.url.protocol !== 'http:' && spec.url.protocol !== 'https:')
        throw new UpstreamError('invalid request', `unsupported scheme ${spec.url.protocol}`);
      r = new Request(this, spec, handler, chunked);
    } catch (err) {
      const e = err instanceof UpstreamError ? err : new UpstreamError('invalid request', (err as Error).message);
      process.nextTick(() => handler.onError(e));
      return { pause() {}, resume() {}, abort() {}, bytesSent: 0 };
    }
    this.pool(spec).send(r);
    return r;
  }

  /** Sends `r` on a new connection (a replay after a reused connection failed). */
  connectFresh(r: Request): void {
    this.pool(r.spec).sendFresh(r);
  }

  /** The pool of the request's origin: one per CA set for https, and guarded requests' pools of their own. */
  pool(spec: UpstreamRequest): OriginPool {
    const origin = spec.url.origin;
    const trust = spec.url.protocol === 'https:' ? spec.trust : undefined;
    const base = trust ? `${origin}\n${trust.key}` : origin;
    const key = spec.guard ? 'guarded ' + base : base;
    let p = this.pools.get(key);
    if (!p) this.pools.set(key, (p = new OriginPool(this, new URL(origin), key, trust?.ca, spec.guard)));
    return p;
  }

  dropPool(p: OriginPool): void {
    if (this.pools.get(p.key) === p) this.pools.delete(p.key);
  }

  /** Closes every connection; requests in flight fail. */
  close(): void {
    clearInterval(this.sweeper);
    for (const p of [...this.pools.values()]) p.close();
    this.pools.clear();
  }
}

function hasHeader(headers: Record<string, unknown>, lowerName: string): boolean {
  for (const k in headers)
    if (k.length === lowerName.length && k.toLowerCase() === lowerName && headers[k] !== undefined) return true;
  return false;
}

/** A failure while a response was taken: malformed (ResponseParseError) or refused by its handler. */
function invalidResponse(err: unknown): UpstreamError {
  if (err instanceof ResponseParseError) return new UpstreamError('invalid response', err.message);
  return new UpstreamError('invalid response', `the response could not be relayed: ${(err as Error)?.message}`);
}

/** A socket that fails at once with the guard's refusal (ETARGETREFUSED), like a refused lookup. */
function refusedSocket(host: string, why: string): Socket {
  const socket = new Socket();
  const err = Object.assign(new Error(`forward mode does not connect to ${host}: ${why}`), {
    code: TARGET_REFUSED,
  });
  process.nextTick(() => socket.destroy(err));
  return socket;
}

/** Socket errors by a short name: the code (ECONNREFUSED, ENOTFOUND, a TLS verification code) or 'connection reset'. */
function socketError(err: NodeJS.ErrnoException): UpstreamError {
  const code = err.code;
  if (code === TARGET_REFUSED) return new UpstreamError('target refused', err.message);
  if (code === 'ECONNRESET' || code === 'EPIPE') return new UpstreamError('connection reset', err.message);
  return new UpstreamError(typeof code === 'string' ? code : 'connection error', err.message);
}
