// The `input.request` object our policies see (generator, authExtractor, permissions), built from an HTTP request.
//
// Shape (decided here, documented in docs of core/opa/README.md):
//   headers: { "<Canonical-Key>": ["v1", ...] }  — Go's http.Header: canonical MIME keys, every value a list
//   query:   { "<key>": ["v1", ...] }             — Go's url.Values
//   body:    parsed JSON when the Content-Type is JSON and the body parses; otherwise the text; null when empty
//   method, path (without the query), host
// `headers`/`query` may be null (no headers / no query string), so rules must not assume they exist:
// `input.request.headers["Private-Token"][0]` is simply undefined then.
import { parseQuery } from './builtins/encoding.ts';

export interface RegoRequest {
  headers: Record<string, string[]> | null;
  query: Record<string, string[]> | null;
  body: unknown;
  method: string;
  path: string;
  host: string;
}

export type HeaderInput = Record<string, string | string[] | number | undefined> | string[];

export interface HttpRequestLike {
  method: string;
  /** Path with an optional `?query`. */
  path: string;
  host?: string;
  /** A header record (any key case, e.g. Node's IncomingMessage.headers) or Node's flat rawHeaders list. */
  headers?: HeaderInput;
  body?: Buffer | string;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Go's textproto.CanonicalMIMEHeaderKey: `private-token` → `Private-Token`; invalid keys are returned unchanged. */
export function canonicalHeaderKey(key: string): string {
  if (!TOKEN.test(key)) return key;
  let upper = true;
  let out = '';
  for (const c of key) {
    out += upper ? c.toUpperCase() : c.toLowerCase();
    upper = c === '-';
  }
  return out;
}

/** Headers as Go's http.Header: canonical keys, values in order; null when there are none. */
export function canonicalHeaders(headers: HeaderInput | undefined): Record<string, string[]> | null {
  if (!headers) return null;
  const out: Record<string, string[]> = {};
  const add = (k: string, v: string) => (out[canonicalHeaderKey(k)] ??= []).push(v);
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) add(headers[i], headers[i + 1]);
  } else {
    for (const [k, v] of Object.entries(headers)) {
      if (v === undefined) continue;
      for (const one of Array.isArray(v) ? v : [String(v)]) add(k, one);
    }
  }
  return Object.keys(out).length > 0 ? out : null;
}

export function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0].trim().toLowerCase();
}

export function isJsonMediaType(media: string): boolean {
  return media === 'application/json' || /^application\/[\w.+-]+\+json$/.test(media);
}

function firstHeader(headers: Record<string, string[]> | null, key: string): string | undefined {
  return headers?.[key]?.[0];
}

/** Build `input.request` from an HTTP request. Pure. */
export function regoRequest(req: HttpRequestLike): RegoRequest {
  const headers = canonicalHeaders(req.headers);
  const q = req.path.indexOf('?');
  const path = q === -1 ? req.path : req.path.slice(0, q);
  let query: Record<string, string[]> | null = null;
  if (q !== -1 && q + 1 < req.path.length) {
    try {
      query = parseQuery(req.path.slice(q + 1));
    } catch {
      query = null;
    }
    if (query && Object.keys(query).length === 0) query = null;
  }
  let body: unknown = null;
  const text = req.body === undefined ? '' : typeof req.body === 'string' ? req.body : req.body.toString('utf8');
  if (text !== '') {
    body = text;
    if (isJsonMediaType(mediaType(firstHeader(headers, 'Content-Type')))) {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
  }
  return {
    headers,
    query,
    body,
    method: req.method.toUpperCase(),
    path,
    host: req.host ?? firstHeader(headers, 'Host') ?? '',
  };
}
