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

export class Audit {
  private readonly log: Logger;
  private readonly m = metrics();

  constructor(log: Logger) {
    this.log = log;
  }

  record(r: AuditRecord): void {
    const path = stripQuery(r.path);
    this.m.requests.inc({ mode: r.mode, connector: r.connector || 'none', code: String(r.status) });
    this.m.duration.observe({ mode: r.mode }, r.durationMs / 1000);
    if (r.bytesIn) this.m.bytes.inc({ direction: 'in' }, r.bytesIn);
    if (r.bytesOut) this.m.bytes.inc({ direction: 'out' }, r.bytesOut);
    this.log.info('request', { ...r, path, durationMs: Math.round(r.durationMs * 100) / 100 });
  }
}
