// One access line per Connectors API request, and the request metrics. The path is logged without its query
// (which may carry a tool's own secrets); no header value is ever logged. Built from fixed fields only (none is a
// credential's), so the line skips the logger's generic copy-and-redact, as the proxy's audit line does.
import type { Logger } from '../core/observability/log.ts';
import { plainCounter, plainHistogram } from '../core/observability/metrics.ts';
import { rememberLast } from '../core/util/remember-last.ts';

export interface AccessRecord {
  /** `ns/name`, '' before a Connector is named. */
  connector: string;
  /** The authenticated user name ('' when not authenticated). */
  user: string;
  method: string;
  /** The request path without its query. */
  path: string;
  status: number;
  /** Where the request went: `api` (the class API), `proxy` (the tool) or '' (answered by the API itself). */
  provider: '' | 'api' | 'proxy';
  /** The matched OpenAPI path template, if any. */
  template: string;
  durationMs: number;
  /** Why the API answered itself. */
  reason?: string;
}

const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
const str = (s: string) => (PLAIN.test(s) ? '"' + s + '"' : JSON.stringify(s));
// The JSON of fields that consecutive requests mostly repeat.
const connectorJson = rememberLast(str);
const userJson = rememberLast(str);
const methodJson = rememberLast(str);
const templateJson = rememberLast(str);

/** The members of one access line's JSON object (pure). */
export function accessJson(r: AccessRecord): string {
  const q = r.path.indexOf('?');
  let j =
    '"connector":' +
    connectorJson(r.connector) +
    ',"user":' +
    userJson(r.user) +
    ',"method":' +
    methodJson(r.method) +
    ',"path":' +
    str(q === -1 ? r.path : r.path.slice(0, q)) +
    ',"status":' +
    r.status +
    ',"provider":"' +
    r.provider +
    '"' +
    ',"durationMs":' +
    (Math.round(r.durationMs * 100) / 100).toString();
  if (r.template) j += ',"template":' + templateJson(r.template);
  if (r.reason !== undefined) j += ',"reason":' + str(r.reason);
  return j;
}

export class AccessLog {
  private readonly log: Logger;
  private readonly requests = plainCounter('connectors_api_requests_total', 'Requests handled by the Connectors API.', [
    'provider',
    'code',
  ]);
  private readonly duration = plainHistogram(
    'connectors_api_request_duration_seconds',
    'Connectors API request duration, from the request head to the end of the response.',
    ['provider'],
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  );

  constructor(log: Logger) {
    this.log = log;
  }

  /** The metric children of the last provider and status (consecutive requests mostly repeat them). */
  private last = {
    provider: '',
    status: 0,
    requests: undefined as { inc(): void } | undefined,
    duration: undefined as { observe(v: number): void } | undefined,
  };

  record(r: AccessRecord): void {
    let l = this.last;
    if (l.provider !== r.provider || l.status !== r.status || !l.requests) {
      l = this.last = {
        provider: r.provider,
        status: r.status,
        requests: this.requests.child(r.provider, String(r.status)),
        duration: this.duration.child(r.provider),
      };
    }
    l.requests!.inc();
    l.duration!.observe(r.durationMs / 1000);
    this.log.preformatted('info', 'request', accessJson(r));
  }
}
