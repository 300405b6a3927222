// Small rules on what a client's request may be, each a pure function: methods the proxy refuses, the authority
// of a CONNECT, and a token an authExtractor found in the query.
import { isIP } from 'node:net';

/**
 * Methods the proxy answers 405 itself: TRACE (and Microsoft's TRACK) make the tool echo the request back,
 * with the credentials the proxy injected into it.
 */
export function refusedMethod(method: string | undefined): boolean {
  return method === 'TRACE' || method === 'TRACK';
}

/** The methods a 405 lists in its Allow field. */
export const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';

/** A host name of a CONNECT authority (letters, digits, `-`, `_`, dots; at most 253 characters). */
const REG_NAME = /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?$/i;

/**
 * `host:port` of a CONNECT request (RFC 9110 §9.3.6: authority-form), or undefined when it is not one: a host
 * name, an IPv4 address or a bracketed IPv6 address, then a port 1-65535. `host` comes lower case, IPv6 without
 * brackets. Pure.
 */
export function connectAuthority(authority: string): { host: string; port: number } | undefined {
  const colon = authority.lastIndexOf(':');
  if (colon <= 0) return undefined;
  const portText = authority.slice(colon + 1);
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port < 1 || port > 65535) return undefined;
  let host = authority.slice(0, colon);
  if (host.startsWith('[')) {
    if (!host.endsWith(']')) return undefined;
    host = host.slice(1, -1);
    if (isIP(host) !== 6 || host.includes('%')) return undefined; // no zone identifiers
  } else if (!isIP(host) && !REG_NAME.test(host)) return undefined;
  else if (isIP(host) === 6) return undefined; // an IPv6 address needs its brackets
  return { host: host.toLowerCase(), port };
}

/**
 * `pathAndQuery` without the query parameters that carry `token` (raw or percent-decoded): a client token an
 * authExtractor read from the query never goes on to the tool. Pure.
 */
export function withoutTokenInQuery(pathAndQuery: string, token: string): string {
  const q = pathAndQuery.indexOf('?');
  if (q === -1 || token === '') return pathAndQuery;
  const parts = pathAndQuery.slice(q + 1).split('&');
  const kept = parts.filter((part) => !part.includes(token) && !decoded(part).includes(token));
  if (kept.length === parts.length) return pathAndQuery;
  return pathAndQuery.slice(0, q) + (kept.length ? '?' + kept.join('&') : '');
}

function decoded(part: string): string {
  try {
    return decodeURIComponent(part.replace(/\+/g, ' '));
  } catch {
    return part;
  }
}
