// Where the client's ServiceAccount token is in a request (pure). Reverse mode: `Authorization: Basic`
// (any user name, the token as password) or `Authorization: Bearer <token>`, else the class's
// authExtractor.rego. Forward mode: `Proxy-Authorization: Basic base64("<ns>/<name>[,<ns>/<name>]:<token>")`.
import type { IncomingHttpHeaders } from 'node:http';
import { parseConnectorRefList, type ConnectorRef } from '../../core/connector/index.ts';

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** A printable ASCII character other than space (so neither white space nor one that trim() removes). */
const visibleAscii = (c: number) => c > 0x20 && c < 0x7f;

/** The token of an `Authorization` value: the Basic password or the Bearer token; '' when there is none. */
export function tokenFromAuthorization(value: string | undefined): string {
  if (!value) return '';
  // The common `Bearer <token>`, nothing to trim: the token as it is, without scanning it for white space.
  if (
    value.startsWith('Bearer ') &&
    visibleAscii(value.charCodeAt(7)) &&
    visibleAscii(value.charCodeAt(value.length - 1))
  )
    return value.slice(7);
  // Same as /^\s*(\S+)\s+(.*?)\s*$/ (trim() and \s know the same white space) without the backtracking of
  // the lazy group over a ~1 KiB token.
  const t = value.trim();
  const sp = t.search(/\s/);
  if (sp === -1) return '';
  const scheme = t.slice(0, sp).toLowerCase();
  const rest = t.slice(sp).trimStart();
  if (scheme === 'bearer') return rest;
  if (scheme === 'basic') {
    const decoded = decodeBasic(rest);
    return decoded?.password ?? '';
  }
  return '';
}

export function decodeBasic(b64: string): { user: string; password: string } | undefined {
  let text: string;
  try {
    text = Buffer.from(b64, 'base64').toString('utf8');
  } catch {
    return undefined;
  }
  const colon = text.indexOf(':');
  if (colon === -1) return undefined;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

export function reverseToken(headers: IncomingHttpHeaders): string {
  return tokenFromAuthorization(one(headers.authorization));
}

export type { ConnectorRef };

export type ForwardCredentials =
  { ok: true; connectors: ConnectorRef[]; token: string } | { ok: false; reason: string };

/**
 * Parses `Proxy-Authorization: Basic base64("ns/name[,ns2/name2]:<token>")`. The user name may be URL-encoded
 * (`ns%2Fname`), as it is when clients take it from `http://ns%2Fname:<token>@proxy`.
 */
export function forwardCredentials(headers: IncomingHttpHeaders): ForwardCredentials {
  const value = one(headers['proxy-authorization']);
  if (!value) return { ok: false, reason: 'proxy authentication required' };
  const m = /^\s*basic\s+(\S+)\s*$/i.exec(value);
  if (!m) return { ok: false, reason: 'Proxy-Authorization must be Basic' };
  const basic = decodeBasic(m[1]);
  if (!basic || !basic.password) return { ok: false, reason: 'Proxy-Authorization carries no token' };
  let user = basic.user;
  try {
    user = decodeURIComponent(user);
  } catch {
    return { ok: false, reason: 'Proxy-Authorization user name is not valid URL encoding' };
  }
  // The user name lists `<namespace>/<name>` references (core/connector's parser: names as the API server
  // allows them, duplicates dropped).
  const parsed = parseConnectorRefList(user);
  if (!parsed.ok) return { ok: false, reason: `Proxy-Authorization user name: ${parsed.error}` };
  if (parsed.refs.length === 0)
    return { ok: false, reason: 'Proxy-Authorization user name lists no connector (<namespace>/<name>)' };
  return { ok: true, connectors: parsed.refs, token: basic.password };
}
