// The Go value model of the template engine: how Go values (as text/template sees them through
// reflection) are represented in JavaScript. See README.md for the rules.
//
//   Go                                   JavaScript
//   invalid reflect.Value (<no value>)   undefined
//   nil interface{}                      null
//   string                               string
//   bool                                 boolean
//   float64                              number
//   int64                                bigint
//   int, int32, uint8, uint64, ...       GoInt (type name + bigint value)
//   complex128                           GoComplex
//   []interface{} / []string / []int ... Array (element type in arr[GO_TYPE], default []interface {})
//   map[string]interface{} / ...         plain object (type in obj[GO_TYPE], default map[string]interface {})
//   time.Time, *semver.Version, ...      GoStruct subclasses
//   func values                          GoFunc

export const GO_TYPE: unique symbol = Symbol.for('connectors.template.goType');
export const GO_NIL: unique symbol = Symbol.for('connectors.template.goNil');
export const GO_CAP: unique symbol = Symbol.for('connectors.template.goCap');

/** Capacity of a slice (encoding/json grows decoded arrays by append; others have cap == len). */
export function sliceCap(a: GoValue[]): number {
  return (a as { [GO_CAP]?: number })[GO_CAP] ?? a.length;
}

/** The capacity append() reaches after n single appends to an empty []interface{}. */
export function appendCap(n: number): number {
  let cap = 0;
  while (cap < n) {
    if (cap === 0) cap = 1;
    else if (cap < 256) cap *= 2;
    else {
      cap += (cap + 3 * 256) >> 2;
      if (cap === 832) cap = 848; // malloc size class rounding
    }
  }
  return cap;
}

export type GoValue =
  undefined | null | string | boolean | number | bigint | GoInt | GoComplex | GoValue[] | GoMap | GoStruct | GoFunc;
export interface GoMap {
  [key: string]: GoValue;
}

export class GoInt {
  readonly t: string;
  readonly v: bigint;
  constructor(t: string, v: bigint) {
    this.t = t;
    this.v = v;
  }
}

export class GoComplex {
  readonly re: number;
  readonly im: number;
  constructor(re: number, im: number) {
    this.re = re;
    this.im = im;
  }
}

/** A Go method callable from a template (`.Method arg...`). */
export interface GoMethod {
  params: string[];
  variadic?: string;
  errReturn?: boolean;
  ret?: string;
  call: (...args: GoValue[]) => GoValue;
}

/** A struct (or pointer to struct) value with exported fields and methods. */
export abstract class GoStruct {
  /** Go type name as %T prints it (`time.Time`, `*semver.Version`). */
  abstract readonly goType: string;
  /** Exported fields in declaration order (for %v and field access). */
  fields(): [string, GoValue][] {
    return [];
  }
  /** Method by name, or undefined. */
  method(_name: string): GoMethod | undefined {
    return undefined;
  }
  /** The String() method if the type is a fmt.Stringer. */
  stringer(): string | undefined {
    return undefined;
  }
  /** The Error() method if the type is an error. */
  errorText(): string | undefined {
    return undefined;
  }
  /** True when this is a pointer type (printed as &{...}). */
  get isPointer(): boolean {
    return this.goType.startsWith('*');
  }
}

/** A Go function value. */
export class GoFunc {
  readonly name: string;
  readonly goType: string;
  constructor(name: string, goType: string) {
    this.name = name;
    this.goType = goType;
  }
}

/** Error values (what errors.New returns). */
export class GoError extends GoStruct {
  readonly goType = '*errors.errorString';
  readonly message: string;
  constructor(message: string) {
    super();
    this.message = message;
  }
  override errorText(): string {
    return this.message;
  }
}

export const INT_TYPES = new Set(['int', 'int8', 'int16', 'int32', 'int64']);
export const UINT_TYPES = new Set(['uint', 'uint8', 'uint16', 'uint32', 'uint64', 'uintptr']);

export function mkInt(v: bigint | number): GoInt {
  return new GoInt('int', typeof v === 'bigint' ? BigInt.asIntN(64, v) : BigInt(v));
}

export function isPlainMap(v: unknown): v is GoMap {
  if (v === null || typeof v !== 'object') return false;
  const p: unknown = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

export function newMap(type?: string): GoMap {
  const m = Object.create(null) as GoMap;
  if (type && type !== 'map[string]interface {}') Object.defineProperty(m, GO_TYPE, { value: type, enumerable: false });
  return m;
}

export function tagArray<T extends GoValue[]>(arr: T, type: string): T {
  if (type !== '[]interface {}')
    Object.defineProperty(arr, GO_TYPE, { value: type, enumerable: false, configurable: true });
  return arr;
}

export function nilSlice(type = '[]interface {}'): GoValue[] {
  const a = tagArray([], type);
  Object.defineProperty(a, GO_NIL, { value: true, enumerable: false });
  return a;
}

export function nilMap(type = 'map[string]interface {}'): GoMap {
  const m = Object.create(null) as GoMap;
  Object.defineProperty(m, GO_TYPE, { value: type, enumerable: false });
  Object.defineProperty(m, GO_NIL, { value: true, enumerable: false });
  return m;
}

export function isNilContainer(v: object): boolean {
  return (v as { [GO_NIL]?: boolean })[GO_NIL] === true;
}

export function hasKey(m: GoMap, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(m, k);
}

export function mapGet(m: GoMap, k: string): GoValue {
  return Object.prototype.hasOwnProperty.call(m, k) ? m[k] : undefined;
}

export function mapSet(m: GoMap, k: string, v: GoValue): void {
  if (k === '__proto__')
    Object.defineProperty(m, k, { value: v, enumerable: true, writable: true, configurable: true });
  else m[k] = v;
}

export function sliceType(a: GoValue[]): string {
  return (a as { [GO_TYPE]?: string })[GO_TYPE] ?? '[]interface {}';
}

export function mapType(m: GoMap): string {
  return (m as { [GO_TYPE]?: string })[GO_TYPE] ?? 'map[string]interface {}';
}

/** Element type of a slice/map type string. */
export function elemType(t: string): string {
  if (t.startsWith('[]')) return t.slice(2);
  if (t.startsWith('map[')) {
    let depth = 0;
    for (let i = 3; i < t.length; i++) {
      if (t[i] === '[') depth++;
      else if (t[i] === ']') {
        depth--;
        if (depth === 0) return t.slice(i + 1);
      }
    }
  }
  if (t.startsWith('*')) return t.slice(1);
  return 'interface {}';
}

export function mapKeyType(t: string): string {
  let depth = 0;
  for (let i = 3; i < t.length; i++) {
    if (t[i] === '[') depth++;
    else if (t[i] === ']') {
      depth--;
      if (depth === 0) return t.slice(4, i);
    }
  }
  return 'string';
}

/** The reflect.Kind of a value, as a short string. */
export type Kind =
  | 'invalid'
  | 'interface'
  | 'bool'
  | 'int'
  | 'uint'
  | 'float'
  | 'complex'
  | 'string'
  | 'slice'
  | 'map'
  | 'struct'
  | 'ptr'
  | 'func';

export function kindOf(v: GoValue): Kind {
  switch (typeof v) {
    case 'string':
      return 'string';
    case 'bigint':
      return 'int';
    case 'number':
      return 'float';
    case 'boolean':
      return 'bool';
    case 'undefined':
      return 'invalid';
  }
  if (v === null) return 'interface';
  if (Array.isArray(v)) return 'slice';
  if (v instanceof GoInt) return UINT_TYPES.has(v.t) ? 'uint' : 'int';
  if (v instanceof GoStruct) return v.isPointer ? 'ptr' : 'struct';
  if (v instanceof GoComplex) return 'complex';
  if (v instanceof GoFunc) return 'func';
  return 'map';
}

/** The Go type of a value as reflect.Type.String() prints it. Null is a nil interface{}. */
export function typeOf(v: GoValue): string {
  switch (typeof v) {
    case 'string':
      return 'string';
    case 'bigint':
      return 'int64';
    case 'number':
      return 'float64';
    case 'boolean':
      return 'bool';
    case 'undefined':
      return '<invalid>';
  }
  if (v === null) return 'interface {}';
  if (Array.isArray(v)) return sliceType(v);
  if (v instanceof GoInt) return v.t;
  if (v instanceof GoStruct) return v.goType;
  if (v instanceof GoComplex) return 'complex128';
  if (v instanceof GoFunc) return v.goType;
  return mapType(v);
}

/** Kind of a Go type given as a string. */
export function typeKind(t: string): Kind {
  if (t === 'string') return 'string';
  if (t === 'bool') return 'bool';
  if (t === 'float64' || t === 'float32') return 'float';
  if (INT_TYPES.has(t)) return 'int';
  if (UINT_TYPES.has(t)) return 'uint';
  if (t === 'complex128' || t === 'complex64') return 'complex';
  if (t === 'interface {}' || t === 'error' || t === 'fmt.Stringer') return 'interface';
  if (t.startsWith('[]')) return 'slice';
  if (t.startsWith('map[')) return 'map';
  if (t.startsWith('*')) return 'ptr';
  if (t.startsWith('func')) return 'func';
  return 'struct';
}

export function canBeNil(t: string): boolean {
  if (t === 'reflect.Value') return true;
  const k = typeKind(t);
  return k === 'interface' || k === 'slice' || k === 'map' || k === 'ptr' || k === 'func';
}

/** The zero value of a Go type. */
export function zeroOf(t: string): GoValue {
  switch (typeKind(t)) {
    case 'string':
      return '';
    case 'bool':
      return false;
    case 'float':
      return 0;
    case 'int':
    case 'uint':
      return t === 'int64' ? 0n : new GoInt(t, 0n);
    case 'complex':
      return new GoComplex(0, 0);
    case 'interface':
      return null;
    case 'slice':
      return nilSlice(t);
    case 'map':
      return nilMap(t);
    default:
      return null;
  }
}

/** Integer value of an int-kind value (bigint or GoInt). */
export function intVal(v: GoValue): bigint {
  return typeof v === 'bigint' ? v : (v as GoInt).v;
}

/** Go's truthiness (text/template isTrue): [truth, ok]. */
export function isTrue(v: GoValue): boolean {
  switch (typeof v) {
    case 'string':
      return v.length > 0;
    case 'boolean':
      return v;
    case 'number':
      return v !== 0;
    case 'bigint':
      return v !== 0n;
    case 'undefined':
      return false;
  }
  if (v === null) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof GoInt) return v.v !== 0n;
  if (v instanceof GoComplex) return v.re !== 0 || v.im !== 0;
  if (v instanceof GoStruct || v instanceof GoFunc) return true;
  for (const _ in v) return true;
  return false;
}

/** Byte length of a Go string held as a JS string (UTF-8). */
export function byteLen(s: string): number {
  const n = s.length;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0x7f) return Buffer.byteLength(s, 'utf8');
  }
  return n;
}

export function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** Slices a Go string by byte offsets. */
export function byteSlice(s: string, start: number, end?: number): string {
  if (isAscii(s)) return s.slice(start, end);
  return Buffer.from(s, 'utf8').subarray(start, end).toString('utf8');
}

/** Sorted keys of a map, the way fmt and range order them. */
export function sortedKeys(m: GoMap): string[] {
  const keys = Object.keys(m);
  const kt = mapKeyType(mapType(m));
  if (kt === 'string' || kt === 'interface {}') return keys.sort(compareStrings);
  return keys.sort((a, b) => {
    const x = BigInt(a);
    const y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

/** Byte-wise (UTF-8) string comparison, which for valid strings equals code point order. */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      // Surrogates (>= 0xD800 < 0xE000) encode code points above 0xFFFF, which sort after 0xE000-0xFFFF.
      const xs = x >= 0xd800 && x < 0xe000;
      const ys = y >= 0xd800 && y < 0xe000;
      if (xs !== ys) return xs ? 1 : -1;
      return x - y;
    }
  }
  return a.length - b.length;
}

/** Key value of a typed map from its stored string key. */
export function keyFromString(m: GoMap, k: string): GoValue {
  const kt = mapKeyType(mapType(m));
  if (kt === 'string') return k;
  if (kt === 'int64') return BigInt(k);
  if (INT_TYPES.has(kt) || UINT_TYPES.has(kt)) return new GoInt(kt, BigInt(k));
  return k;
}
