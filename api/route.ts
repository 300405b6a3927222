// Which Connector a Connectors API request names, and the tool path it asks for (pure). Two forms:
//   /connectors/v1alpha1/namespaces/{namespace}/connectors/{name}/path/{api-path}   (Kubernetes-style)
//   /connectors/v1alpha1/{namespace}/{name}/path/{api-path}                          (the reference's short form,
//                                                                                     the one status.api.path holds)
// The api-path and query are kept byte for byte as the client sent them (an encoded `%2F` inside a segment, as
// GitLab's project ids use, stays one segment).

import { API_ROUTE_PREFIX } from '../core/connector/api-path.ts';
import { rememberLast } from '../core/util/remember-last.ts';

export { API_ROUTE_PREFIX };

/** Read-only: parseApiRoute hands the same object out for a repeated target. */
export interface ApiRoute {
  readonly namespace: string;
  readonly name: string;
  /** The client-visible prefix up to and including `/path`, e.g. `/connectors/v1alpha1/ns/git/path`. */
  readonly prefix: string;
  /** The tool path, always starting with `/` (`/` when the client sent none). */
  readonly apiPath: string;
  /** `?…` as sent, or ''. */
  readonly query: string;
}

/** A namespace: an RFC 1123 label. */
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** A Connector name: an RFC 1123 subdomain. */
const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

const LONG = /^\/connectors\/v1alpha1\/namespaces\/([^/?#]+)\/connectors\/([^/?#]+)\/path(?=[/?]|$)/;
const SHORT = /^\/connectors\/v1alpha1\/([^/?#]+)\/([^/?#]+)\/path(?=[/?]|$)/;

/** The route of a request target (origin form), or undefined when it names no Connector validly. */
export function parseApiRoute(url: string): ApiRoute | undefined {
  return lastRoute(url);
}

/** A keep-alive client mostly repeats its target: the last one's route (read-only) is reused. */
const lastRoute = rememberLast(parse);

function parse(url: string): ApiRoute | undefined {
  if (!url.startsWith(API_ROUTE_PREFIX)) return undefined;
  // The long form first: its fourth segment is `connectors`, where the short form has `path`.
  const m = LONG.exec(url) ?? SHORT.exec(url);
  if (!m || !NAMESPACE.test(m[1]) || !NAME.test(m[2])) return undefined;
  const rest = url.slice(m[0].length);
  const q = rest.indexOf('?');
  const path = q === -1 ? rest : rest.slice(0, q);
  if (path.includes('#')) return undefined;
  return {
    namespace: m[1],
    name: m[2],
    prefix: m[0],
    apiPath: path === '' ? '/' : path,
    query: q === -1 ? '' : rest.slice(q),
  };
}
