// The OCI distribution API through the proxy (pure decisions). Registry clients put the Connector into the
// repository name: the image `proxy:8080/namespaces/ns/connectors/name/repo:tag` makes them call
// `/v2/namespaces/ns/connectors/name/repo/manifests/tag`, so `/v2/` comes first and
// `namespaces/{ns}/connectors/{name}/` is stripped from the repository name before the request goes upstream.
// Also served: the host form (`c-{name}.{ns}.svc/v2/repo/...`, repository names unchanged) and the
// Connector-address form (`/namespaces/{ns}/connectors/{name}/v2/repo/...`, i.e. status.proxy.httpAddress.url
// + the registry path, for Connectors of an OCI class), and `GET /v2/` alone (API version check: only the
// ServiceAccount token is authenticated, there is no Connector in the path).

const HOST_FORM =
  /^c-([a-z0-9]([-a-z0-9.]*[a-z0-9])?)\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.svc(\.cluster\.local)?\.?(:\d+)?$/i;
const NAME_PREFIX = /^\/v2\/namespaces\/([^/?#]+)\/connectors\/([^/?#]+)(?=[/?#]|$)/;
const ADDRESS_PREFIX = /^\/namespaces\/([^/?#]+)\/connectors\/([^/?#]+)\/v2(?=[/?#]|$)/;

export type OciRoute =
  | { kind: 'base' }
  | {
      kind: 'connector';
      namespace: string;
      name: string;
      /** Client-visible path that stands for the upstream's `/v2/` (e.g. `/v2/namespaces/ns/connectors/c/`). */
      clientBase: string;
      /** Prefix the client puts in front of repository names (`namespaces/ns/connectors/c/` or ''). */
      namePrefix: string;
      /** Upstream path and query, starting with `/v2/`. */
      upstream: string;
    };

function decode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/**
 * Which OCI request this is (pure); undefined when it is not one. `isOciConnector` tells whether a Connector
 * named in the address form belongs to an OCI class (other classes keep plain reverse proxying).
 */
export function ociRoute(
  host: string | undefined,
  url: string,
  isOciConnector: (ns: string, name: string) => boolean,
): OciRoute | undefined {
  if (url === '/v2' || url.startsWith('/v2/') || url.startsWith('/v2?')) {
    const h = host ? HOST_FORM.exec(host) : null;
    const p = NAME_PREFIX.exec(url);
    if (p) {
      const namespace = decode(p[1]);
      const name = decode(p[2]);
      if (namespace === undefined || name === undefined) return undefined;
      const rest = url.slice(p[0].length).replace(/^\//, '');
      return {
        kind: 'connector',
        namespace,
        name,
        clientBase: `${p[0]}/`,
        namePrefix: p[0].slice('/v2/'.length) + '/',
        upstream: '/v2/' + rest,
      };
    }
    if (h) {
      return {
        kind: 'connector',
        namespace: h[3].toLowerCase(),
        name: h[1].toLowerCase(),
        clientBase: '/v2/',
        namePrefix: '',
        upstream: url === '/v2' ? '/v2/' : url,
      };
    }
    const rest = url.slice(3);
    if (rest === '' || rest === '/' || rest.startsWith('?') || rest.startsWith('/?')) return { kind: 'base' };
    // `/v2/repo/...` with no Connector: nothing to route to, but still an OCI request (answered 401/404).
    return { kind: 'base' };
  }
  if (!url.includes('/v2')) return undefined; // the usual non-OCI request, without the pattern below
  const a = ADDRESS_PREFIX.exec(url);
  if (a) {
    const namespace = decode(a[1]);
    const name = decode(a[2]);
    if (namespace === undefined || name === undefined || !isOciConnector(namespace, name)) return undefined;
    const rest = url.slice(a[0].length).replace(/^\//, '');
    return { kind: 'connector', namespace, name, clientBase: `${a[0]}/`, namePrefix: '', upstream: '/v2/' + rest };
  }
  return undefined;
}

/** Whether a base route is really the API version check (`/v2/`), not a repository path without a Connector. */
export function isBaseCheck(url: string): boolean {
  const path = url.split('?')[0];
  return path === '/v2' || path === '/v2/';
}

export interface OciResource {
  /** Repository name upstream ('' for the base and the catalog). */
  repository: string;
  kind: 'base' | 'catalog' | 'manifests' | 'blobs' | 'uploads' | 'tags' | 'referrers' | 'other';
}

const RESOURCE = /^\/v2\/(.+)\/(manifests\/[^/]+|blobs\/uploads(?:\/[^/]*)?|blobs\/[^/]+|tags\/list|referrers\/[^/]+)$/;

/** The repository and kind of an upstream path (pure). */
export function ociResource(upstreamPath: string): OciResource {
  const path = upstreamPath.split('?')[0];
  if (path === '/v2/' || path === '/v2') return { repository: '', kind: 'base' };
  if (path === '/v2/_catalog') return { repository: '', kind: 'catalog' };
  const m = RESOURCE.exec(path);
  if (!m) return { repository: '', kind: 'other' };
  const tail = m[2];
  const kind = tail.startsWith('manifests/')
    ? 'manifests'
    : tail.startsWith('blobs/uploads')
      ? 'uploads'
      : tail.startsWith('blobs/')
        ? 'blobs'
        : tail.startsWith('tags/')
          ? 'tags'
          : 'referrers';
  return { repository: decode(m[1]) ?? m[1], kind };
}

/**
 * Token scopes an upstream request needs (pure), in distribution's terms: GET/HEAD pull, POST/PUT/PATCH
 * pull+push, DELETE delete; a cross-repository mount also pulls from the source repository; the catalog is
 * `registry:catalog:*`.
 */
export function requiredScopes(method: string, upstream: string): string[] {
  const r = ociResource(upstream);
  if (r.kind === 'catalog') return ['registry:catalog:*'];
  if (!r.repository) return [];
  const m = method.toUpperCase();
  const actions = m === 'GET' || m === 'HEAD' ? 'pull' : m === 'DELETE' ? 'delete' : 'pull,push';
  const scopes = [`repository:${r.repository}:${actions}`];
  const q = upstream.indexOf('?');
  if (m === 'POST' && r.kind === 'uploads' && q !== -1) {
    const from = new URLSearchParams(upstream.slice(q + 1)).get('from');
    if (from && from !== r.repository) scopes.push(`repository:${from}:pull`);
  }
  return scopes;
}

/**
 * Query parameters naming repositories, mapped to upstream names (pure): the `from` of a cross-repository mount
 * and the catalog's `last` lose the client's name prefix. A `from` under another Connector is left as it is
 * (the registry then does a normal upload instead of the mount, as the spec allows).
 */
export function mapUpstreamQuery(upstream: string, namePrefix: string): string {
  const q = upstream.indexOf('?');
  if (q === -1 || !namePrefix) return upstream;
  const params = new URLSearchParams(upstream.slice(q + 1));
  let changed = false;
  for (const key of ['from', 'last']) {
    const v = params.get(key);
    if (v && v.startsWith(namePrefix)) {
      params.set(key, v.slice(namePrefix.length));
      changed = true;
    }
  }
  return changed ? upstream.slice(0, q) + '?' + params.toString() : upstream;
}

/**
 * A URL the upstream returned (Location, Link) that points into its own `/v2/` API, as the client-visible
 * proxy path (pure). Absolute URLs on another origin (blob storage) and paths outside `/v2/` are left alone.
 * `base` is the upstream's origin with its path prefix; `proxyOrigin` the proxy as the client called it.
 */
export function rewriteRegistryUrl(location: string, base: URL, clientBase: string, proxyOrigin: string): string {
  const absolute = /^[a-z][a-z0-9+.-]*:/i.test(location) || location.startsWith('//');
  if (!absolute && !location.startsWith('/')) return location;
  let loc: URL;
  try {
    loc = new URL(location, base.origin);
  } catch {
    return location;
  }
  if (loc.origin !== base.origin) return location;
  const prefix = base.pathname.replace(/\/+$/, '') + '/v2/';
  if (!loc.pathname.startsWith(prefix)) return absolute ? location : loc.href;
  const path = clientBase + loc.pathname.slice(prefix.length) + loc.search + loc.hash;
  return absolute ? proxyOrigin + path : path;
}

/** A `Link` header value (`<url>; rel="next"`, maybe several) with each URL rewritten (pure). */
export function rewriteLink(link: string, rewrite: (url: string) => string): string {
  return link.replace(/<([^>]*)>/g, (_m, u: string) => `<${rewrite(u)}>`);
}

// The registry's challenge is read by the controller's probes too: core/connector holds it.
export { parseChallenge, type Challenge } from '../../core/connector/index.ts';

/** Repository names in a catalog or tag list body, as the client sees them (pure; undefined: leave the body). */
export function prefixNames(body: Buffer, kind: 'catalog' | 'tags', namePrefix: string): Buffer | undefined {
  if (!namePrefix) return undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!doc || typeof doc !== 'object') return undefined;
  const d = doc as Record<string, unknown>;
  if (kind === 'catalog' && Array.isArray(d.repositories))
    d.repositories = (d.repositories as unknown[]).map((r) => (typeof r === 'string' ? namePrefix + r : r));
  else if (kind === 'tags' && typeof d.name === 'string') d.name = namePrefix + d.name;
  else return undefined;
  return Buffer.from(JSON.stringify(d));
}
