// hex.*, urlquery.* (Go net/url escaping: space as '+', only A-Za-z0-9-_.~ unescaped) and base64url.encode_no_pad.
import { type BuiltinTable, fail, typeName, wantString } from './types.ts';

/** Go's url.QueryEscape. */
export function queryEscape(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** Go's url.QueryUnescape; throws on a malformed escape like Go does. */
export function queryUnescape(s: string): string {
  const bytes: number[] = [];
  const src = Buffer.from(s, 'utf8');
  for (let i = 0; i < src.length; i++) {
    const b = src[i];
    if (b === 0x25) {
      const hex = src.subarray(i + 1, i + 3).toString('latin1');
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw new Error(`invalid URL escape ${JSON.stringify('%' + hex)}`);
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (b === 0x2b) {
      bytes.push(0x20);
    } else {
      bytes.push(b);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Go's url.ParseQuery: `&`-separated, `;` is an error, values in order per key. */
export function parseQuery(query: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const part of query.split('&')) {
    if (part === '') continue;
    if (part.includes(';')) throw new Error('invalid semicolon separator in query');
    const eq = part.indexOf('=');
    const key = queryUnescape(eq === -1 ? part : part.slice(0, eq));
    const value = eq === -1 ? '' : queryUnescape(part.slice(eq + 1));
    (out[key] ??= []).push(value);
  }
  return out;
}

/** Go's url.Values.Encode: keys sorted, values in order. */
export function encodeQuery(values: Record<string, string[]>): string {
  return Object.keys(values)
    .sort()
    .flatMap((k) => values[k].map((v) => `${queryEscape(k)}=${queryEscape(v)}`))
    .join('&');
}

function wrap<T>(name: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    return fail(name, (err as Error).message);
  }
}

export const encodingBuiltins: BuiltinTable = {
  'hex.encode': { impl: (_ctx, x: unknown) => Buffer.from(wantString('hex.encode', 1, x), 'utf8').toString('hex') },
  'hex.decode': {
    impl: (_ctx, x: unknown) => {
      const s = wantString('hex.decode', 1, x);
      if (!/^(?:[0-9A-Fa-f]{2})*$/.test(s)) fail('hex.decode', `invalid hex string ${JSON.stringify(s)}`);
      return Buffer.from(s, 'hex').toString('utf8');
    },
  },
  'base64url.encode_no_pad': {
    impl: (_ctx, x: unknown) => Buffer.from(wantString('base64url.encode_no_pad', 1, x), 'utf8').toString('base64url'),
  },
  'urlquery.encode': { impl: (_ctx, x: unknown) => queryEscape(wantString('urlquery.encode', 1, x)) },
  'urlquery.decode': {
    impl: (_ctx, x: unknown) => wrap('urlquery.decode', () => queryUnescape(wantString('urlquery.decode', 1, x))),
  },
  'urlquery.encode_object': {
    impl: (_ctx, obj: unknown) => {
      const name = 'urlquery.encode_object';
      if (obj === null || typeof obj !== 'object' || Array.isArray(obj))
        fail(name, `operand 1 must be object but got ${typeName(obj)}`);
      const values: Record<string, string[]> = {};
      for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
        if (typeof v === 'string') values[k] = [v];
        else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) values[k] = v;
        else fail(name, 'values must be string, array[string], or set[string]');
      }
      return encodeQuery(values);
    },
  },
  'urlquery.decode_object': {
    impl: (_ctx, x: unknown) =>
      wrap('urlquery.decode_object', () => parseQuery(wantString('urlquery.decode_object', 1, x))),
  },
};
