// Objects as the YAML `kubectl apply -f -` reads: one document each, separated by `---`.
import { stringify } from 'yaml';

/** A multi-document YAML stream of the objects (arrays, e.g. a Role and its RoleBinding, are flattened). */
export function yaml(...objects: Array<object | object[]>): string {
  // lineWidth 0: long values (certificates, Rego, URLs) stay on one line instead of being folded.
  return objects
    .flat()
    .map((o) => stringify(o, { lineWidth: 0 }))
    .join('---\n');
}
