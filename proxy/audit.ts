// One audit line per request and the request metrics. The path is logged without its query string, which
// may carry credentials (e.g. an injected api_key); no header value is ever logged. The line is built from
// the fixed fields of AuditRecord alone (none is a credential's, see AUDIT_FIELDS), so it skips the
// logger's generic copy-and-redact.
import type { Logger } from '../core/observability/log.ts';
import { counter, histogram, histogramTally, tally, type HistogramTally, type Tally } from '../core/observability/metrics.ts';

export interface AuditRecord {
  mode: 'reverse' | 'forward' | 'connect';
  /** `ns/name`, '' when no Connector was resolved (or none matched in forward mode). */
  connector: string;
  /** `ns/name` of the ServiceAccount, or the user name; '' when not authenticated. */
  serviceAccount: string;
  method: string;
  /** Path (or host:port for CONNECT) without the query. */
  path: string;
  status: number;
  bytesIn: number;
  bytesOut: number;
  durationMs: number;
  /** Whether credentials were injected. */
  injected?: boolean;
  /** Why the proxy answered itself (401, 403, 502...). */
  reason?: string;
}

const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const metrics = () => ({
  requests: counter('connectors_proxy_requests_total', 'Requests handled by the proxy.', ['mode', 'connector', 'code']),
  duration: histogram('connectors_proxy_request_duration_seconds', 'Request duration from the first byte to the end of the response.', ['mode'], DURATION_BUCKETS),
  bytes: counter('connectors_proxy_bytes_total', 'Body bytes through the proxy.', ['direction']),
});

export function stripQuery(path: string): string {
  const q = path.indexOf('?');
  return q === -1 ? path : path.slice(0, q);
}

/** The audit line's fields after ts, level, component, msg and audit, in this order. */
export const AUDIT_FIELDS = ['mode', 'connector', 'serviceAccount', 'method', 'path', 'status', 'bytesIn', 'bytesOut', 'durationMs', 'injected', 'reason'] as const;

const str = (s: string) => JSON.stringify(s);
const num = (n: number) => (Number.isFinite(n) ? String(n) : 'null'); // as JSON.stringify writes numbers

/**
 * `String(Math.round(ms * 100) / 100)` (JSON's number text) from integer arithmetic: the shortest text of the
 * double nearest to a 2-decimal number is that number, as long as doubles there are much closer together
 * than 0.01 (below 2^40 hundredths); formatting a double is otherwise one of the dearer steps of a line.
 */
export function hundredths(ms: number): string {
  const h = Math.round(ms * 100);
  if (!(h >= 0 && h < 2 ** 40)) return num(h / 100);
  const whole = Math.floor(h / 100);
  const frac = h - whole * 100;
  return frac === 0 ? String(whole) : frac % 10 === 0 ? whole + '.' + frac / 10 : whole + (frac < 10 ? '.0' : '.') + frac;
}

/** The start of the last line built, reused while mode, connector, ServiceAccount and method repeat. */
let head = { mode: '', connector: '', serviceAccount: '', method: '', json: '' };

/** Tallies of the request and byte counters, shared by every Audit of the process (one set per label set). */
const requestCounts = new Map<string, Tally>();
let lastCount: { mode: string; connector: string; status: number; tally: Tally } | undefined;
function requestCount(m: ReturnType<typeof metrics>, mode: string, connector: string, status: number): Tally {
  const last = lastCount; // consecutive requests mostly share the label set
  if (last && last.status === status && last.connector === connector && last.mode === mode) return last.tally;
  const key = mode + '\n' + connector + '\n' + status;
  let t = requestCounts.get(key);
  if (!t) requestCounts.set(key, (t = tally(m.requests, { mode, connector, code: String(status) })));
  lastCount = { mode, connector, status, tally: t };
  return t;
}
const durations = new Map<string, HistogramTally>();
function duration(m: ReturnType<typeof metrics>, mode: string): HistogramTally {
  let t = durations.get(mode);
  if (!t) durations.set(mode, (t = histogramTally(m.duration, { mode }, DURATION_BUCKETS)));
  return t;
}
const byteCounts: Partial<Record<'in' | 'out', Tally>> = {};
const bytesCount = (m: ReturnType<typeof metrics>, direction: 'in' | 'out'): Tally => (byteCounts[direction] ??= tally(m.bytes, { direction }));

/**
 * The members of one audit line's JSON object (pure), in AUDIT_FIELDS order: the path without its query and
 * durationMs rounded to 0.01 ms; `injected` and `reason` only when set.
 */
export function auditJson(r: AuditRecord): string {
  let h = head;
  if (h.mode !== r.mode || h.connector !== r.connector || h.serviceAccount !== r.serviceAccount || h.method !== r.method) {
    const json = '"mode":' + str(r.mode) + ',"connector":' + str(r.connector) + ',"serviceAccount":' + str(r.serviceAccount) + ',"method":' + str(r.method);
    head = h = { mode: r.mode, connector: r.connector, serviceAccount: r.serviceAccount, method: r.method, json };
  }
  let j =
    h.json +
    ',"path":' + str(stripQuery(r.path)) +
    ',"status":' + num(r.status) +
    ',"bytesIn":' + num(r.bytesIn) +
    ',"bytesOut":' + num(r.bytesOut) +
    ',"durationMs":' + hundredths(r.durationMs);
  if (r.injected !== undefined) j += ',"injected":' + (r.injected ? 'true' : 'false');
  if (r.reason !== undefined) j += ',"reason":' + str(r.reason);
  return j;
}

/**
 * Audit lines are written, and the request metrics added up per label set, once per event-loop turn
 * (setImmediate, i.e. before any later I/O is processed), the metrics as tallies handed to prom-client at
 * scrape time: prom-client's per-call label hashing and one log write per request were a measurable part
 * of a small proxied request. Each line's ts is still its request's
 * end (when record() was called).
 */
export class Audit {
  private readonly log: Logger;
  private readonly m = metrics();
  private pending: AuditRecord[] = [];
  private pendingAt: number[] = [];
  private scheduled = false;
  private readonly flushBound = () => this.flush();

  constructor(log: Logger) {
    this.log = log;
  }

  record(r: AuditRecord): void {
    this.pending.push(r);
    this.pendingAt.push(Date.now());
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushBound);
    }
  }

  /** Writes the pending audit lines and metrics (normally called by the scheduled flush). */
  flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    const at = this.pendingAt;
    if (batch.length === 0) return;
    this.pending = [];
    this.pendingAt = [];
    for (let i = 0; i < batch.length; i++) {
      const r = batch[i];
      requestCount(this.m, r.mode, r.connector || 'none', r.status).inc();
      duration(this.m, r.mode).observe(r.durationMs / 1000);
      if (r.bytesIn) bytesCount(this.m, 'in').inc(r.bytesIn);
      if (r.bytesOut) bytesCount(this.m, 'out').inc(r.bytesOut);
      this.log.preformatted('info', 'request', auditJson(r), at[i]);
    }
  }
}
