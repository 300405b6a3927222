// The capabilities file handed to `opa build --capabilities`: OPA's own declarations (from
// `opa capabilities --current` of the pinned binary) restricted to the built-ins that can actually run —
// those OPA's wasm target implements natively, those the opa-wasm SDK supplies, and ours
// (./builtins) — plus declarations of our non-OPA built-ins. Anything else (http.send, net.lookup_ip_addr,
// ...) is then a compile-time `undefined function` error instead of a "not implemented" failure per request.
import { BUILTINS, type BuiltinTable } from './builtins/index.ts';

/**
 * Built-ins with `"wasm": true` in OPA v1.22.2's builtin_metadata.json (the map `builtinsFunctions` in
 * internal/compiler/wasm/wasm.go, plus `eq`/`assign`, which the planner compiles away). Update together with
 * OPA_VERSION in core/peers; test/opa/capabilities.test.ts checks every name is still an OPA built-in.
 */
export const WASM_NATIVE_BUILTINS: readonly string[] = [
  'abs',
  'all',
  'and',
  'any',
  'array.concat',
  'array.flatten',
  'array.reverse',
  'array.slice',
  'assign',
  'base64.decode',
  'base64.encode',
  'base64.is_valid',
  'base64url.decode',
  'base64url.encode',
  'bits.and',
  'bits.lsh',
  'bits.negate',
  'bits.or',
  'bits.rsh',
  'bits.xor',
  'ceil',
  'concat',
  'contains',
  'count',
  'div',
  'endswith',
  'eq',
  'equal',
  'floor',
  'format_int',
  'glob.match',
  'graph.reachable',
  'gt',
  'gte',
  'indexof',
  'internal.member_2',
  'internal.member_3',
  'internal.template_string',
  'intersection',
  'is_array',
  'is_boolean',
  'is_null',
  'is_number',
  'is_object',
  'is_set',
  'is_string',
  'json.filter',
  'json.is_valid',
  'json.marshal',
  'json.remove',
  'json.unmarshal',
  'lower',
  'lt',
  'lte',
  'max',
  'min',
  'minus',
  'mul',
  'neq',
  'net.cidr_contains',
  'net.cidr_intersects',
  'net.cidr_overlap',
  'numbers.range',
  'object.filter',
  'object.get',
  'object.keys',
  'object.remove',
  'object.union',
  'object.union_n',
  'or',
  'plus',
  'product',
  're_match',
  'regex.find_all_string_submatch_n',
  'regex.is_valid',
  'regex.match',
  'rem',
  'replace',
  'round',
  'set_diff',
  'sort',
  'split',
  'startswith',
  'strings.replace_n',
  'strings.reverse',
  'substring',
  'sum',
  'to_number',
  'trim',
  'trim_left',
  'trim_prefix',
  'trim_right',
  'trim_space',
  'trim_suffix',
  'type_name',
  'union',
  'upper',
  'walk',
];

/** Implemented by @open-policy-agent/opa-wasm itself (src/builtins): these take precedence over ours. */
export const SDK_BUILTINS: readonly string[] = [
  'sprintf',
  'json.is_valid',
  'regex.split',
  'yaml.is_valid',
  'yaml.marshal',
  'yaml.unmarshal',
];

/** The wasm ABI versions opa-wasm 1.10 accepts (its own capabilities.json). */
const WASM_ABI_VERSIONS = [
  { version: 1, minor_version: 1 },
  { version: 1, minor_version: 2 },
];

export interface Capabilities {
  builtins: { name: string; decl: unknown; [k: string]: unknown }[];
  future_keywords?: string[];
  features?: string[];
  wasm_abi_versions?: unknown[];
  [k: string]: unknown;
}

/** Every built-in name a policy may call. */
export function allowedBuiltinNames(table: BuiltinTable = BUILTINS): Set<string> {
  return new Set([...WASM_NATIVE_BUILTINS, ...SDK_BUILTINS, ...Object.keys(table)]);
}

/** Restrict OPA's full capabilities to what runs here, and declare our own built-ins OPA does not know. */
export function buildCapabilities(current: Capabilities, table: BuiltinTable = BUILTINS): Capabilities {
  const allowed = allowedBuiltinNames(table);
  const known = new Set(current.builtins.map((b) => b.name));
  const builtins = current.builtins.filter((b) => allowed.has(b.name));
  for (const [name, def] of Object.entries(table)) {
    if (known.has(name)) continue;
    if (!def.decl) throw new Error(`built-in ${name} is not an OPA built-in and has no declaration`);
    builtins.push({ name, decl: def.decl });
  }
  return { ...current, builtins, wasm_abi_versions: WASM_ABI_VERSIONS };
}
