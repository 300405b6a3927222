// Label selectors as the API server reads them (`app=web,tier!=db,env in (a,b),!legacy`), parsed once and
// matched against an object's labels: informers use them to filter on the client what several consumers
// of one shared watch each want.
export type Requirement =
  { key: string; op: 'exists' | 'notexists' } | { key: string; op: 'in' | 'notin'; values: string[] };

export class LabelSelectorError extends Error {
  override name = 'LabelSelectorError';
}

/** Splits on commas outside parentheses. */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '(') depth++;
    else if (s[i] === ')') depth--;
    else if (s[i] === ',' && depth === 0) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  out.push(s.slice(start));
  return out.map((p) => p.trim());
}

const KEY = /^([a-z0-9A-Z][-a-z0-9A-Z_.]*\/)?[a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?$/;
const VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function key(k: string, selector: string): string {
  if (!KEY.test(k))
    throw new LabelSelectorError(`label selector ${JSON.stringify(selector)}: invalid key ${JSON.stringify(k)}`);
  return k;
}

function value(v: string, selector: string): string {
  if (!VALUE.test(v))
    throw new LabelSelectorError(`label selector ${JSON.stringify(selector)}: invalid value ${JSON.stringify(v)}`);
  return v;
}

/** Pure: the requirements of a selector; '' selects everything. Throws LabelSelectorError. */
export function parseLabelSelector(selector: string): Requirement[] {
  if (!selector.trim()) return [];
  return splitTop(selector).map((part): Requirement => {
    if (!part) throw new LabelSelectorError(`label selector ${JSON.stringify(selector)}: an empty requirement`);
    let m = /^(\S+?)\s+(in|notin)\s*\((.*)\)$/.exec(part);
    if (m) {
      const values = m[3].split(',').map((v) => value(v.trim(), selector));
      return { key: key(m[1], selector), op: m[2] as 'in' | 'notin', values };
    }
    m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(part);
    if (m) return { key: key(m[1], selector), op: m[2] === '!=' ? 'notin' : 'in', values: [value(m[3], selector)] };
    m = /^!\s*(\S+)$/.exec(part);
    if (m) return { key: key(m[1], selector), op: 'notexists' };
    if (/^\S+$/.test(part) && !/[=!<>()]/.test(part)) return { key: key(part, selector), op: 'exists' };
    throw new LabelSelectorError(`label selector ${JSON.stringify(selector)}: cannot parse ${JSON.stringify(part)}`);
  });
}

/** Pure: whether labels satisfy every requirement (a missing label satisfies `notin` and `!=`, as in Kubernetes). */
export function matchesRequirements(reqs: Requirement[], labels: Record<string, string> | undefined): boolean {
  for (const r of reqs) {
    const has = labels !== undefined && Object.hasOwn(labels, r.key);
    switch (r.op) {
      case 'exists':
        if (!has) return false;
        break;
      case 'notexists':
        if (has) return false;
        break;
      case 'in':
        if (!has || !r.values.includes(labels[r.key])) return false;
        break;
      case 'notin':
        if (has && r.values.includes(labels[r.key])) return false;
        break;
    }
  }
  return true;
}

/** A matcher for a selector string (parsed once). */
export function labelMatcher(selector: string): (labels: Record<string, string> | undefined) => boolean {
  const reqs = parseLabelSelector(selector);
  return (labels) => matchesRequirements(reqs, labels);
}

/**
 * A matcher for a field selector on metadata (`metadata.name=x,metadata.namespace!=y`): the only fields
 * every resource supports, and the only ones the components select on.
 */
export function fieldMatcher(selector: string): (obj: { metadata?: { name?: string; namespace?: string } }) => boolean {
  const reqs = selector.trim()
    ? selector.split(',').map((part) => {
        const m = /^\s*(metadata\.name|metadata\.namespace)\s*(==|=|!=)\s*(\S*)\s*$/.exec(part);
        if (!m)
          throw new LabelSelectorError(
            `field selector ${JSON.stringify(selector)}: cannot match ${JSON.stringify(part)} here`,
          );
        return {
          field: m[1] === 'metadata.name' ? ('name' as const) : ('namespace' as const),
          eq: m[2] !== '!=',
          value: m[3],
        };
      })
    : [];
  return (obj) => reqs.every((r) => ((obj.metadata?.[r.field] ?? '') === r.value) === r.eq);
}
