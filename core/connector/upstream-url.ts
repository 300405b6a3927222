// Where a request relayed to a tool goes (pure): the Connector address (with its path prefix) + the client's path
// and query, never above the prefix; and how a tool's Location header reads for the client (on the proxy or API,
// and without credentials injected into the query). Shared by the proxy and the Connectors API.
import { pathPrefix, staysUnder } from './address.ts';

/** Origin and path prefix of Connector addresses, parsed once per address string (bounded). */
const addresses = new Map<string, { origin: string; prefix: string }>();
function parsedAddress(address: string): { origin: string; prefix: string } {
  let a = addresses.get(address);
  if (!a) {
    const base = new URL(address); // throws on an invalid address, which is never cached
    a = { origin: base.origin, prefix: pathPrefix(base) };
    if (addresses.size >= 1000) addresses.clear();
    addresses.set(address, a);
  }
  return a;
}

/** The client's path climbs out of the address's path prefix: the client's error, unlike an address that does not parse. */
export class PathEscapesAddress extends Error {
  constructor() {
    super('path escapes the connector address prefix');
  }
}

/**
 * spec.address (with its path prefix) + the rest of the client path + the query. Parsed as one string when
 * that gives the same URL as setting pathname and search on the origin (the general way, kept for the rest):
 * not with a `#` (a setter escapes it, a parse starts a fragment), a bare `?` (a setter drops it) or a
 * trailing space or control character (a parse trims it).
 */
export function upstreamUrl(address: string, rest: string): URL {
  const { origin, prefix } = parsedAddress(address);
  const r = rest.startsWith('/') ? rest : '/' + rest;
  const q = r.indexOf('?');
  let out: URL;
  if (r.indexOf('#') === -1 && q !== r.length - 1 && r.charCodeAt(r.length - 1) > 0x20) {
    out = new URL(origin + prefix + r);
  } else {
    out = new URL(origin);
    // Keep the client's path bytes as they are (no re-encoding or dot-segment removal beyond URL's).
    out.pathname = prefix + (q === -1 ? r : r.slice(0, q));
    out.search = q === -1 ? '' : r.slice(q);
  }
  // Dot segments (also %2e, and those a server decoding %2F or %5C would find) must not climb out of the
  // address's path prefix.
  if (!staysUnder(out.pathname, prefix)) throw new PathEscapesAddress();
  return out;
}

/**
 * Location headers of upstream responses (pure): a URL on the Connector's own upstream (same origin, under the
 * address prefix) becomes the proxy URL of the same resource, so the client stays on the proxy; any other
 * location is left alone (the client follows it itself, and the proxy never sends credentials there).
 */
export function rewriteLocation(location: string, address: string, proxyBase: string): string {
  const base = new URL(address);
  const prefix = pathPrefix(base);
  let loc: URL;
  const absolute = /^[a-z][a-z0-9+.-]*:/i.test(location) || location.startsWith('//');
  if (!absolute && !location.startsWith('/')) return location; // relative to the current path: already right
  try {
    loc = new URL(location, base.origin);
  } catch {
    return location;
  }
  if (loc.origin !== base.origin) return location;
  if (prefix !== '' && loc.pathname !== prefix && !loc.pathname.startsWith(prefix + '/')) {
    // On the tool's host but outside the Connector: absolute, so the client does not resolve it against the proxy.
    return absolute ? location : loc.href;
  }
  return proxyBase.replace(/\/$/, '') + (loc.pathname.slice(prefix.length) || '/') + loc.search + loc.hash;
}

/**
 * A Location without the query parameters whose value is a credential injected into the request's query (a
 * generator.rego with `position: query`): a tool that redirects keeping its query (`/x?api_key=…` → `/x/?api_key=…`)
 * must not hand the credential to the client. Other parameters are kept byte for byte.
 */
export function withoutQueryValues(location: string, values: readonly string[] | undefined): string {
  if (!values?.length) return location;
  const hashAt = location.indexOf('#');
  const head = hashAt === -1 ? location : location.slice(0, hashAt);
  const q = head.indexOf('?');
  if (q === -1) return location;
  const secrets = values.filter((v) => v !== '');
  const kept = head
    .slice(q + 1)
    .split('&')
    .filter((pair) => {
      const eq = pair.indexOf('=');
      if (eq === -1) return pair !== '';
      let value: string;
      try {
        value = decodeURIComponent(pair.slice(eq + 1).replace(/\+/g, ' '));
      } catch {
        return true;
      }
      return !secrets.includes(value);
    });
  return head.slice(0, q) + (kept.length ? '?' + kept.join('&') : '') + (hashAt === -1 ? '' : location.slice(hashAt));
}
