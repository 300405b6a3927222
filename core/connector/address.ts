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
 * The Connector one of whose addresses covers `target` (same origin, path under the prefix), the longest
 * prefix winning; undefined when none does. Unparsable addresses match nothing.
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
      if (!underPrefix(target.pathname, prefix)) continue;
      if (!best || prefix.length > best.length) best = { connector: c, length: prefix.length };
    }
  }
  return best?.connector;
}
