// Incremental parser of HTTP/1.1 responses (RFC 9112) for the proxy's own upstream client: bytes in, head /
// body chunks / end out, no I/O. It is strict where leniency lets a response be read two ways (conflicting
// Content-Length, bare CR or LF in the head, bad chunk framing) and decodes chunked bodies, so the proxy can
// re-frame them for its client. One response at a time (the client never pipelines).
import { HEAD_END, lowerName, NOT_FIELD_VALUE, TOKEN, trimOws } from './fields.ts';
import { rememberLast } from '../util/remember-last.ts';

export interface ResponseHead {
  status: number;
  /** Lower-case names; Set-Cookie always a list, other repeated fields joined with ", ". */
  headers: Record<string, string | string[]>;
  /** Whether the connection may carry another request once this response has ended. */
  keepAlive: boolean;
  /** Seconds from a `Keep-Alive: timeout=N` hint, if any. */
  keepAliveTimeoutS?: number;
}

export interface ResponseSink {
  onHead(head: ResponseHead): void;
  /** `last`: the body ends with this chunk (onEnd follows at once), known for a Content-Length body. */
  onData(chunk: Buffer, last: boolean): void;
  onEnd(): void;
}

export class ResponseParseError extends Error {
  override readonly name = 'ResponseParseError';
}

export const MAX_HEAD_BYTES = 64 * 1024;
const MAX_CHUNK_LINE = 4096;
const MAX_TRAILER_BYTES = 64 * 1024;

// Parser states (numbers: compared on every byte run).
const State = {
  Head: 0,
  Length: 1,
  ChunkSize: 2,
  ChunkData: 3,
  ChunkDataEnd: 4,
  Trailers: 5,
  UntilClose: 6,
  Done: 7,
} as const;
type State = (typeof State)[keyof typeof State];

const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: [\t\x20-\x7e\x80-\xff]*)?$/;
const DIGITS = /^\d+$/;
const HEX = /^[0-9a-fA-F]{1,13}$/;

export class ResponseParser {
  private state: State = State.Done;
  private sink: ResponseSink | undefined;
  private noBody = false;
  /** The bytes of a head not yet complete. */
  private partial: Buffer | undefined;
  private remaining = 0;
  private line = '';
  private trailerBytes = 0;
  private keepAlive = false;
  /** Bytes that arrived after the end of the response (a protocol error for a non-pipelining client). */
  extraneous = false;
  /** parseHead remembering the last head of this connection: a server repeats its heads (but for Date, each second). */
  private readonly parseHead = rememberLast(parseHead);

  /** Expect the response to a request with `method` (HEAD responses have no body). */
  start(method: string, sink: ResponseSink): void {
    this.state = State.Head;
    this.sink = sink;
    this.noBody = method === 'HEAD';
    this.partial = undefined;
    this.extraneous = false;
  }

  get done(): boolean {
    return this.state === State.Done;
  }

  /** Whether any byte of the current response has arrived. */
  get started(): boolean {
    return this.state !== State.Head || this.partial !== undefined;
  }

  /** Feeds bytes; throws ResponseParseError on a malformed response. */
  execute(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      switch (this.state) {
        case State.Head:
          i = this.readHead(chunk, i);
          break;
        case State.Length:
        case State.ChunkData: {
          // Body bytes of a known length: the whole body, or the current chunk.
          const n = Math.min(this.remaining, chunk.length - i);
          this.remaining -= n;
          const data = chunk.subarray(i, i + n);
          i += n;
          if (this.remaining === 0) this.state = this.state === State.Length ? State.Done : State.ChunkDataEnd;
          this.sink!.onData(data, this.state === State.Done);
          if (this.state === State.Done) this.sink!.onEnd();
          break;
        }
        case State.ChunkSize:
        case State.ChunkDataEnd:
        case State.Trailers:
          i = this.readLine(chunk, i);
          break;
        case State.UntilClose: {
          const data = i === 0 ? chunk : chunk.subarray(i);
          i = chunk.length;
          this.sink!.onData(data, false);
          break;
        }
        case State.Done:
          this.extraneous = true;
          return;
      }
    }
  }

  /** The connection was closed by the upstream: ends a close-delimited body, otherwise the response was cut. */
  finish(): void {
    if (this.state === State.UntilClose) {
      this.state = State.Done;
      this.sink!.onEnd();
      return;
    }
    if (this.state !== State.Done)
      throw new ResponseParseError(
        this.started ? 'response cut short by the upstream' : 'upstream closed the connection without a response',
      );
  }

  private readHead(chunk: Buffer, from: number): number {
    // The end of the head may straddle reads: the bytes kept so far are searched together with this chunk.
    const kept = this.partial;
    const all = kept ? Buffer.concat([kept, chunk.subarray(from)]) : chunk;
    const start = kept ? 0 : from; // where the head starts in `all`
    const end = all.indexOf(HEAD_END, kept ? Math.max(0, kept.length - 3) : from);
    if (end === -1) {
      if (all.length - start > MAX_HEAD_BYTES)
        throw new ResponseParseError(`response head larger than ${MAX_HEAD_BYTES} bytes`);
      // A copy: the read buffer may be used again for the next read (client.ts, recycled reads).
      this.partial = kept ? all : Buffer.from(chunk.subarray(from));
      return chunk.length;
    }
    if (end - start > MAX_HEAD_BYTES) throw new ResponseParseError(`response head larger than ${MAX_HEAD_BYTES} bytes`);
    this.partial = undefined;
    const after = kept ? from + end + 4 - kept.length : end + 4; // in `chunk`, the first byte after the head
    // A copy of its own: framing and the consumer may change it, the memo keeps what parseHead returned.
    const head = copyHead(this.parseHead(all.toString('latin1', start, end)));
    if (head.status < 200) {
      // Interim responses (100 Continue, 103 Early Hints) are dropped; 101 needs an Upgrade the proxy never sends.
      if (head.status === 101) throw new ResponseParseError('unexpected 101 Switching Protocols');
      return after;
    }
    this.keepAlive = head.keepAlive;
    const framing = bodyFraming(head, this.noBody);
    if (framing.kind === 'close') head.keepAlive = this.keepAlive = false;
    this.sink!.onHead(head);
    switch (framing.kind) {
      case 'none':
        this.state = State.Done;
        this.sink!.onEnd();
        break;
      case 'length':
        if (framing.length === 0) {
          this.state = State.Done;
          this.sink!.onEnd();
        } else {
          this.state = State.Length;
          this.remaining = framing.length;
        }
        break;
      case 'chunked':
        this.state = State.ChunkSize;
        this.line = '';
        break;
      case 'close':
        this.state = State.UntilClose;
        break;
    }
    return after;
  }

  /** Chunk-size lines, the CRLF after chunk data, and trailer lines. */
  private readLine(chunk: Buffer, from: number): number {
    const lf = chunk.indexOf(10, from);
    const end = lf === -1 ? chunk.length : lf + 1;
    this.line += chunk.toString('latin1', from, end);
    if (this.state === State.Trailers) {
      this.trailerBytes += end - from;
      if (this.trailerBytes > MAX_TRAILER_BYTES) throw new ResponseParseError('response trailers too large');
    } else if (this.line.length > MAX_CHUNK_LINE) throw new ResponseParseError('chunk size line too long');
    if (lf === -1) return end;
    const line = this.line;
    this.line = '';
    if (!line.endsWith('\r\n') || line.indexOf('\r') !== line.length - 2)
      throw new ResponseParseError('bare LF or CR in chunked framing');
    const text = line.slice(0, -2);
    switch (this.state) {
      case State.ChunkDataEnd:
        if (text !== '') throw new ResponseParseError('chunk data longer than its size');
        this.state = State.ChunkSize;
        break;
      case State.ChunkSize: {
        const semi = text.indexOf(';');
        const size = (semi === -1 ? text : text.slice(0, semi)).trimEnd();
        if (!HEX.test(size)) throw new ResponseParseError('invalid chunk size');
        this.remaining = parseInt(size, 16);
        if (this.remaining === 0) {
          this.state = State.Trailers;
          this.trailerBytes = 0;
        } else this.state = State.ChunkData;
        break;
      }
      case State.Trailers:
        // Trailer fields are dropped: the client's response has no trailer declared.
        if (text === '') {
          this.state = State.Done;
          this.sink!.onEnd();
        }
        break;
    }
    return end;
  }
}

/** Status line and header fields of a head (without its final CRLFCRLF). Pure. */
export function parseHead(text: string): ResponseHead {
  let eol = text.indexOf('\r\n');
  const m = STATUS_LINE.exec(eol === -1 ? text : text.slice(0, eol));
  if (!m) throw new ResponseParseError('invalid status line');
  const headers: Record<string, string | string[]> = {};
  let last = '';
  while (eol !== -1) {
    const start = eol + 2;
    eol = text.indexOf('\r\n', start);
    const l = eol === -1 ? text.slice(start) : text.slice(start, eol);
    // Controls (bare CR or LF, NUL, \x01...) and DEL anywhere in a field line: a name cannot hold them, a value
    // must not (it could not be relayed to the client, and they are how responses are split).
    if (NOT_FIELD_VALUE.test(l)) throw new ResponseParseError('control character in a response header');
    if (l[0] === ' ' || l[0] === '\t') {
      // Obsolete line folding: replaced by a space, as RFC 9112 §5.2 lets a proxy do.
      if (!last) throw new ResponseParseError('invalid header continuation');
      const v = headers[last];
      const folded = trimOws(l);
      if (Array.isArray(v)) v[v.length - 1] += ' ' + folded;
      else headers[last] = v + ' ' + folded;
      continue;
    }
    const colon = l.indexOf(':');
    const name = colon > 0 ? l.slice(0, colon) : '';
    if (!TOKEN.test(name)) throw new ResponseParseError('invalid response header name');
    const k = lowerName(name);
    const value = trimOws(l.slice(colon + 1));
    const prev = headers[k];
    if (prev === undefined) headers[k] = k === 'set-cookie' ? [value] : value;
    else if (Array.isArray(prev)) prev.push(value);
    else headers[k] = prev + ', ' + value;
    last = k;
  }
  const http10 = m[1] === '0';
  const conn = headers.connection;
  const tokens = conn === undefined ? '' : ',' + String(conn).toLowerCase().replace(/\s+/g, '') + ',';
  // Transfer-Encoding with Content-Length, or in an HTTP/1.0 response, is framing two parsers may read two
  // ways (RFC 9112 §6.1, §6.3): the body is read by Transfer-Encoding and the connection is not used again.
  const ambiguous = headers['transfer-encoding'] !== undefined && (http10 || headers['content-length'] !== undefined);
  const keepAlive = !ambiguous && (http10 ? tokens.includes(',keep-alive,') : !tokens.includes(',close,'));
  const head: ResponseHead = { status: Number(m[2]), headers, keepAlive };
  const hint = headers['keep-alive'];
  if (typeof hint === 'string') {
    const t = /(?:^|[,\s])timeout=(\d+)/i.exec(hint);
    if (t) head.keepAliveTimeoutS = Number(t[1]);
  }
  return head;
}

/** A copy of `head` that shares nothing changeable with it. Pure. */
function copyHead(head: ResponseHead): ResponseHead {
  const headers = { ...head.headers };
  const cookies = headers['set-cookie'];
  if (Array.isArray(cookies)) headers['set-cookie'] = cookies.slice();
  const out: ResponseHead = { status: head.status, headers, keepAlive: head.keepAlive };
  if (head.keepAliveTimeoutS !== undefined) out.keepAliveTimeoutS = head.keepAliveTimeoutS;
  return out;
}

type Framing = { kind: 'none' } | { kind: 'length'; length: number } | { kind: 'chunked' } | { kind: 'close' };

/** How the body of a response is delimited (RFC 9112 §6.3). Pure; removes Content-Length when TE decides. */
export function bodyFraming(head: ResponseHead, requestWasHead: boolean): Framing {
  const { status, headers } = head;
  if (requestWasHead || status === 204 || status === 304 || status < 200) return { kind: 'none' };
  const te = headers['transfer-encoding'];
  if (te !== undefined) {
    // Transfer-Encoding overrides Content-Length (which must then not be sent on).
    delete headers['content-length'];
    const codings = String(te).toLowerCase().split(',');
    return codings[codings.length - 1].trim() === 'chunked' ? { kind: 'chunked' } : { kind: 'close' };
  }
  const cl = headers['content-length'];
  if (typeof cl === 'string' && DIGITS.test(cl) && cl.length < 16) return { kind: 'length', length: Number(cl) }; // the usual case
  if (cl !== undefined) {
    const values = String(cl)
      .split(',')
      .map((v) => v.trim());
    if (!values.every((v) => DIGITS.test(v) && v === values[0]))
      throw new ResponseParseError('invalid or conflicting Content-Length');
    const length = Number(values[0]);
    if (!Number.isSafeInteger(length)) throw new ResponseParseError('invalid Content-Length');
    headers['content-length'] = values[0];
    return { kind: 'length', length };
  }
  return { kind: 'close' };
}
