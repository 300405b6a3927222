// Conversions sprig relies on: spf13/cast (ToInt64, ToInt, ToFloat64), sprig's strval/strslice,
// empty() and reflect.DeepEqual.
import { formatValue } from '../fmt.ts';
import { floatToInt64, parseFloatGo, parseIntGo } from '../strconv.ts';
import type { GoMap, GoValue } from '../values.ts';
import { GoComplex, GoInt, GoStruct, isPlainMap, mapType, sliceType, tagArray, typeOf, UINT_TYPES } from '../values.ts';

function trimZeroDecimal(s: string): string {
  let foundZero = false;
  for (let i = s.length; i > 0; i--) {
    switch (s[i - 1]) {
      case '.':
        if (foundZero) return s.slice(0, i - 1);
        break;
      case '0':
        foundZero = true;
        break;
      default:
        return s;
    }
  }
  return s;
}

/** cast.ToInt64 (errors → 0). */
export function toInt64(v: GoValue): bigint {
  switch (typeof v) {
    case 'bigint':
      return v;
    case 'number':
      return floatToInt64(v);
    case 'string': {
      const r = parseIntGo(trimZeroDecimal(v), 0, 64);
      return r.err ? 0n : r.value!;
    }
    case 'boolean':
      return v ? 1n : 0n;
  }
  if (v instanceof GoInt) return BigInt.asIntN(64, v.v);
  return 0n;
}

/** cast.ToInt */
export function toInt(v: GoValue): GoInt {
  return new GoInt('int', toInt64(v));
}

/** cast.ToFloat64 (errors → 0). */
export function toFloat64(v: GoValue): number {
  switch (typeof v) {
    case 'number':
      return v;
    case 'bigint':
      return Number(v);
    case 'string': {
      const f = parseFloatGo(v);
      return f === undefined ? 0 : f;
    }
    case 'boolean':
      return v ? 1 : 0;
  }
  if (v instanceof GoInt) return Number(v.v);
  return 0;
}

/** sprig strval: strings as is, errors and Stringers through their methods, else %v. */
export function strval(v: GoValue): string {
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && sliceType(v) === '[]uint8')
    return Buffer.from(v.map((b) => Number((b as GoInt).v))).toString('utf8');
  if (v instanceof GoStruct) {
    const e = v.errorText();
    if (e !== undefined) return e;
    const s = v.stringer();
    if (s !== undefined) return s;
  }
  return formatValue(v === undefined ? null : v);
}

/** sprig strslice: []string of a list (nil elements dropped), or [strval(v)]. */
export function strslice(v: GoValue): string[] {
  if (Array.isArray(v)) {
    if (sliceType(v) === '[]string') return v as string[];
    const out: string[] = [];
    for (const e of v) if (e !== null && e !== undefined) out.push(strval(e));
    return out;
  }
  if (v === null || v === undefined) return [];
  return [strval(v)];
}

export function stringList(a: string[]): GoValue[] {
  return tagArray(a as GoValue[], '[]string');
}

/** sprig empty(): the zero value of its type. */
export function empty(v: GoValue): boolean {
  switch (typeof v) {
    case 'string':
      return v.length === 0;
    case 'boolean':
      return !v;
    case 'number':
      return v === 0;
    case 'bigint':
      return v === 0n;
    case 'undefined':
      return true;
  }
  if (v === null) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (v instanceof GoInt) return v.v === 0n;
  if (v instanceof GoComplex) return v.re === 0 && v.im === 0;
  if (v instanceof GoStruct) return false;
  if (isPlainMap(v)) return Object.keys(v).length === 0;
  return false;
}

/** reflect.DeepEqual */
export function deepEqual(a: GoValue, b: GoValue): boolean {
  if (a === undefined) a = null;
  if (b === undefined) b = null;
  if (a === null || b === null) return a === b;
  if (typeOf(a) !== typeOf(b)) return false;
  switch (typeof a) {
    case 'string':
    case 'boolean':
    case 'bigint':
      return a === b;
    case 'number':
      return a === b;
  }
  if (a instanceof GoInt) return a.v === (b as GoInt).v;
  if (a instanceof GoComplex) return a.re === (b as GoComplex).re && a.im === (b as GoComplex).im;
  if (Array.isArray(a)) {
    const bb = b as GoValue[];
    if (a.length !== bb.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], bb[i])) return false;
    return true;
  }
  if (a instanceof GoStruct) {
    const deq = (a as { deepEqual?: (o: GoStruct) => boolean }).deepEqual;
    if (deq) return deq.call(a, b as GoStruct);
    const fa = a.fields();
    const fb = (b as GoStruct).fields();
    return fa.length === fb.length && fa.every(([k, v], i) => fb[i][0] === k && deepEqual(v, fb[i][1]));
  }
  if (isPlainMap(a)) {
    const ma = a;
    const mb = b as GoMap;
    if (mapType(ma) !== mapType(mb)) return false;
    const ka = Object.keys(ma);
    if (ka.length !== Object.keys(mb).length) return false;
    for (const k of ka) {
      if (!Object.prototype.hasOwnProperty.call(mb, k)) return false;
      if (!deepEqual(ma[k], mb[k])) return false;
    }
    return true;
  }
  return a === b;
}

export function isUintValue(v: GoValue): boolean {
  return v instanceof GoInt && UINT_TYPES.has(v.t);
}
