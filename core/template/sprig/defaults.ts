// sprig defaults and JSON functions (defaults.go).
import { FuncError } from '../errors.ts';
import { fn } from '../functions.ts';
import type { FuncMap } from '../functions.ts';
import { JSONMarshalError, marshal, unmarshal } from '../json.ts';
import type { GoValue } from '../values.ts';
import { empty } from './cast.ts';
import { deepCopy } from './dicts.ts';

const A = 'interface {}';

function toJSON(v: GoValue, opts: { indent?: string; escapeHTML?: boolean }): string {
  try {
    return marshal(v, opts);
  } catch (e) {
    if (e instanceof JSONMarshalError) throw new FuncError(e.message);
    throw e;
  }
}

function quiet(f: () => string): string {
  try {
    return f();
  } catch (e) {
    if (e instanceof FuncError) return '';
    throw e;
  }
}

function fromJSON(s: string): GoValue {
  try {
    return unmarshal(s);
  } catch (e) {
    throw new FuncError((e as Error).message);
  }
}

export function defaultFuncs(): FuncMap {
  return {
    default: fn([A], A, (d: GoValue, ...given: GoValue[]) => (given.length === 0 || empty(given[0]) ? d : given[0]), {
      variadic: A,
    }),
    empty: fn([A], 'bool', empty),
    coalesce: fn([], A, (...v: GoValue[]) => v.find((x) => !empty(x)) ?? null, { variadic: A }),
    all: fn([], 'bool', (...v: GoValue[]) => v.every((x) => !empty(x)), { variadic: A }),
    any: fn([], 'bool', (...v: GoValue[]) => v.some((x) => !empty(x)), { variadic: A }),
    fromJson: fn(['string'], A, (s: string) => {
      try {
        return unmarshal(s);
      } catch {
        return null;
      }
    }),
    mustFromJson: fn(['string'], A, fromJSON, { errReturn: true }),
    toJson: fn([A], 'string', (v: GoValue) => quiet(() => toJSON(v, {}))),
    toPrettyJson: fn([A], 'string', (v: GoValue) => quiet(() => toJSON(v, { indent: '  ' }))),
    toRawJson: fn([A], 'string', (v: GoValue) => toJSON(v, { escapeHTML: false })),
    mustToJson: fn([A], 'string', (v: GoValue) => toJSON(v, {}), { errReturn: true }),
    mustToPrettyJson: fn([A], 'string', (v: GoValue) => toJSON(v, { indent: '  ' }), { errReturn: true }),
    mustToRawJson: fn([A], 'string', (v: GoValue) => toJSON(v, { escapeHTML: false }), { errReturn: true }),
    ternary: fn([A, A, 'bool'], A, (vt: GoValue, vf: GoValue, v: boolean) => (v ? vt : vf)),
  };
}

export { deepCopy };
