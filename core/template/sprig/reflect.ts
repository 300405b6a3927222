// sprig reflection functions (reflect.go) and reflect.DeepEqual.
import { fn } from '../functions.ts';
import type { FuncMap } from '../functions.ts';
import type { GoValue } from '../values.ts';
import { GoInt, GoStruct, kindOf, typeOf } from '../values.ts';
import { deepEqual } from './cast.ts';

const A = 'interface {}';

/** fmt %T of an interface{} value. */
export function typeName(v: GoValue): string {
  return v === null || v === undefined ? '<nil>' : typeOf(v);
}

/** reflect.ValueOf(v).Kind().String() */
export function kindName(v: GoValue): string {
  if (v === null || v === undefined) return 'invalid';
  if (typeof v === 'bigint') return 'int64';
  if (typeof v === 'number') return 'float64';
  if (v instanceof GoInt) return v.t;
  if (v instanceof GoStruct) return v.isPointer ? 'ptr' : 'struct';
  const k = kindOf(v);
  return k === 'complex' ? 'complex128' : k;
}

export function reflectFuncs(): FuncMap {
  return {
    typeOf: fn([A], 'string', typeName),
    typeIs: fn(['string', A], 'bool', (t: string, v: GoValue) => t === typeName(v)),
    typeIsLike: fn(['string', A], 'bool', (t: string, v: GoValue) => {
      const n = typeName(v);
      return t === n || '*' + t === n;
    }),
    kindOf: fn([A], 'string', kindName),
    kindIs: fn(['string', A], 'bool', (t: string, v: GoValue) => t === kindName(v)),
    deepEqual: fn([A, A], 'bool', deepEqual),
  };
}
