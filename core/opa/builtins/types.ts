// Shared shapes of the host-side built-ins handed to opa-wasm.

/** Per-evaluation state, so nondeterministic built-ins are stable within one evaluation (as in OPA). */
export interface BuiltinContext {
  /** Nanoseconds since the epoch, fixed for one evaluation. */
  nowNs(): bigint;
  /** uuid.rfc4122 results of this evaluation, by seed string. */
  uuids: Map<string, string>;
}

/** A JSON value whose text is given verbatim (exact big integers): opa-wasm loads ArrayBuffers as raw JSON. */
export type RawJson = ArrayBuffer;

export function rawNumber(n: bigint): RawJson {
  const bytes = new TextEncoder().encode(n.toString());
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
}

export type BuiltinImpl = (ctx: BuiltinContext, ...args: unknown[]) => unknown;

/** OPA type declaration of a built-in (the `decl` of a capabilities entry). */
export interface BuiltinDecl {
  type: 'function';
  args: unknown[];
  result: unknown;
}

export interface BuiltinDef {
  impl: BuiltinImpl;
  /** Only for built-ins OPA does not know (e.g. `hmac.sha256`); OPA's own declarations are used otherwise. */
  decl?: BuiltinDecl;
}

export type BuiltinTable = Record<string, BuiltinDef>;

/** Errors thrown by built-ins name the built-in, like OPA's `<name>: <reason>`. */
export function fail(name: string, reason: string): never {
  throw new Error(`${name}: ${reason}`);
}

export function wantString(name: string, position: number, value: unknown): string {
  if (typeof value !== 'string') fail(name, `operand ${position} must be string but got ${typeName(value)}`);
  return value;
}

export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'object') return 'object';
  return typeof value;
}
