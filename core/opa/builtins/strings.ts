// String built-ins OPA's wasm target lacks: strings.any_prefix_match / any_suffix_match, indexof_n, strings.count.
import { type BuiltinTable, fail, typeName } from './types.ts';

function stringList(name: string, position: number, value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((x) => typeof x === 'string')) return value;
  return fail(
    name,
    `operand ${position} must be one of {string, array[string], set[string]} but got ${typeName(value)}`,
  );
}

function anyAffix(name: string, suffix: boolean) {
  return {
    impl: (_ctx: unknown, search: unknown, base: unknown) => {
      const a = stringList(name, 1, search);
      const b = stringList(name, 2, base);
      return a.some((s) => b.some((p) => (suffix ? s.endsWith(p) : s.startsWith(p))));
    },
  };
}

/** Code-point indexes, as OPA counts string positions in runes. */
function runeIndex(s: string, utf16Index: number): number {
  return Array.from(s.slice(0, utf16Index)).length;
}

export const stringsBuiltins: BuiltinTable = {
  'strings.any_prefix_match': anyAffix('strings.any_prefix_match', false),
  'strings.any_suffix_match': anyAffix('strings.any_suffix_match', true),
  indexof_n: {
    impl: (_ctx, haystack: unknown, needle: unknown) => {
      if (typeof haystack !== 'string' || typeof needle !== 'string') fail('indexof_n', 'operands must be strings');
      const out: number[] = [];
      if (needle === '') return out;
      for (let i = haystack.indexOf(needle); i !== -1; i = haystack.indexOf(needle, i + 1))
        out.push(runeIndex(haystack, i));
      return out;
    },
  },
  'strings.count': {
    impl: (_ctx, search: unknown, substring: unknown) => {
      if (typeof search !== 'string' || typeof substring !== 'string')
        fail('strings.count', 'operands must be strings');
      // Go's strings.Count: non-overlapping; an empty substring counts runes + 1.
      if (substring === '') return Array.from(search).length + 1;
      return search.split(substring).length - 1;
    },
  },
};
