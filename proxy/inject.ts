// What credentials go into a request to the tool (pure). By the type of the Connector's Secret (PRX-08):
// kubernetes.io/basic-auth → `Authorization: Basic`, connectors.cpaas.io/bearer-token → `Authorization:
// Bearer`, anything else → the class auth type's generator.rego (evaluated by the caller, see policies.ts).
// No secretRef (an optional auth type) → nothing is injected.
import type { V1Secret } from '@kubernetes/client-node';
import { SECRET_TYPES, type Connector, type ConnectorClass } from '../core/api/index.ts';

export type InjectionPlan =
  | { kind: 'none' }
  | { kind: 'headers'; headers: Record<string, string> }
  | { kind: 'generator'; rego: string; authType: string; data: Record<string, string> }
  | { kind: 'error'; message: string };

/** A Secret's data as strings (data is base64; stringData, when a cache holds it, wins). */
export function secretData(secret: V1Secret): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(secret.data ?? {})) out[k] = Buffer.from(v, 'base64').toString('utf8');
  for (const [k, v] of Object.entries(secret.stringData ?? {})) out[k] = v;
  return out;
}

export function secretRefOf(connector: Connector): { namespace: string; name: string } | undefined {
  const ref = connector.spec.auth?.secretRef;
  if (!ref?.name) return undefined;
  return { namespace: ref.namespace || connector.metadata.namespace!, name: ref.name };
}

export function planInjection(
  connector: Connector,
  connectorClass: ConnectorClass | undefined,
  secret: V1Secret | undefined,
): InjectionPlan {
  const ref = secretRefOf(connector);
  if (!ref) return { kind: 'none' };
  if (ref.namespace !== connector.metadata.namespace) {
    return {
      kind: 'error',
      message: `secretRef of connector ${connector.metadata.namespace}/${connector.metadata.name} points to another namespace`,
    };
  }
  if (!secret) return { kind: 'error', message: `secret ${ref.namespace}/${ref.name} of the connector was not found` };
  const data = secretData(secret);
  const type = secret.type ?? SECRET_TYPES.opaque;
  if (type === SECRET_TYPES.basicAuth) {
    if (data.username === undefined && data.password === undefined) {
      return { kind: 'error', message: `secret ${ref.namespace}/${ref.name} has neither username nor password` };
    }
    const basic = Buffer.from(`${data.username ?? ''}:${data.password ?? ''}`).toString('base64');
    return { kind: 'headers', headers: { authorization: `Basic ${basic}` } };
  }
  if (type === SECRET_TYPES.bearerToken) {
    if (!data.token) return { kind: 'error', message: `secret ${ref.namespace}/${ref.name} has no "token" key` };
    return { kind: 'headers', headers: { authorization: `Bearer ${data.token}` } };
  }
  const authName = connector.spec.auth?.name;
  const authType = connectorClass?.spec?.auth?.types?.find((t) => t.name === authName);
  const rego = authType?.generator?.rego;
  if (!rego) {
    const cls = connector.spec.connectorClassName;
    return {
      kind: 'error',
      message: connectorClass
        ? `auth type ${JSON.stringify(authName)} of connectorclass ${cls} has no generator.rego for secret type ${type}`
        : `connectorclass ${cls} not found: cannot inject a ${type} secret`,
    };
  }
  return { kind: 'generator', rego, authType: authName!, data };
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

/**
 * Forward mode (PRX-04): the Connector whose spec.address or addressExtensions[].value matches the target
 * (scheme, host, port and path prefix), the longest prefix winning; undefined when none matches.
 */
export function matchTarget(target: URL, connectors: Connector[]): Connector | undefined {
  const origin = originOf(target);
  let best: { connector: Connector; length: number } | undefined;
  for (const c of connectors) {
    const addresses = [c.spec.address, ...(c.spec.addressExtensions ?? []).map((e) => e.value)];
    for (const a of addresses) {
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
