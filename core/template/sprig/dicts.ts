// sprig dict functions (dict.go), mergo's Merge semantics for map[string]interface{}, and
// copystructure's deep copy.
import { FuncError } from '../errors.ts';
import { fn } from '../functions.ts';
import type { FuncMap } from '../functions.ts';
import type { GoMap, GoValue } from '../values.ts';
import {
  GoStruct,
  isNilContainer,
  isPlainMap,
  mapSet,
  mapType,
  newMap,
  sliceType,
  tagArray,
  typeOf,
} from '../values.ts';
import { empty, stringList, strval } from './cast.ts';

const M = 'map[string]interface {}';
const A = 'interface {}';
const S = 'string';

function own(m: GoMap, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(m, k);
}

function isNilish(v: GoValue): boolean {
  if (v === null || v === undefined) return true;
  if (typeof v === 'object' && (Array.isArray(v) || isPlainMap(v))) return isNilContainer(v);
  return false;
}

function isMap(v: GoValue): v is GoMap {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && isPlainMap(v);
}

/** mergo.Merge / MergeWithOverwrite for map[string]interface{} values. */
export function mergeInto(dst: GoMap, src: GoMap, overwrite: boolean): void {
  for (const key of Object.keys(src)) {
    const s = src[key];
    const dValid = own(dst, key);
    const d = dValid ? dst[key] : undefined;
    if (isNilish(s)) {
      if (overwrite) mapSet(dst, key, s);
      continue;
    }
    if (isMap(s) || s instanceof GoStruct) {
      if (isMap(s) && dValid && isMap(d)) mergeInto(d, s, overwrite);
    } else if (Array.isArray(s)) {
      let dstSlice: GoValue = dValid && !isNilish(d) ? d : tagArray([], sliceType(s));
      if (!empty(src) && (overwrite || empty(dst))) dstSlice = s;
      mapSet(dst, key, dstSlice);
    }
    if (dValid && !empty(d)) {
      if (Array.isArray(s)) continue;
      if (isMap(s) && isMap(d)) continue;
    }
    if (overwrite || !dValid || empty(d)) mapSet(dst, key, s);
  }
}

/** copystructure.Copy */
export function deepCopy(v: GoValue): GoValue {
  if (Array.isArray(v)) {
    if (isNilContainer(v)) return v;
    return tagArray(v.map(deepCopy), sliceType(v));
  }
  if (isMap(v)) {
    if (isNilContainer(v)) return v;
    const m = newMap(mapType(v));
    for (const k of Object.keys(v)) mapSet(m, k, deepCopy(v[k]));
    return m;
  }
  return v;
}

function iface(v: GoValue): string {
  return v === null || v === undefined ? 'nil' : typeOf(v);
}

function dig(...ps: GoValue[]): GoValue {
  if (ps.length < 3) throw new FuncError('dig needs at least three arguments');
  const dict = ps[ps.length - 1];
  if (!isMap(dict) || mapType(dict) !== M)
    throw new FuncError(`interface conversion: interface {} is ${iface(dict)}, not map[string]interface {}`);
  const def = ps[ps.length - 2];
  const ks: string[] = [];
  for (let i = 0; i < ps.length - 2; i++) {
    const k = ps[i];
    if (typeof k !== 'string') throw new FuncError(`interface conversion: interface {} is ${iface(k)}, not string`);
    ks.push(k);
  }
  let cur: GoMap = dict;
  for (let i = 0; ; i++) {
    const k = ks[i];
    if (!own(cur, k)) return def;
    const step = cur[k];
    if (i === ks.length - 1) return step;
    if (!isMap(step) || mapType(step) !== M)
      throw new FuncError(`interface conversion: interface {} is ${iface(step)}, not map[string]interface {}`);
    cur = step;
  }
}

export function dictFuncs(): FuncMap {
  return {
    dict: fn(
      [],
      M,
      (...v: GoValue[]) => {
        const d = newMap();
        for (let i = 0; i < v.length; i += 2) {
          const key = strval(v[i] === undefined ? null : v[i]);
          mapSet(d, key, i + 1 >= v.length ? '' : v[i + 1]);
        }
        return d;
      },
      { variadic: A },
    ),
    get: fn([M, S], A, (d: GoMap, key: string) => (own(d, key) ? d[key] : '')),
    set: fn([M, S, A], M, (d: GoMap, key: string, value: GoValue) => {
      if (isNilContainer(d)) throw new FuncError('assignment to entry in nil map');
      mapSet(d, key, value);
      return d;
    }),
    unset: fn([M, S], M, (d: GoMap, key: string) => {
      delete d[key];
      return d;
    }),
    hasKey: fn([M, S], 'bool', (d: GoMap, key: string) => own(d, key)),
    pluck: fn(
      [S],
      '[]interface {}',
      (key: string, ...ds: GoMap[]) => ds.filter((d) => own(d, key)).map((d) => d[key]),
      { variadic: M },
    ),
    keys: fn([], '[]string', (...ds: GoMap[]) => stringList(ds.flatMap((d) => Object.keys(d))), { variadic: M }),
    pick: fn(
      [M],
      M,
      (dict: GoMap, ...keys: string[]) => {
        const res = newMap();
        for (const k of keys) if (own(dict, k)) mapSet(res, k, dict[k]);
        return res;
      },
      { variadic: S },
    ),
    omit: fn(
      [M],
      M,
      (dict: GoMap, ...keys: string[]) => {
        const res = newMap();
        const o = new Set(keys);
        for (const k of Object.keys(dict)) if (!o.has(k)) mapSet(res, k, dict[k]);
        return res;
      },
      { variadic: S },
    ),
    merge: fn(
      [M],
      A,
      (dst: GoMap, ...srcs: GoMap[]) => {
        for (const s of srcs) mergeInto(dst, s, false);
        return dst;
      },
      { variadic: M },
    ),
    mergeOverwrite: fn(
      [M],
      A,
      (dst: GoMap, ...srcs: GoMap[]) => {
        for (const s of srcs) mergeInto(dst, s, true);
        return dst;
      },
      { variadic: M },
    ),
    mustMerge: fn(
      [M],
      A,
      (dst: GoMap, ...srcs: GoMap[]) => {
        for (const s of srcs) mergeInto(dst, s, false);
        return dst;
      },
      { variadic: M, errReturn: true },
    ),
    mustMergeOverwrite: fn(
      [M],
      A,
      (dst: GoMap, ...srcs: GoMap[]) => {
        for (const s of srcs) mergeInto(dst, s, true);
        return dst;
      },
      { variadic: M, errReturn: true },
    ),
    values: fn([M], '[]interface {}', (d: GoMap) => Object.keys(d).map((k) => d[k])),
    deepCopy: fn([A], A, (v: GoValue) => {
      if (v === null || v === undefined)
        throw new FuncError('deepCopy error: reflect: call of reflect.Value.Type on zero Value');
      return deepCopy(v);
    }),
    mustDeepCopy: fn([A], A, (v: GoValue) => (v === null || v === undefined ? null : deepCopy(v)), { errReturn: true }),
    dig: fn([], A, dig, { variadic: A, errReturn: true }),
  };
}
