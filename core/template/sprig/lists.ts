// sprig list functions (list.go).
import { FuncError } from '../errors.ts';
import { fn } from '../functions.ts';
import type { FuncDef, FuncMap } from '../functions.ts';
import type { GoValue } from '../values.ts';
import { GoInt, GoStruct, kindOf, nilSlice, sliceType, tagArray, typeOf } from '../values.ts';
import { deepEqual, empty, strslice, strval, toInt64, stringList } from './cast.ts';
import { compareStrings } from '../values.ts';

const A = 'interface {}';
const L = '[]interface {}';

/** reflect.Kind name of a value, as sprig's error messages print it. */
export function reflectKind(v: GoValue): string {
  if (v === undefined || v === null)
    throw new FuncError('runtime error: invalid memory address or nil pointer dereference');
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return 'float64';
  if (typeof v === 'bigint') return 'int64';
  if (v instanceof GoInt) return v.t;
  if (v instanceof GoStruct) return v.isPointer ? 'ptr' : 'struct';
  const k = kindOf(v);
  if (k === 'complex') return 'complex128';
  return k;
}

function asList(v: GoValue, what: string): GoValue[] {
  const k = reflectKind(v);
  if (k !== 'slice') throw new FuncError(`${what} ${k}`);
  return v as GoValue[];
}

function inList(haystack: GoValue[], needle: GoValue): boolean {
  for (const h of haystack) if (deepEqual(needle, h)) return true;
  return false;
}

function push(list: GoValue, v: GoValue): GoValue[] {
  return [...asList(list, 'Cannot push on type'), v];
}
function prepend(list: GoValue, v: GoValue): GoValue[] {
  return [v, ...asList(list, 'Cannot prepend on type')];
}
function chunk(size: GoInt, list: GoValue): GoValue[] {
  const l = asList(list, 'Cannot chunk type');
  const s = Number(size.v);
  const len = l.length;
  const cs = Math.floor((len - 1) / s) + 1;
  if (!Number.isFinite(cs) || cs < 0) throw new FuncError(`runtime error: makeslice: len out of range`);
  const out: GoValue[] = [];
  for (let i = 0; i < cs; i++) {
    let clen = s;
    if (i === cs - 1) {
      clen = Math.floor(len % s);
      if (clen === 0) clen = s;
    }
    const part: GoValue[] = [];
    for (let j = 0; j < clen; j++) {
      const ix = i * s + j;
      if (ix >= len) throw new FuncError(`reflect: slice index out of range`);
      part.push(l[ix]);
    }
    out.push(part);
  }
  return tagArray(out, '[][]interface {}');
}
function last(list: GoValue): GoValue {
  const l = asList(list, 'Cannot find last on type');
  return l.length === 0 ? null : l[l.length - 1];
}
function first(list: GoValue): GoValue {
  const l = asList(list, 'Cannot find first on type');
  return l.length === 0 ? null : l[0];
}
function rest(list: GoValue): GoValue[] {
  const l = asList(list, 'Cannot find rest on type');
  return l.length === 0 ? nilSlice() : l.slice(1);
}
function initial(list: GoValue): GoValue[] {
  const l = asList(list, 'Cannot find initial on type');
  return l.length === 0 ? nilSlice() : l.slice(0, -1);
}
function reverse(v: GoValue): GoValue[] {
  return [...asList(v, 'Cannot find reverse on type')].reverse();
}
function compact(list: GoValue): GoValue[] {
  return asList(list, 'Cannot compact on type').filter((x) => !empty(x));
}
function uniq(list: GoValue): GoValue[] {
  const dest: GoValue[] = [];
  for (const item of asList(list, 'Cannot find uniq on type')) if (!inList(dest, item)) dest.push(item);
  return dest;
}
function without(list: GoValue, ...omit: GoValue[]): GoValue[] {
  return asList(list, 'Cannot find without on type').filter((item) => !inList(omit, item));
}
function has(needle: GoValue, haystack: GoValue): boolean {
  if (haystack === null || haystack === undefined) return false;
  const l = asList(haystack, 'Cannot find has on type');
  return inList(l, needle);
}
function slice(list: GoValue, ...indices: GoValue[]): GoValue {
  const k = reflectKind(list);
  if (k !== 'slice') throw new FuncError(`list should be type of slice or array but ${k}`);
  const l = list as GoValue[];
  if (l.length === 0) return null;
  const start = indices.length > 0 ? Number(toInt64(indices[0])) : 0;
  const end = indices.length < 2 ? l.length : Number(toInt64(indices[1]));
  if (start < 0 || end < start || end > l.length) throw new FuncError('reflect.Value.Slice: slice index out of bounds');
  return tagArray(l.slice(start, end), sliceType(l));
}
function concat(...lists: GoValue[]): GoValue {
  const res: GoValue[] = [];
  for (const list of lists) {
    const k = reflectKind(list);
    if (k !== 'slice') throw new FuncError(`Cannot concat type ${k} as list`);
    res.push(...(list as GoValue[]));
  }
  return res.length === 0 ? nilSlice() : res;
}
function sortAlpha(list: GoValue): GoValue {
  if (Array.isArray(list)) return stringList(strslice(list).slice().sort(compareStrings));
  return stringList([strval(list === undefined ? null : list)]);
}

function must<T extends FuncDef['fn']>(f: T): T {
  return f;
}

export function listFuncs(): FuncMap {
  const m: FuncMap = {
    list: fn([], L, (...v: GoValue[]) => v, { variadic: A }),
    tuple: fn([], L, (...v: GoValue[]) => v, { variadic: A }),
    append: fn([A, A], L, push),
    push: fn([A, A], L, push),
    mustAppend: fn([A, A], L, push, { errReturn: true }),
    mustPush: fn([A, A], L, push, { errReturn: true }),
    prepend: fn([A, A], L, prepend),
    mustPrepend: fn([A, A], L, prepend, { errReturn: true }),
    first: fn([A], A, first),
    mustFirst: fn([A], A, first, { errReturn: true }),
    rest: fn([A], L, rest),
    mustRest: fn([A], L, rest, { errReturn: true }),
    last: fn([A], A, last),
    mustLast: fn([A], A, last, { errReturn: true }),
    initial: fn([A], L, initial),
    mustInitial: fn([A], L, initial, { errReturn: true }),
    reverse: fn([A], L, reverse),
    mustReverse: fn([A], L, reverse, { errReturn: true }),
    uniq: fn([A], L, uniq),
    mustUniq: fn([A], L, uniq, { errReturn: true }),
    without: fn([A], L, without, { variadic: A }),
    mustWithout: fn([A], L, without, { variadic: A, errReturn: true }),
    has: fn([A, A], 'bool', has),
    mustHas: fn([A, A], 'bool', has, { errReturn: true }),
    slice: fn([A], A, slice, { variadic: A }),
    mustSlice: fn([A], A, slice, { variadic: A, errReturn: true }),
    concat: fn([], A, concat, { variadic: A }),
    chunk: fn(['int', A], '[][]interface {}', chunk),
    mustChunk: fn(['int', A], '[][]interface {}', chunk, { errReturn: true }),
    compact: fn([A], L, compact),
    mustCompact: fn([A], L, compact, { errReturn: true }),
    sortAlpha: fn([A], '[]string', must(sortAlpha)),
  };
  return m;
}

export { typeOf };
