// Pure address resolution.
//
// Class endpoints (spec.proxy, spec.api) — `ref` Service plus optional `uri`:
//   ref.address set         → that address (how `connectors up` points classes at an in-process proxy/API)
//   ref to a Service        → proxy: http://<name>.<ns>.svc.cluster.local   api: https://<name>.<ns>.svc
//                             (the API form is the one the reference documents: `https://git.default.svc`; the
//                             proxy gets the fully qualified name because pods in any namespace resolve it)
//   uri absolute            → uri as written
//   uri relative with ref   → the ref's URL + uri
//
// Connector proxy address (status.proxy.httpAddress.url):
//   local mode (class proxy ref.address set) → path form on that address, whatever the resolver: the
//                             per-connector Service names do not resolve outside a cluster
//   resolver host (default) → http://c-<name>.<ns>.svc.cluster.local[:port of the class proxy URL]
//   resolver path           → <class proxy URL>/namespaces/<ns>/connectors/<name>
import type { ConnectorClass, Connector } from '../core/api/index.ts';
import { ANNOTATIONS } from '../core/api/keys.ts';

type ClassSpec = NonNullable<ConnectorClass['spec']>;
type Endpoint = NonNullable<ClassSpec['proxy']> | NonNullable<ClassSpec['api']>;

export class AddressError extends Error {
  override name = 'AddressError';
}

const trimSlash = (s: string) => s.replace(/\/+$/, '');

function isAbsolute(uri: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(uri);
}

export function joinPath(base: string, path: string): string {
  if (!path) return base;
  return `${trimSlash(base)}/${path.replace(/^\/+/, '')}`;
}

/** The URL a class endpoint resolves to; throws AddressError for an endpoint that cannot be resolved. */
export function resolveEndpoint(ep: Endpoint, kind: 'proxy' | 'api', defaultNamespace: string): string {
  const uri = ep.uri?.trim();
  if (uri && isAbsolute(uri)) {
    try {
      new URL(uri);
    } catch {
      throw new AddressError(`spec.${kind}.uri ${JSON.stringify(uri)} is not a valid URL`);
    }
    return uri;
  }
  const ref = ep.ref;
  if (!ref) {
    if (uri)
      throw new AddressError(`spec.${kind}.uri ${JSON.stringify(uri)} is relative but spec.${kind}.ref is not set`);
    throw new AddressError(`spec.${kind} has neither ref nor uri`);
  }
  if (ref.kind && ref.kind !== 'Service')
    throw new AddressError(`spec.${kind}.ref.kind ${JSON.stringify(ref.kind)} is not supported (only Service)`);
  if (!ref.name) throw new AddressError(`spec.${kind}.ref.name is empty`);
  let base: string;
  if (ref.address) {
    base = isAbsolute(ref.address) ? ref.address : `http://${ref.address}`;
    try {
      new URL(base);
    } catch {
      throw new AddressError(`spec.${kind}.ref.address ${JSON.stringify(ref.address)} is not a valid URL`);
    }
  } else {
    const ns = ref.namespace || defaultNamespace;
    base = kind === 'proxy' ? `http://${ref.name}.${ns}.svc.cluster.local` : `https://${ref.name}.${ns}.svc`;
  }
  return uri ? joinPath(base, uri) : trimSlash(base);
}

export type Resolver = 'host' | 'path';

export function proxyResolver(cls: ConnectorClass): Resolver {
  return cls.metadata.annotations?.[ANNOTATIONS.proxyResolver]?.trim() === 'path' ? 'path' : 'host';
}

/** True when the class points at a proxy by explicit address (local mode). */
export function isLocalMode(cls: ConnectorClass): boolean {
  return Boolean(cls.spec?.proxy?.ref?.address);
}

export const connectorServiceName = (connectorName: string) => `c-${connectorName}`;

/** The per-Connector proxy URL, given the class's resolved proxy URL. */
export function connectorProxyURL(cls: ConnectorClass, classProxyURL: string, c: Connector): string {
  const name = c.metadata.name!;
  const ns = c.metadata.namespace!;
  const pathForm = joinPath(classProxyURL, `/namespaces/${ns}/connectors/${name}`);
  if (isLocalMode(cls) || proxyResolver(cls) === 'path') return pathForm;
  const port = new URL(classProxyURL).port;
  return `http://${connectorServiceName(name)}.${ns}.svc.cluster.local${port ? `:${port}` : ''}`;
}

/**
 * The ExternalName target of the per-Connector Service c-<name>: the class proxy's host, when it is a DNS
 * name (ExternalName cannot hold an IP address); undefined when no Service is needed (local mode, path
 * resolver) or possible (an IP address).
 */
export function externalNameTarget(cls: ConnectorClass, classProxyURL: string): string | undefined {
  if (isLocalMode(cls) || proxyResolver(cls) === 'path') return undefined;
  const host = new URL(classProxyURL).hostname;
  if (/^[\d.]+$/.test(host) || host.includes(':') || host === 'localhost') return undefined;
  return host;
}
