// References to Connectors as users write them: `namespace/name`, or `name` alone where a namespace is
// implied (the workload's). One parser for the Pod and TaskRun annotations, the CSI volume attributes and
// the forward proxy's user name. A namespace is a DNS label (at most 63 characters); a Connector name a DNS
// subdomain (at most 253), as the API server requires of them.

export interface ConnectorRef {
  namespace: string;
  name: string;
}

export type RefParse = { ok: true; ref: ConnectorRef } | { ok: false; error: string };

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export const isNamespaceName = (s: string) => s.length <= 63 && DNS_LABEL.test(s);
export const isConnectorName = (s: string) => s.length <= 253 && DNS_SUBDOMAIN.test(s);

export const refString = (r: ConnectorRef) => `${r.namespace}/${r.name}`;

/**
 * Parses one reference (surrounding spaces ignored). With `defaultNamespace`, a bare name is in that
 * namespace; without it, the namespace is required. The error says what is wrong, quoting the input.
 */
export function parseConnectorRef(text: string, defaultNamespace?: string): RefParse {
  const item = text.trim();
  const form = defaultNamespace === undefined ? '<namespace>/<name>' : '<namespace>/<name> or <name>';
  const parts = item.split('/').map((p) => p.trim());
  if (item === '') return { ok: false, error: `a Connector reference is empty: use ${form}` };
  if (parts.length > 2 || (parts.length === 1 && defaultNamespace === undefined) || parts.some((p) => p === ''))
    return { ok: false, error: `${JSON.stringify(item)} is not a Connector reference: use ${form}` };
  const [namespace, name] = parts.length === 2 ? parts : [defaultNamespace!, parts[0]];
  if (!isNamespaceName(namespace))
    return {
      ok: false,
      error: `${JSON.stringify(item)}: ${JSON.stringify(namespace)} is not a namespace name (lower-case letters, digits and "-", at most 63)`,
    };
  if (!isConnectorName(name))
    return {
      ok: false,
      error: `${JSON.stringify(item)}: ${JSON.stringify(name)} is not a Connector name (lower-case letters, digits, "-" and ".", at most 253)`,
    };
  return { ok: true, ref: { namespace, name } };
}

/** A comma-separated list of references, empty items skipped, duplicates dropped (first kept). */
export function parseConnectorRefList(
  text: string,
  defaultNamespace?: string,
): { ok: true; refs: ConnectorRef[] } | { ok: false; error: string } {
  const refs: ConnectorRef[] = [];
  const seen = new Set<string>();
  for (const item of text.split(',')) {
    if (item.trim() === '') continue;
    const r = parseConnectorRef(item, defaultNamespace);
    if (!r.ok) return r;
    const key = refString(r.ref);
    if (seen.has(key)) continue;
    seen.add(key);
    refs.push(r.ref);
  }
  return { ok: true, refs };
}
