// Schema builders that give both a TypeScript type (through TypeBox's Static) and a Kubernetes
// structural OpenAPI v3 schema. TypeBox's own Record/Union output (patternProperties, anyOf of consts)
// is not structural, so maps, enums and free-form values are built here with Type.Unsafe.
import { Type, type Static, type TSchema } from 'typebox';

export { Type, type Static, type TSchema };

type Doc = { description?: string; default?: unknown; [k: `x-kubernetes-${string}`]: unknown };

export const Str = (description: string, extra: Record<string, unknown> = {}) => Type.String({ description, ...extra });

export const Bool = (description: string, extra: Record<string, unknown> = {}) =>
  Type.Boolean({ description, ...extra });

export const Int = (description: string, extra: Record<string, unknown> = {}) =>
  Type.Integer({ description, format: 'int64', ...extra });

/** A string restricted to the given values. */
export function Enum<const V extends readonly string[]>(values: V, doc: Doc) {
  return Type.Unsafe<V[number]>({ type: 'string', enum: [...values], ...doc });
}

/** `map[string]string`. */
export function StringMap(description: string) {
  return Type.Unsafe<Record<string, string>>({ type: 'object', additionalProperties: { type: 'string' }, description });
}

/** Any JSON object, kept as written (OpenAPI documents, Tekton WorkspaceBindings, policy snapshots). */
export function FreeObject<T = Record<string, unknown>>(description: string) {
  return Type.Unsafe<T>({ type: 'object', 'x-kubernetes-preserve-unknown-fields': true, description });
}

/** Any JSON value (string, list or object), kept as written. */
export function FreeValue(description: string) {
  return Type.Unsafe<unknown>({ 'x-kubernetes-preserve-unknown-fields': true, description });
}

/** A list whose items are identified by the given key fields (server-side apply merges by them; duplicates are rejected). */
export function ListMap<T extends TSchema>(
  items: T,
  keys: string[],
  description: string,
  extra: Record<string, unknown> = {},
) {
  return Type.Array(items, {
    description,
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': keys,
    ...extra,
  });
}

export function AtomicList<T extends TSchema>(items: T, description: string, extra: Record<string, unknown> = {}) {
  return Type.Array(items, { description, 'x-kubernetes-list-type': 'atomic', ...extra });
}

export const Opt = Type.Optional;
