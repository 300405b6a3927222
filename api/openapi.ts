// Which operation of a ConnectorClass's `spec.api.openapi` a request is (pure), and where it goes:
//   x-provider-type: api    → the class API (status.api.address.url + path), with the plugin headers
//   x-provider-type: proxy  → the tool, with the Connector's credentials injected (also the default: no
//                             x-provider-type, no matching operation, or no openapi at all)
//   x-openapi-address       → for proxy operations, which address of the Connector: empty → spec.address, an
//                             http(s) URL → as written, a name → that spec.addressExtensions entry.
// Paths match their templates segment by segment on the raw (still percent-encoded) path; `{param}` matches one
// non-empty segment or part of one. Concrete paths win over templated ones (OpenAPI's rule), then the template
// with more literal characters. HEAD and OPTIONS requests are the path's `get` operation.

export type ProviderType = 'api' | 'proxy';

export interface OperationMatch {
  /** The OpenAPI path template of the matching path item, e.g. `/git/gitrefs` or `/projects/{id}/branches`. */
  template?: string;
  /** The operation of the request's method, when the path item has one. */
  operationId?: string;
  providerType: ProviderType;
  /** x-openapi-address of the operation ('' when unset). */
  address: string;
}

/** A class's openapi with a problem a client cannot fix: answered 400 naming it. */
export class OpenApiError extends Error {
  override name = 'OpenApiError';
}

interface CompiledPath {
  template: string;
  pattern: RegExp;
  literal: number;
  params: number;
  item: Record<string, unknown>;
}

const METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A path template as a regular expression over raw paths; undefined for a template that is not a path. */
function compileTemplate(template: string): Omit<CompiledPath, 'item'> | undefined {
  if (!template.startsWith('/')) return undefined;
  let literal = 0;
  let params = 0;
  let source = '';
  for (const part of template.split(/(\{[^{}/]*\})/)) {
    if (part.startsWith('{') && part.endsWith('}')) {
      params++;
      source += '[^/]+';
    } else {
      if (part.includes('{') || part.includes('}')) return undefined;
      literal += part.length;
      source += escape(part);
    }
  }
  return { template, pattern: new RegExp(`^${source}$`), literal, params };
}

/** The path items of an openapi document, compiled once per document object (the informers replace, never edit). */
const compiled = new WeakMap<object, CompiledPath[]>();

function pathsOf(openapi: unknown): CompiledPath[] {
  if (!openapi || typeof openapi !== 'object') return [];
  let out = compiled.get(openapi);
  if (out) return out;
  out = [];
  const paths = (openapi as { paths?: unknown }).paths;
  if (paths && typeof paths === 'object' && !Array.isArray(paths)) {
    for (const [template, item] of Object.entries(paths)) {
      if (!item || typeof item !== 'object' || Array.isArray(item)) continue;
      const c = compileTemplate(template);
      if (c) out.push({ ...c, item: item as Record<string, unknown> });
    }
    // Concrete first, then more literal characters, then fewer parameters; ties in template order.
    out.sort(
      (a, b) =>
        Number(a.params > 0) - Number(b.params > 0) ||
        b.literal - a.literal ||
        a.params - b.params ||
        (a.template < b.template ? -1 : a.template > b.template ? 1 : 0),
    );
  }
  compiled.set(openapi, out);
  return out;
}

/** The operation key of a request method: HEAD and OPTIONS read the path's `get` operation. */
export function operationMethod(method: string): string {
  const m = method.toLowerCase();
  return m === 'head' || m === 'options' ? 'get' : m;
}

/**
 * The operation a request is, by method and raw path (without the query). Throws OpenApiError when the
 * matching operation's x-provider-type is neither `api` nor `proxy`.
 */
export function matchOperation(openapi: unknown, method: string, path: string): OperationMatch {
  const key = operationMethod(method);
  for (const p of pathsOf(openapi)) {
    if (!p.pattern.test(path)) continue;
    const op = METHODS.has(key) ? p.item[key] : undefined;
    if (!op || typeof op !== 'object' || Array.isArray(op))
      return { template: p.template, providerType: 'proxy', address: '' };
    const o = op as Record<string, unknown>;
    const type = o['x-provider-type'];
    if (type !== undefined && type !== 'api' && type !== 'proxy')
      throw new OpenApiError(
        `x-provider-type ${JSON.stringify(type)} of ${key.toUpperCase()} ${p.template} is neither "api" nor "proxy"`,
      );
    const rawAddress = o['x-openapi-address'];
    let address = '';
    if (typeof rawAddress === 'string') address = rawAddress.trim();
    else if (typeof rawAddress === 'number' || typeof rawAddress === 'boolean') address = String(rawAddress);
    else if (rawAddress !== undefined && rawAddress !== null)
      throw new OpenApiError(
        `x-openapi-address ${JSON.stringify(rawAddress)} of ${key.toUpperCase()} ${p.template} is not a string`,
      );
    return {
      template: p.template,
      operationId: typeof o.operationId === 'string' ? o.operationId : undefined,
      providerType: type ?? 'proxy',
      address,
    };
  }
  return { providerType: 'proxy', address: '' };
}

/**
 * The base URL a proxy operation's request goes to: `selector` '' → spec.address, an http(s) URL → as written,
 * a name → the Connector's addressExtension of that name. Throws OpenApiError naming the selector otherwise.
 */
export function selectAddress(
  selector: string,
  connector: { spec: { address: string; addressExtensions?: Array<{ name: string; value: string }> } },
): string {
  if (selector === '') return connector.spec.address;
  if (/^[a-z][a-z0-9+.-]*:/i.test(selector)) {
    if (/^https?:\/\//i.test(selector)) {
      try {
        const u = new URL(selector);
        if (u.hostname) return selector;
      } catch {
        // reported below
      }
    }
    throw new OpenApiError(`x-openapi-address ${JSON.stringify(selector)} is not a valid http(s) URL`);
  }
  const ext = connector.spec.addressExtensions?.find((e) => e.name === selector);
  if (!ext)
    throw new OpenApiError(
      `x-openapi-address ${JSON.stringify(selector)} names no address extension of the connector (spec.addressExtensions)`,
    );
  return ext.value;
}
