// text/template's predefined functions (funcs.go): and or not len index slice print printf
// println html js urlquery call eq ne lt le gt ge.
import { fail } from './functions.ts';
import type { FuncDef, FuncMap } from './functions.ts';
import { sprint, sprintf, sprintln } from './fmt.ts';
import { FuncError } from './errors.ts';
import { isPrint } from './strconv.ts';
import type { GoMap, GoValue } from './values.ts';
import {
  GoComplex,
  GoInt,
  GoStruct,
  byteLen,
  byteSlice,
  elemType,
  isNilContainer,
  sliceCap,
  isTrue,
  kindOf,
  mapKeyType,
  mapType,
  sliceType,
  tagArray,
  typeOf,
  zeroOf,
} from './values.ts';

type BasicKind = 'invalid' | 'bool' | 'complex' | 'int' | 'float' | 'string' | 'uint';

const BASIC_KINDS: ReadonlySet<string> = new Set<BasicKind>(['bool', 'complex', 'int', 'float', 'string', 'uint']);

/** Go's basicKind for eq/lt: the value's reflect kind when comparable as a basic value, else invalid. */
function basicKind(v: GoValue): BasicKind {
  const k = kindOf(v);
  return BASIC_KINDS.has(k) ? (k as BasicKind) : 'invalid';
}

/** indirectInterface: a nil interface becomes invalid. */
function ii(v: GoValue): GoValue {
  return v === null ? undefined : v;
}

function ival(v: GoValue): bigint {
  return typeof v === 'bigint' ? v : (v as GoInt).v;
}

function typeName(v: GoValue): string {
  return typeOf(v);
}

function isNilValue(v: GoValue): boolean {
  if (v === undefined || v === null) return true;
  if (typeof v === 'object' && !(v instanceof GoStruct) && !(v instanceof GoInt) && !(v instanceof GoComplex))
    return isNilContainer(v);
  return false;
}

function isComparable(v: GoValue): boolean {
  const k = kindOf(v);
  return k !== 'slice' && k !== 'map' && k !== 'func';
}

function vstr(v: GoValue, verb = 'v'): string {
  // fmt of a reflect.Value with the given verb
  return v === undefined ? '<invalid reflect.Value>' : sprintf('%' + verb, [v]);
}

export function eq(arg1: GoValue, ...arg2: GoValue[]): boolean {
  arg1 = ii(arg1);
  if (arg2.length === 0) fail('missing argument for comparison');
  const k1 = basicKind(arg1);
  for (let arg of arg2) {
    arg = ii(arg);
    const k2 = basicKind(arg);
    let truth = false;
    if (k1 !== k2) {
      if (k1 === 'int' && k2 === 'uint') truth = ival(arg1) >= 0n && BigInt.asUintN(64, ival(arg1)) === ival(arg);
      else if (k1 === 'uint' && k2 === 'int') truth = ival(arg) >= 0n && ival(arg1) === BigInt.asUintN(64, ival(arg));
      else if (arg1 !== undefined && arg !== undefined)
        fail(`incompatible types for comparison: ${typeName(arg1)} and ${typeName(arg)}`);
    } else {
      switch (k1) {
        case 'bool':
        case 'string':
          truth = arg1 === arg;
          break;
        case 'float':
          truth = (arg1 as number) === (arg as number);
          break;
        case 'int':
        case 'uint':
          truth = ival(arg1) === ival(arg);
          break;
        case 'complex':
          truth = (arg1 as GoComplex).re === (arg as GoComplex).re && (arg1 as GoComplex).im === (arg as GoComplex).im;
          break;
        default: {
          const ka = kindOf(arg1);
          const kb = kindOf(arg);
          if (!(ka === kb || ka === 'invalid' || kb === 'invalid')) {
            fail(`non-comparable types ${vstr(arg1, 's')}: ${typeName(arg1)}, ${typeName(arg)}: ${vstr(arg)}`);
          }
          if (isNilValue(arg1) || isNilValue(arg)) truth = isNilValue(arg) === isNilValue(arg1);
          else {
            if (!isComparable(arg)) fail(`non-comparable type ${vstr(arg, 's')}: ${typeName(arg)}`);
            truth = arg1 === arg;
          }
        }
      }
    }
    if (truth) return true;
  }
  return false;
}

export function lt(arg1: GoValue, arg2: GoValue): boolean {
  arg1 = ii(arg1);
  const k1 = basicKind(arg1);
  if (k1 === 'invalid') fail('invalid type for comparison');
  arg2 = ii(arg2);
  const k2 = basicKind(arg2);
  if (k2 === 'invalid') fail('invalid type for comparison');
  if (k1 !== k2) {
    if (k1 === 'int' && k2 === 'uint') return ival(arg1) < 0n || BigInt.asUintN(64, ival(arg1)) < ival(arg2);
    if (k1 === 'uint' && k2 === 'int') return ival(arg2) >= 0n && ival(arg1) < BigInt.asUintN(64, ival(arg2));
    fail(`incompatible types for comparison: ${typeName(arg1)} and ${typeName(arg2)}`);
  }
  switch (k1) {
    case 'bool':
    case 'complex':
      return fail('invalid type for comparison');
    case 'float':
      return (arg1 as number) < (arg2 as number);
    case 'int':
    case 'uint':
      return ival(arg1) < ival(arg2);
    case 'string':
      return Buffer.compare(Buffer.from(arg1 as string), Buffer.from(arg2 as string)) < 0;
  }
  return false;
}

function le(a: GoValue, b: GoValue): boolean {
  return lt(a, b) || eq(a, b);
}

function indexArg(index: GoValue, cap: number): number {
  let x: bigint;
  const k = kindOf(index);
  if (k === 'int') x = ival(index);
  else if (k === 'uint') x = BigInt.asIntN(64, ival(index));
  else if (k === 'invalid') fail('cannot index slice/array with nil');
  else fail(`cannot index slice/array with type ${typeName(index)}`);
  if (x < 0n || x > BigInt(cap)) fail(`index out of range: ${x}`);
  return Number(x);
}

export function index(item: GoValue, ...indexes: GoValue[]): GoValue {
  item = ii(item);
  if (item === undefined) fail('index of untyped nil');
  for (let idx of indexes) {
    idx = ii(idx);
    if (item === null) fail('index of nil pointer');
    const k = kindOf(item);
    if (k === 'slice' || k === 'string') {
      const len: number = k === 'string' ? byteLen(item as string) : (item as GoValue[]).length;
      const x = indexArg(idx, len);
      if (x === len) fail(`reflect: ${k === 'string' ? 'string' : 'slice'} index out of range`);
      if (k === 'string') item = new GoInt('uint8', BigInt(Buffer.from(item as string, 'utf8')[x]));
      else item = (item as GoValue[])[x];
    } else if (k === 'map') {
      const m = item as GoMap;
      const keyType = mapKeyType(mapType(m));
      let key: string;
      if (idx === undefined) {
        fail(`value is nil; should be of type ${keyType}`);
      }
      const it = typeOf(idx);
      if (keyType === 'string' && typeof idx === 'string') key = idx;
      else if (it === keyType) key = String(ival(idx));
      else if (
        (kindOf(idx) === 'int' || kindOf(idx) === 'uint') &&
        (keyType.startsWith('int') || keyType.startsWith('uint'))
      )
        key = String(ival(idx));
      else fail(`value has type ${it}; should be ${keyType}`);
      item = Object.prototype.hasOwnProperty.call(m, key) ? m[key] : zeroOf(elemType(mapType(m)));
    } else if (k === 'invalid') {
      throw new Error('unreachable');
    } else fail(`can't index item of type ${typeName(item)}`);
  }
  return item;
}

export function slice(item: GoValue, ...indexes: GoValue[]): GoValue {
  item = ii(item);
  if (item === undefined) fail('slice of untyped nil');
  if (indexes.length > 3) fail(`too many slice indexes: ${indexes.length}`);
  const k = kindOf(item);
  let cap: number;
  let len: number;
  if (k === 'string') {
    if (indexes.length === 3) fail('cannot 3-index slice a string');
    cap = len = byteLen(item as string);
  } else if (k === 'slice') {
    len = (item as GoValue[]).length;
    cap = sliceCap(item as GoValue[]);
  } else fail(`can't slice item of type ${typeName(item)}`);
  const idx = [0, len, 0];
  for (let i = 0; i < indexes.length; i++) idx[i] = indexArg(indexes[i], cap);
  if (idx[0] > idx[1]) fail(`invalid slice index: ${idx[0]} > ${idx[1]}`);
  if (k === 'string') return byteSlice(item as string, idx[0], idx[1]);
  if (indexes.length === 3 && idx[1] > idx[2]) fail(`invalid slice index: ${idx[1]} > ${idx[2]}`);
  const arr = item as GoValue[];
  const out: GoValue[] = [];
  const zero = zeroOf(elemType(sliceType(arr)));
  for (let i = idx[0]; i < idx[1]; i++) out.push(i < arr.length ? arr[i] : zero);
  return tagArray(out, sliceType(arr));
}

export function length(item: GoValue): GoValue {
  if (item === null) fail('len of nil pointer');
  const k = kindOf(item);
  if (k === 'string') return new GoInt('int', BigInt(byteLen(item as string)));
  if (k === 'slice') return new GoInt('int', BigInt((item as GoValue[]).length));
  if (k === 'map') return new GoInt('int', BigInt(Object.keys(item as GoMap).length));
  if (item === undefined) fail('reflect: call of reflect.Value.Type on zero Value');
  fail(`len of type ${typeName(item)}`);
}

/** evalArgs of html/js/urlquery: a single string as is, else fmt.Sprint with <no value> for nil. */
function evalArgs(args: GoValue[]): string {
  if (args.length === 1 && typeof args[0] === 'string') return args[0];
  return sprint(args.map((a) => (a === undefined || a === null ? '<no value>' : a)));
}

export function htmlEscapeString(s: string): string {
  if (!/['"&<>\0]/.test(s)) return s;
  let out = '';
  for (const ch of s) {
    switch (ch) {
      case '\0':
        out += '\uFFFD';
        break;
      case '"':
        out += '&#34;';
        break;
      case "'":
        out += '&#39;';
        break;
      case '&':
        out += '&amp;';
        break;
      case '<':
        out += '&lt;';
        break;
      case '>':
        out += '&gt;';
        break;
      default:
        out += ch;
    }
  }
  return out;
}

export function jsEscapeString(s: string): string {
  let out = '';
  for (const ch of s) {
    const r = ch.codePointAt(0)!;
    switch (ch) {
      case '\\':
        out += '\\\\';
        continue;
      case "'":
        out += "\\'";
        continue;
      case '"':
        out += '\\"';
        continue;
      case '<':
        out += '\\u003C';
        continue;
      case '>':
        out += '\\u003E';
        continue;
      case '&':
        out += '\\u0026';
        continue;
      case '=':
        out += '\\u003D';
        continue;
    }
    if (r < 0x20) out += '\\u00' + r.toString(16).toUpperCase().padStart(2, '0');
    else if (r < 0x80) out += ch;
    else if (isPrint(r)) out += ch;
    else out += '\\u' + r.toString(16).toUpperCase().padStart(4, '0');
  }
  return out;
}

/** url.QueryEscape */
export function queryEscape(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    if (
      (b >= 0x41 && b <= 0x5a) ||
      (b >= 0x61 && b <= 0x7a) ||
      (b >= 0x30 && b <= 0x39) ||
      c === '-' ||
      c === '_' ||
      c === '.' ||
      c === '~'
    )
      out += c;
    else if (c === ' ') out += '+';
    else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

const V = 'reflect.Value';

export function builtins(): FuncMap {
  const m: Record<string, FuncDef> = {
    and: { params: [V], variadic: V, ret: V, fn: () => undefined, special: 'and' },
    or: { params: [V], variadic: V, ret: V, fn: () => undefined, special: 'or' },
    call: { params: [V], variadic: V, ret: V, errReturn: true, fn: () => undefined, special: 'call' },
    html: {
      params: [],
      variadic: 'interface {}',
      ret: 'string',
      fn: (...a: GoValue[]) => htmlEscapeString(evalArgs(a)),
    },
    js: { params: [], variadic: 'interface {}', ret: 'string', fn: (...a: GoValue[]) => jsEscapeString(evalArgs(a)) },
    urlquery: {
      params: [],
      variadic: 'interface {}',
      ret: 'string',
      fn: (...a: GoValue[]) => queryEscape(evalArgs(a)),
    },
    index: { params: [V], variadic: V, ret: V, errReturn: true, fn: index },
    slice: { params: [V], variadic: V, ret: V, errReturn: true, fn: slice },
    len: { params: [V], ret: 'int', errReturn: true, fn: length },
    not: { params: [V], ret: 'bool', fn: (a: GoValue) => !isTrue(ii(a)) },
    print: { params: [], variadic: 'interface {}', ret: 'string', fn: (...a: GoValue[]) => sprint(a) },
    printf: {
      params: ['string'],
      variadic: 'interface {}',
      ret: 'string',
      fn: (f: string, ...a: GoValue[]) => sprintf(f, a),
    },
    println: { params: [], variadic: 'interface {}', ret: 'string', fn: (...a: GoValue[]) => sprintln(a) },
    eq: { params: [V], variadic: V, ret: 'bool', errReturn: true, fn: eq },
    ne: { params: [V, V], ret: 'bool', errReturn: true, fn: (a: GoValue, b: GoValue) => !eq(a, b) },
    lt: { params: [V, V], ret: 'bool', errReturn: true, fn: lt },
    le: { params: [V, V], ret: 'bool', errReturn: true, fn: le },
    gt: { params: [V, V], ret: 'bool', errReturn: true, fn: (a: GoValue, b: GoValue) => !le(a, b) },
    ge: { params: [V, V], ret: 'bool', errReturn: true, fn: (a: GoValue, b: GoValue) => !lt(a, b) },
  };
  return m;
}

export { FuncError };
