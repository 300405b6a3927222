// A Connector's addresses (spec.address and spec.addressExtensions[].value): what a valid one is, and which
// requests fall under one. An address is an http or https URL with a host and no user information; its path,
// without trailing slashes, is a prefix that requests must stay under, compared segment by segment
// (`/gitlab` covers `/gitlab/x`, not `/gitlabx`). Scheme, host and port compare with default ports made
// explicit and the host in lower case.

export type AddressParse = { ok: true; url: URL } | { ok: false; error: string };

/** Pure: an address as the Connector rules accept it; the error quotes the value and says what is wrong. */
export function parseAddress(value: string): AddressParse {
  const quoted = JSON.stringify(value);
  if (value.trim() === '') return { ok: false, error: 'must not be empty' };
  if (value !== value.trim() || /\s/.test(value)) return { ok: false, error: `${quoted} contains white space` };
  // WHATWG URL parsing would read `http:host` as http://host/: the rules want the written form.
  if (!/^https?:\/\//i.test(value)) return { ok: false, error: `${quoted} is not an http:// or https:// URL` };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { ok: false, error: `${quoted} is not a valid URL` };
  }
  if (!url.hostname) return { ok: false, error: `${quoted} has no host` };
  if (url.username || url.password)
    return {
      ok: false,
      error: `${JSON.stringify(redactUserinfo(url))} must not carry credentials: put them in the Secret of spec.auth.secretRef`,
    };
  return { ok: true, url };
}

function redactUserinfo(url: URL): string {
  const u = new URL(url.href);
  u.username = u.username ? 'xxxxx' : '';
  u.password = u.password ? 'xxxxx' : '';
  return u.href;
}

/** Scheme, host and port of a URL with default ports made explicit, e.g. `https://h:443`. */
export function originOf(url: URL): string {
  const port = url.port || (url.protocol === 'https:' ? '443' : url.protocol === 'http:' ? '80' : '');
  return `${url.protocol}//${url.hostname.toLowerCase()}:${port}`;
}

/** The address path prefix without a trailing slash ('' for a root address). */
export function pathPrefix(url: URL): string {
  return url.pathname.replace(/\/+$/, '');
}

/** Whether `path` is `prefix` or below it on a segment boundary. */
export function underPrefix(path: string, prefix: string): boolean {
  return prefix === '' || path === prefix || path.startsWith(prefix + '/');
}

export interface AddressedConnector {
  spec: { address: string; addressExtensions?: Array<{ value: string }> };
}

/** spec.address, then every spec.addressExtensions[].value. */
export function connectorAddresses(c: AddressedConnector): string[] {
  return [c.spec.address, ...(c.spec.addressExtensions ?? []).map((e) => e.value)];
}

/**
 * The Connector one of whose addresses covers `target` (same origin, path under the prefix as staysUnder reads
 * it), the longest prefix winning; undefined when none does. Unparsable addresses match nothing.
 */
export function matchTarget<C extends AddressedConnector>(target: URL, connectors: readonly C[]): C | undefined {
  const origin = originOf(target);
  let best: { connector: C; length: number } | undefined;
  for (const c of connectors) {
    for (const a of connectorAddresses(c)) {
      let u: URL;
      try {
        u = new URL(a);
      } catch {
        continue;
      }
      if (originOf(u) !== origin) continue;
      const prefix = pathPrefix(u);
      if (!staysUnder(target.pathname, prefix)) continue;
      if (!best || prefix.length > best.length) best = { connector: c, length: prefix.length };
    }
  }
  return best?.connector;
}

// Whether a request path stays under an address's path prefix as the tool will read it. The URL parser already
// removes `.`/`..` segments (also `%2e`), but a server may also decode `%2F` or `%5C` into a separator, treat `\`
// as one, drop `;params` from a segment (`..;/`) or decode twice (`%252F`), and then find `..` segments the
// parser did not: `/prefix/rec/..%2F..%2Fsecret` reads as `/secret` there. So a path with any of those is
// checked again the way the most lenient server reads it. A path that still stays under the prefix is
// forwarded as it came (GitLab's `projects/group%2Fname` is legitimate); one that leaves it is refused.

/** `%` (an escape) or `\` (a separator on some servers) or `;` (segment parameters): worth a second look. */
const SUSPECT = /[%\\;]/;

/**
 * Whether `path` (a URL pathname, already free of plain dot segments) stays under `prefix` however a server
 * decodes it: percent-decoded up to three times, `\` read as `/`, `;...` dropped from each segment, then dot
 * segments resolved. Pure; costs one regex test for a path without `%`, `\` or `;`.
 */
export function staysUnder(path: string, prefix: string): boolean {
  if (!underPrefix(path, prefix)) return false;
  if (prefix === '' || !SUSPECT.test(path)) return true;
  let decoded = path;
  for (let i = 0; i < 3 && decoded.includes('%'); i++) {
    const next = decodePercent(decoded);
    if (next === decoded) break;
    decoded = next;
  }
  return underPrefix(resolveDots(decoded.replace(/\\/g, '/')), prefix);
}

/** `%XX` escapes decoded byte by byte (latin1: no escape can fail, unlike decodeURIComponent). */
function decodePercent(s: string): string {
  return s.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

/** `path` with `.` and `..` segments resolved (RFC 3986 §5.2.4), a segment's `;params` ignored for the test. */
function resolveDots(path: string): string {
  const out: string[] = [];
  const segments = path.split('/');
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i];
    const semi = seg.indexOf(';');
    const bare = semi === -1 ? seg : seg.slice(0, semi);
    if (bare === '..') {
      if (out.length > 1) out.pop();
      else if (out.length === 1 && out[0] !== '') out.pop();
    } else if (bare !== '.') out.push(seg);
    else if (i === segments.length - 1) out.push('');
  }
  const joined = out.join('/');
  return joined.startsWith('/') ? joined : '/' + joined;
}
