// One audit line per request and the request metrics. The path is logged without its query string, which
// may carry credentials (e.g. an injected api_key); no header value is ever logged.
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

/**
 * Audit lines are written at once, and the request counters added up per label set, once per event-loop
 * turn (setImmediate, i.e. before any later I/O is processed): prom-client's per-call label hashing and one
 * log write per request were a measurable part of a small proxied request.
 */
export class Audit {
  private readonly log: Logger;
  private readonly m = metrics();
  private readonly durationBy = new Map<string, ReturnType<ReturnType<typeof metrics>['duration']['labels']>>();
  private pending: AuditRecord[] = [];
  private scheduled = false;
  private readonly flushBound = () => this.flush();

  constructor(log: Logger) {
    this.log = log;
  }

  record(r: AuditRecord): void {
    this.pending.push(r);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushBound);
    }
  }

  /** Writes the pending audit lines and metrics (normally called by the scheduled flush). */
  flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    const counts = new Map<string, { mode: string; connector: string; code: string; n: number }>();
    let bytesIn = 0;
    let bytesOut = 0;
    for (const r of batch) {
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
      this.log.info('request', { ...r, path: stripQuery(r.path), durationMs: Math.round(r.durationMs * 100) / 100 });
    }
    for (const c of counts.values()) this.m.requests.inc({ mode: c.mode, connector: c.connector, code: c.code }, c.n);
    if (bytesIn) this.m.bytes.inc({ direction: 'in' }, bytesIn);
    if (bytesOut) this.m.bytes.inc({ direction: 'out' }, bytesOut);
  }
}
