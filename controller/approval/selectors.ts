// Pure selection: Kubernetes label selectors, the Connectors an AccessPolicy covers, the namespaces of a
// binding template.
export interface LabelRequirement {
  key: string;
  /** In, NotIn, Exists or DoesNotExist; any other operator selects nothing. */
  operator: string;
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelRequirement[];
}

/** A selector that selects by names, labels or both (AccessPolicy `connector`, a namespaceSelector). */
export interface NamedSelector extends LabelSelector {
  names?: string[];
}

/** metav1.LabelSelector semantics: every matchLabels pair and every requirement must hold; {} selects all. */
export function matchesLabels(labels: Record<string, string> | undefined, sel: LabelSelector): boolean {
  const l = labels ?? {};
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const r of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(l, r.key);
    switch (r.operator) {
      case 'In':
        if (!has || !(r.values ?? []).includes(l[r.key])) return false;
        break;
      case 'NotIn':
        if (has && (r.values ?? []).includes(l[r.key])) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false; // an unknown operator selects nothing (the CRD schema rejects it anyway)
    }
  }
  return true;
}

/** The names in a selector, without empty strings (the design's `names: [""]` means "no names"). */
export const selectorNames = (sel: NamedSelector | undefined): string[] => (sel?.names ?? []).filter((n) => n !== '');

/** An absent selector or `{}` (nothing to narrow by). */
export function selectsAll(sel: NamedSelector | undefined): boolean {
  return (
    !sel ||
    (selectorNames(sel).length === 0 &&
      Object.keys(sel.matchLabels ?? {}).length === 0 &&
      (sel.matchExpressions ?? []).length === 0)
  );
}

/** Whether an object (name + labels) is selected: its name is listed (when names are given) and its labels match. */
export function selects(sel: NamedSelector | undefined, name: string, labels: Record<string, string> | undefined) {
  if (!sel) return true;
  const names = selectorNames(sel);
  if (names.length && !names.includes(name)) return false;
  return matchesLabels(labels, sel);
}

export interface Named {
  metadata: { name?: string; labels?: Record<string, string> };
}

/** The selected objects' names, sorted. */
export function selectNames<T extends Named>(sel: NamedSelector | undefined, objects: T[]): string[] {
  return objects
    .filter((o) => selects(sel, o.metadata.name ?? '', o.metadata.labels))
    .map((o) => o.metadata.name ?? '')
    .sort();
}

/** `a=b,c in (d,e),!f` for logs and messages. */
export function describeSelector(sel: LabelSelector): string {
  const parts = Object.entries(sel.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const r of sel.matchExpressions ?? []) {
    if (r.operator === 'In') parts.push(`${r.key} in (${(r.values ?? []).join(',')})`);
    else if (r.operator === 'NotIn') parts.push(`${r.key} notin (${(r.values ?? []).join(',')})`);
    else if (r.operator === 'Exists') parts.push(r.key);
    else if (r.operator === 'DoesNotExist') parts.push(`!${r.key}`);
  }
  return parts.join(',') || '(everything)';
}
