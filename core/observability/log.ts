// Structured JSON logs, one object per line on stderr. Credentials never reach a log: fields whose names
// look like credentials are replaced before writing, whatever the caller passed.
import { writeSync } from 'node:fs';

export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
  /**
   * One line whose fields the caller serialised itself (`json`: the members of a JSON object, e.g.
   * `"a":1,"b":"x"`), written as-is without redaction: only for a fixed set of fields known to hold no
   * credential (the audit line). `atMs` (epoch ms) is the line's time, default now.
   */
  preformatted(level: Level, msg: string, json: string, atMs?: number): void;
}

/** Field names whose values are never logged. */
const SECRET_FIELD = /pass(word)?|secret|token|authorization|credential|cookie|private.?key|api.?key/i;

export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return { message: value.message, name: value.name };
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const k in value) {
    if (!Object.hasOwn(value, k)) continue;
    const v = (value as Record<string, unknown>)[k];
    out[k] = isSecretField(k) ? '[redacted]' : typeof v === 'object' && v !== null ? redact(v, depth + 1) : v;
  }
  return out;
}

/** Whether a field name is a credential's (memoised: a process logs a small, fixed set of field names). */
const secretFieldMemo = new Map<string, boolean>();
function isSecretField(k: string): boolean {
  let r = secretFieldMemo.get(k);
  if (r === undefined) {
    r = SECRET_FIELD.test(k);
    if (secretFieldMemo.size < 10_000) secretFieldMemo.set(k, r);
  }
  return r;
}

/**
 * `new Date(ms).toISOString()`, the date formatted once per second: a busy process writes many lines a second
 * (e.g. one audit line per proxied request), and formatting a date is not free. Within the cached second only
 * the milliseconds change, and they are the last three digits before the `Z`.
 */
let isoSecond = Number.NaN;
let isoHead = ''; // e.g. `2026-11-22T07:30:14.`
let isoMs = Number.NaN;
let isoText = '';
export function isoTime(ms: number = Date.now()): string {
  if (ms === isoMs) return isoText;
  // Not an integer (Date.now() never is) or past the last valid date, whose second it shares: as Date does.
  if (!Number.isInteger(ms) || ms > 8.64e15) return new Date(ms).toISOString();
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    const full = new Date(ms).toISOString();
    isoHead = full.slice(0, -4);
    isoSecond = second;
    isoMs = ms;
    return (isoText = full);
  }
  const milli = ms - second * 1000;
  isoMs = ms;
  return (isoText = isoHead + (milli < 10 ? '00' : milli < 100 ? '0' : '') + milli + 'Z');
}

// The default sink gathers the lines of one event-loop turn and writes them to stderr at once (one write
// instead of one per line, e.g. per proxied request); whatever is pending is written synchronously at exit.
let pending = '';
let flushScheduled = false;
function flushPending(): void {
  flushScheduled = false;
  if (pending === '') return;
  const text = pending;
  pending = '';
  process.stderr.write(text);
}
process.once('exit', () => {
  if (pending === '') return;
  try {
    writeSync(2, pending);
  } catch {
    // stderr closed: nothing to do
  }
  pending = '';
});
const defaultSink = (line: string): void => {
  pending += line + '\n';
  if (pending.length > 64 * 1024) flushPending();
  else if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flushPending);
  }
};

let sink: (line: string) => void = defaultSink;
let minLevel: Level =
  (process.env.CONNECTORS_LOG_LEVEL as Level) in ORDER ? (process.env.CONNECTORS_LOG_LEVEL as Level) : 'info';

/** Tests capture logs to assert that no credential is written. */
export function setLogSink(fn: (line: string) => void): () => void {
  const previous = sink;
  sink = fn;
  return () => {
    sink = previous;
  };
}

export function setLogLevel(level: Level): void {
  minLevel = level;
}

export function createLogger(component: string, base: Record<string, unknown> = {}): Logger {
  const safeBase = redact(base) as object; // base never changes: redacted once
  // For preformatted lines: `","level":…,"component":…,"msg":…,<base>` (closing the ts string), built once
  // per level and message from the same object write() starts from, so both kinds of line look alike.
  // By level, then message: no key string is built (and hashed) per line.
  const heads = new Map<Level, Map<string, string>>();
  const head = (level: Level, msg: string): string => {
    let byMsg = heads.get(level);
    if (byMsg === undefined) heads.set(level, (byMsg = new Map<string, string>()));
    let h = byMsg.get(msg);
    if (h === undefined) {
      h = '"' + JSON.stringify({ ts: '', level, component, msg, ...safeBase }).slice('{"ts":""'.length, -1);
      if (byMsg.size < 100) byMsg.set(msg, h);
    }
    return h;
  };
  const write = (level: Level, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < ORDER[minLevel]) return;
    const entry = { ts: isoTime(), level, component, msg, ...safeBase, ...(fields ? (redact(fields) as object) : {}) };
    sink(JSON.stringify(entry));
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (fields) => createLogger(component, { ...base, ...fields }),
    preformatted: (level, msg, json, atMs) => {
      if (ORDER[level] < ORDER[minLevel]) return;
      sink('{"ts":"' + isoTime(atMs) + head(level, msg) + (json ? ',' + json : '') + '}');
    },
  };
}
