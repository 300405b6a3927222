// One audit line per request and the request metrics. The path is logged without its query string, which
// may carry credentials (e.g. an injected api_key); no header value is ever logged. The line is built from
// the fixed fields of AuditRecord alone (none is a credential's, see AUDIT_FIELDS), so it skips the
// logger's generic copy-and-redact.
import type { Logger } from '../core/observability/log.ts';
import { counter, histogram } from '../core/observability/metrics.ts';

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

const metrics = () => ({
  requests: counter('connectors_proxy_requests_total', 'Requests handled by the proxy.', ['mode', 'connector', 'code']),
  duration: histogram('connectors_proxy_request_duration_seconds', 'Request duration from the first byte to the end of the response.', ['mode'], [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]),
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
 * The members of one audit line's JSON object (pure), in AUDIT_FIELDS order: the path without its query and
 * durationMs rounded to 0.01 ms; `injected` and `reason` only when set.
 */
export function auditJson(r: AuditRecord): string {
  let j =
    '"mode":' + str(r.mode) +
    ',"connector":' + str(r.connector) +
    ',"serviceAccount":' + str(r.serviceAccount) +
    ',"method":' + str(r.method) +
    ',"path":' + str(stripQuery(r.path)) +
    ',"status":' + num(r.status) +
    ',"bytesIn":' + num(r.bytesIn) +
    ',"bytesOut":' + num(r.bytesOut) +
    ',"durationMs":' + num(Math.round(r.durationMs * 100) / 100);
  if (r.injected !== undefined) j += ',"injected":' + (r.injected ? 'true' : 'false');
  if (r.reason !== undefined) j += ',"reason":' + str(r.reason);
  return j;
}

/**
 * Audit lines are written, and the request metrics added up per label set, once per event-loop turn
 * (setImmediate, i.e. before any later I/O is processed): prom-client's per-call label hashing and one log
 * write per request were a measurable part of a small proxied request. Each line's ts is still its
 * request's end (when record() was called).
 */
export class Audit {
  private readonly log: Logger;
  private readonly m = metrics();
  private readonly durationBy = new Map<string, ReturnType<ReturnType<typeof metrics>['duration']['labels']>>();
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
    const counts = new Map<string, { mode: string; connector: string; code: string; n: number }>();
    let bytesIn = 0;
    let bytesOut = 0;
    for (let i = 0; i < batch.length; i++) {
      const r = batch[i];
      const connector = r.connector || 'none';
      const code = String(r.status);
      const key = r.mode + '\n' + connector + '\n' + code;
      const c = counts.get(key);
      if (c) c.n++;
      else counts.set(key, { mode: r.mode, connector, code, n: 1 });
      let d = this.durationBy.get(r.mode);
      if (!d) this.durationBy.set(r.mode, (d = this.m.duration.labels(r.mode)));
      d.observe(r.durationMs / 1000);
      bytesIn += r.bytesIn;
      bytesOut += r.bytesOut;
      this.log.preformatted('info', 'request', auditJson(r), at[i]);
    }
    for (const c of counts.values()) this.m.requests.inc({ mode: c.mode, connector: c.connector, code: c.code }, c.n);
    if (bytesIn) this.m.bytes.inc({ direction: 'in' }, bytesIn);
    if (bytesOut) this.m.bytes.inc({ direction: 'out' }, bytesOut);
  }
}
