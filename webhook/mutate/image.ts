// Pure image-reference handling for the Pod webhook: parse a container image reference the way the
// container runtimes normalise it (distribution/reference: docker.io default, `library/` for official
// images, index.docker.io alias, host:port registries, tags and digests) and rewrite the ones hosted on a
// Connector's registry to the Connector's proxy address, as the OCI quick start shows:
//   harbor.example.com/oci-connector-demo:v1
//   → 192.168.x.x:31567/namespaces/oci-connector-demo/connectors/harbor/oci-connector-demo:v1
import type { Connector } from '../../core/api/index.ts';

export interface ImageRef {
  /** Registry host[:port], lower-cased, Docker Hub aliases folded into `docker.io`. */
  registry: string;
  /** Repository path inside the registry, `library/` added for Docker Hub official images. */
  repository: string;
  tag?: string;
  /** `sha256:...` */
  digest?: string;
}

const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

function foldRegistry(host: string): string {
  const h = host.toLowerCase();
  return DOCKER_HUB_ALIASES.has(h) ? DOCKER_HUB : h;
}

/** Parses an image reference; undefined for an empty or malformed one (left alone by the webhook). */
export function parseImage(image: string): ImageRef | undefined {
  const ref = image.trim();
  if (!ref || /\s/.test(ref)) return undefined;
  let name = ref;
  let digest: string | undefined;
  const at = name.indexOf('@');
  if (at >= 0) {
    digest = name.slice(at + 1);
    name = name.slice(0, at);
    if (!/^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-fA-F]{32,}$/.test(digest)) return undefined;
  }
  let tag: string | undefined;
  const lastSlash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = name.slice(colon + 1);
    name = name.slice(0, colon);
    if (!/^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/.test(tag)) return undefined;
  }
  if (!name) return undefined;
  // distribution/reference splitDockerDomain: the first component is a registry when it has a dot or a
  // port, is `localhost`, or has upper-case letters (repository paths cannot).
  const slash = name.indexOf('/');
  let registry: string;
  let repository: string;
  const first = slash < 0 ? '' : name.slice(0, slash);
  if (slash < 0 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    registry = DOCKER_HUB;
    repository = name;
  } else {
    registry = foldRegistry(first);
    repository = name.slice(slash + 1);
  }
  if (
    !repository ||
    !/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/.test(repository)
  )
    return undefined;
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;
  return { registry, repository, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** Formats a reference back: registry/repository[:tag][@digest]. */
export function formatImage(ref: ImageRef): string {
  return `${ref.registry}/${ref.repository}${ref.tag !== undefined ? ':' + ref.tag : ''}${ref.digest !== undefined ? '@' + ref.digest : ''}`;
}

/**
 * The registry host[:port] images must name to be on the Connector's registry: the host of spec.address
 * (scheme and any path prefix dropped, default ports dropped, Docker Hub aliases folded).
 */
export function connectorRegistry(address: string): string | undefined {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  return url.host ? foldRegistry(url.host) : undefined;
}

/** True when an image's registry is the Connector's: an explicit default port (`:443`, `:80`) matches none. */
export function sameRegistry(imageRegistry: string, connectorHost: string): boolean {
  if (imageRegistry === connectorHost) return true;
  const stripped = imageRegistry.replace(/:(443|80)$/, '');
  return stripped !== imageRegistry && stripped === connectorHost;
}

/**
 * The image prefix of a Connector's proxy: status.proxy.httpAddress.url without its scheme and trailing
 * slash, e.g. `127.0.0.1:31567/namespaces/ns/connectors/harbor`. A host with neither a dot nor a port
 * (e.g. `connectors-proxy`) gets its default port, or runtimes would read it as a Docker Hub path.
 */
export function proxyImagePrefix(proxyURL: string | undefined): string | undefined {
  if (!proxyURL) return undefined;
  let url: URL;
  try {
    url = new URL(proxyURL);
  } catch {
    return undefined;
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !url.host) return undefined;
  let host = url.host.toLowerCase();
  if (!/[.:]/.test(host) && host !== 'localhost') host += url.protocol === 'https:' ? ':443' : ':80';
  const path = url.pathname.replace(/\/+$/, '');
  return host + path;
}

/**
 * The image rewritten to pull through the Connector's proxy, or undefined when the image is not on the
 * Connector's registry (or the Connector has no usable address or proxy URL). Tags and digests are kept.
 */
export function rewriteImage(image: string, connector: Pick<Connector, 'spec' | 'status'>): string | undefined {
  const ref = parseImage(image);
  const host = connectorRegistry(connector.spec?.address ?? '');
  const prefix = proxyImagePrefix(connector.status?.proxy?.httpAddress?.url);
  if (!ref || !host || !prefix || !sameRegistry(ref.registry, host)) return undefined;
  return `${prefix}/${ref.repository}${ref.tag !== undefined ? ':' + ref.tag : ''}${ref.digest !== undefined ? '@' + ref.digest : ''}`;
}
