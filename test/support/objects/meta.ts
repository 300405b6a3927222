// The metadata every builder takes besides the name.
import type { ObjectMeta } from '../../../core/kube/types.ts';

export interface MetaOptions {
  /** Omitted: the namespace `kubectl apply -n` (or the client call) gives. */
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** `metadata` with only the fields given, so the YAML says no more than the test meant. */
export function metadata(name: string, o: MetaOptions = {}): ObjectMeta {
  return {
    name,
    ...(o.namespace === undefined ? {} : { namespace: o.namespace }),
    ...(o.labels === undefined ? {} : { labels: o.labels }),
    ...(o.annotations === undefined ? {} : { annotations: o.annotations }),
  };
}

/** `[{name, value}]`, the list form of spec.params, auth.params and addressExtensions, from a record. */
export function nameValues(record: Record<string, string>): Array<{ name: string; value: string }> {
  return Object.entries(record).map(([name, value]) => ({ name, value }));
}
