// One audit line per request and the request metrics. The path is logged without its query string, which
// may carry credentials (e.g. an injected api_key); no header value is ever logged. The line is built from
// the fixed fields of AuditRecord alone (none is a credential's, see AUDIT_FIELDS), so it skips the
// logger's generic copy-and-redact.
import type { Logger } from '../core/observability/log.ts';
import { plainCounter, plainHistogram } from '../core/observability/metrics.ts';
import { rememberLast } from '../core/util/remember-last.ts';

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
  requests: plainCounter('connectors_proxy_requests_total', 'Requests handled by the proxy.', [
    'mode',
    'connector',
    'code',
  ]),
  duration: plainHistogram(
    'connectors_proxy_request_duration_seconds',
    'Request duration from the first byte to the end of the response.',
    ['mode'],
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  ),
  bytes: plainCounter('connectors_proxy_bytes_total', 'Body bytes through the proxy.', ['direction']),
});

export function stripQuery(path: string): string {
  const q = path.indexOf('?');
  return q === -1 ? path : path.slice(0, q);
}

/** The audit line's fields after ts, level, component, msg and audit, in this order. */
export const AUDIT_FIELDS = [
  'mode',
  'connector',
  'serviceAccount',
  'method',
  'path',
  'status',
  'bytesIn',
  'bytesOut',
  'durationMs',
  'injected',
  'reason',
] as const;

/** Printable ASCII but `"` and `\\`: JSON as it is between quotes. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
/** JSON.stringify(s); a plain path, the usual case, without its call into the runtime (~1 µs). */
const str = (s: string) => (PLAIN.test(s) ? '"' + s + '"' : JSON.stringify(s));
// The JSON of string fields that consecutive requests mostly repeat.
const modeJson = rememberLast(str);
const connectorJson = rememberLast(str);
const serviceAccountJson = rememberLast(str);
const methodJson = rememberLast(str);
const num = (n: number) => (Number.isFinite(n) ? String(n) : 'null'); // as JSON.stringify writes numbers

/**
 * The members of one audit line's JSON object (pure), in AUDIT_FIELDS order: the path without its query and
 * durationMs rounded to 0.01 ms; `injected` and `reason` only when set.
 */
export function auditJson(r: AuditRecord): string {
  let j =
    '"mode":' +
    modeJson(r.mode) +
    ',"connector":' +
    connectorJson(r.connector) +
    ',"serviceAccount":' +
    serviceAccountJson(r.serviceAccount) +
    ',"method":' +
    methodJson(r.method) +
    ',"path":' +
    str(stripQuery(r.path)) +
    ',"status":' +
    num(r.status) +
    ',"bytesIn":' +
    num(r.bytesIn) +
    ',"bytesOut":' +
    num(r.bytesOut) +
    ',"durationMs":' +
    num(Math.round(r.durationMs * 100) / 100);
  if (r.injected !== undefined) j += ',"injected":' + (r.injected ? 'true' : 'false');
  if (r.reason !== undefined) j += ',"reason":' + str(r.reason);
  return j;
}

/**
 * Writes a request's audit line (through the logger, which writes a turn's lines at once) and adds it to the
 * request metrics (plain counters: no label hashing per request).
 */
export class Audit {
  private readonly log: Logger;
  private readonly m = metrics();
  private readonly bytesIn = this.m.bytes.child('in');
  private readonly bytesOut = this.m.bytes.child('out');

  /** The requests counter of the last record's labels: consecutive requests mostly share them. */
  private last: { mode: string; connector: string; status: number; counter: { inc(): void } } | undefined;

  constructor(log: Logger) {
    this.log = log;
  }

  private requestsOf(r: AuditRecord): { inc(): void } {
    const l = this.last;
    if (l && l.status === r.status && l.connector === r.connector && l.mode === r.mode) return l.counter;
    const counter = this.m.requests.child(r.mode, r.connector || 'none', String(r.status));
    this.last = { mode: r.mode, connector: r.connector, status: r.status, counter };
    return counter;
  }

  record(r: AuditRecord): void {
    this.log.preformatted('info', 'request', auditJson(r), Date.now());
    this.requestsOf(r).inc();
    this.m.duration.child(r.mode).observe(r.durationMs / 1000);
    if (r.bytesIn) this.bytesIn.inc(r.bytesIn);
    if (r.bytesOut) this.bytesOut.inc(r.bytesOut);
  }
}
