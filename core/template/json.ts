// JSON in and out of the Go value model:
//   parseJSON   — data decoding with the Kubernetes rule: integer literals → int64 (bigint),
//                 other numbers → float64 (number); objects → map[string]interface{}.
//   unmarshal   — encoding/json.Unmarshal into interface{} (every number float64), Go error texts.
//   marshal     — encoding/json.Marshal / MarshalIndent / Encoder with SetEscapeHTML(false).
import { formatFloat, quoteGo } from './strconv.ts';
import type { GoMap, GoValue } from './values.ts';
import {
  GO_CAP,
  appendCap,
  GoComplex,
  GoFunc,
  GoInt,
  GoStruct,
  isNilContainer,
  isPlainMap,
  mapSet,
  newMap,
  sliceType,
  sortedKeys,
  typeOf,
} from './values.ts';

export class JSONSyntaxError extends Error {}

function quoteChar(c: string): string {
  if (c === "'") return `'\\''`;
  if (c === '"') return `'"'`;
  const q = quoteGo(c);
  return "'" + q.slice(1, -1) + "'";
}

class Decoder {
  s: string;
  i = 0;
  ints: boolean;
  constructor(s: string, ints: boolean) {
    this.s = s;
    this.ints = ints;
  }
  err(ctx: string): never {
    if (this.i >= this.s.length) throw new JSONSyntaxError('unexpected end of JSON input');
    const c = String.fromCodePoint(this.s.codePointAt(this.i)!);
    throw new JSONSyntaxError(`invalid character ${quoteChar(c)} ${ctx}`);
  }
  ws(): void {
    const s = this.s;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) this.i++;
      else break;
    }
  }
  value(ctx = 'looking for beginning of value'): GoValue {
    this.ws();
    const s = this.s;
    if (this.i >= s.length) throw new JSONSyntaxError('unexpected end of JSON input');
    const c = s[this.i];
    switch (c) {
      case '{':
        return this.object();
      case '[':
        return this.array();
      case '"':
        return this.string();
      case 't':
        return this.literal('true', true);
      case 'f':
        return this.literal('false', false);
      case 'n':
        return this.literal('null', null);
    }
    if (c === '-' || (c >= '0' && c <= '9')) return this.number();
    this.err(ctx);
  }
  literal(word: string, v: GoValue): GoValue {
    for (let k = 0; k < word.length; k++) {
      if (this.i >= this.s.length) throw new JSONSyntaxError('unexpected end of JSON input');
      if (this.s[this.i] !== word[k]) this.err(`in literal ${word} (expecting ${quoteChar(word[k])})`);
      this.i++;
    }
    return v;
  }
  number(): GoValue {
    const s = this.s;
    const start = this.i;
    if (s[this.i] === '-') this.i++;
    if (this.i >= s.length) throw new JSONSyntaxError('unexpected end of JSON input');
    if (s[this.i] === '0') this.i++;
    else if (s[this.i] >= '1' && s[this.i] <= '9')
      while (this.i < s.length && s[this.i] >= '0' && s[this.i] <= '9') this.i++;
    else this.err('in numeric literal');
    let isInt = true;
    if (s[this.i] === '.') {
      isInt = false;
      this.i++;
      if (this.i >= s.length) throw new JSONSyntaxError('unexpected end of JSON input');
      if (!(s[this.i] >= '0' && s[this.i] <= '9')) this.err('after decimal point in numeric literal');
      while (this.i < s.length && s[this.i] >= '0' && s[this.i] <= '9') this.i++;
    }
    if (s[this.i] === 'e' || s[this.i] === 'E') {
      isInt = false;
      this.i++;
      if (s[this.i] === '+' || s[this.i] === '-') this.i++;
      if (this.i >= s.length) throw new JSONSyntaxError('unexpected end of JSON input');
      if (!(s[this.i] >= '0' && s[this.i] <= '9')) this.err('in exponent of numeric literal');
      while (this.i < s.length && s[this.i] >= '0' && s[this.i] <= '9') this.i++;
    }
    const text = s.slice(start, this.i);
    if (this.ints && isInt) {
      const b = BigInt(text);
      if (b >= -9223372036854775808n && b <= 9223372036854775807n) return b;
    }
    return Number(text);
  }
  string(): string {
    const s = this.s;
    this.i++; // opening quote
    let out = '';
    let start = this.i;
    for (;;) {
      if (this.i >= s.length) throw new JSONSyntaxError('unexpected end of JSON input');
      const c = s.charCodeAt(this.i);
      if (c === 0x22) {
        out += s.slice(start, this.i);
        this.i++;
        return out;
      }
      if (c < 0x20) this.err('in string literal');
      if (c === 0x5c) {
        out += s.slice(start, this.i);
        this.i++;
        if (this.i >= s.length) throw new JSONSyntaxError('unexpected end of JSON input');
        const e = s[this.i];
        switch (e) {
          case '"':
          case '\\':
          case '/':
            out += e;
            this.i++;
            break;
          case 'b':
            out += '\b';
            this.i++;
            break;
          case 'f':
            out += '\f';
            this.i++;
            break;
          case 'n':
            out += '\n';
            this.i++;
            break;
          case 'r':
            out += '\r';
            this.i++;
            break;
          case 't':
            out += '\t';
            this.i++;
            break;
          case 'u': {
            this.i++;
            const hex = s.slice(this.i, this.i + 4);
            for (let k = 0; k < 4; k++) {
              if (this.i >= s.length) throw new JSONSyntaxError('unexpected end of JSON input');
              if (!/[0-9a-fA-F]/.test(s[this.i])) this.err('in \\u hexadecimal character escape');
              this.i++;
            }
            out += String.fromCharCode(parseInt(hex, 16));
            break;
          }
          default:
            this.err('in string escape code');
        }
        start = this.i;
        continue;
      }
      this.i++;
    }
  }
  object(): GoMap {
    this.i++;
    const m = newMap();
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return m;
    }
    for (;;) {
      this.ws();
      if (this.i >= this.s.length) throw new JSONSyntaxError('unexpected end of JSON input');
      if (this.s[this.i] !== '"') this.err('looking for beginning of object key string');
      const k = this.string();
      this.ws();
      if (this.s[this.i] !== ':') this.err('after object key');
      this.i++;
      mapSet(m, k, this.value());
      this.ws();
      if (this.s[this.i] === ',') {
        this.i++;
        continue;
      }
      if (this.s[this.i] === '}') {
        this.i++;
        return m;
      }
      this.err('after object key:value pair');
    }
  }
  array(): GoValue[] {
    this.i++;
    const a: GoValue[] = [];
    this.ws();
    if (this.s[this.i] === ']') {
      this.i++;
      return a;
    }
    for (;;) {
      a.push(this.value());
      this.ws();
      if (this.s[this.i] === ',') {
        this.i++;
        continue;
      }
      if (this.s[this.i] === ']') {
        this.i++;
        if (this.ints) Object.defineProperty(a, GO_CAP, { value: appendCap(a.length), enumerable: false });
        return a;
      }
      this.err('after array element');
    }
  }
  top(): GoValue {
    const v = this.value();
    this.ws();
    if (this.i < this.s.length) this.err('after top-level value');
    return v;
  }
}

/** Decodes data JSON: integer literals → int64 (bigint), other numbers → float64. */
export function parseJSON(text: string): GoValue {
  return new Decoder(text, true).top();
}

/** encoding/json.Unmarshal into interface{} (numbers are float64). Throws JSONSyntaxError. */
export function unmarshal(text: string): GoValue {
  return new Decoder(text, false).top();
}

/** Converts plain JS data to the Go value model (identity for values already in it). */
export function fromJS(v: unknown): GoValue {
  return v as GoValue;
}

// ---- Marshal ------------------------------------------------------------------------------------

export class JSONMarshalError extends Error {}

const HEX = '0123456789abcdef';

function encodeString(s: string, escapeHTML: boolean): string {
  let out = '"';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let rep: string | null = null;
    if (c < 0x20 || c === 0x22 || c === 0x5c || (escapeHTML && (c === 0x3c || c === 0x3e || c === 0x26))) {
      switch (c) {
        case 0x22:
          rep = '\\"';
          break;
        case 0x5c:
          rep = '\\\\';
          break;
        case 0x0a:
          rep = '\\n';
          break;
        case 0x0d:
          rep = '\\r';
          break;
        case 0x09:
          rep = '\\t';
          break;
        case 0x08:
          rep = '\\b';
          break;
        case 0x0c:
          rep = '\\f';
          break;
        default:
          rep = '\\u00' + HEX[c >> 4] + HEX[c & 0xf];
      }
    } else if (c === 0x2028 || c === 0x2029) {
      rep = '\\u202' + HEX[c & 0xf];
    } else if (c >= 0xd800 && c < 0xe000) {
      // lone surrogates are invalid UTF-8 in Go → \ufffd
      const hi = c < 0xdc00 && i + 1 < s.length && s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) < 0xe000;
      if (hi) {
        i++;
        continue;
      }
      rep = '\ufffd';
    }
    if (rep !== null) {
      out += s.slice(start, i) + rep;
      start = i + 1;
    }
  }
  return out + s.slice(start) + '"';
}

function encodeFloat(f: number): string {
  if (!Number.isFinite(f)) throw new JSONMarshalError(`json: unsupported value: ${formatFloat(f, 'g', -1)}`);
  const abs = Math.abs(f);
  let fmt = 'f';
  if (abs !== 0 && (abs < 1e-6 || abs >= 1e21)) fmt = 'e';
  let s = formatFloat(f, fmt, -1);
  if (fmt === 'e') {
    const n = s.length;
    if (n >= 4 && s[n - 4] === 'e' && s[n - 3] === '-' && s[n - 2] === '0') s = s.slice(0, n - 2) + s.slice(n - 1);
  }
  return s;
}

export interface MarshalOptions {
  indent?: string;
  escapeHTML?: boolean;
}

export function marshal(v: GoValue, opts: MarshalOptions = {}): string {
  const escapeHTML = opts.escapeHTML ?? true;
  const indent = opts.indent ?? '';
  const enc = (x: GoValue, depth: number): string => {
    if (x === undefined || x === null) return 'null';
    switch (typeof x) {
      case 'string':
        return encodeString(x, escapeHTML);
      case 'boolean':
        return x ? 'true' : 'false';
      case 'number':
        return encodeFloat(x);
      case 'bigint':
        return x.toString();
    }
    if (x instanceof GoInt) return x.v.toString();
    if (x instanceof GoComplex) throw new JSONMarshalError('json: unsupported type: complex128');
    if (x instanceof GoFunc) throw new JSONMarshalError(`json: unsupported type: ${x.goType}`);
    const nl = indent ? '\n' + indent.repeat(depth + 1) : '';
    const nlEnd = indent ? '\n' + indent.repeat(depth) : '';
    if (Array.isArray(x)) {
      if (isNilContainer(x)) return 'null';
      if (sliceType(x) === '[]uint8')
        return '"' + Buffer.from(x.map((b) => Number((b as GoInt).v))).toString('base64') + '"';
      if (x.length === 0) return '[]';
      return '[' + x.map((e) => nl + enc(e, depth + 1)).join(',') + nlEnd + ']';
    }
    if (x instanceof GoStruct) {
      const custom = (x as { marshalJSON?: () => string }).marshalJSON;
      if (custom) return custom.call(x);
      const fields = x.fields();
      if (fields.length === 0) return '{}';
      return (
        '{' +
        fields.map(([k, e]) => nl + encodeString(k, escapeHTML) + (indent ? ': ' : ':') + enc(e, depth + 1)).join(',') +
        nlEnd +
        '}'
      );
    }
    if (isPlainMap(x)) {
      const m = x;
      if (isNilContainer(m)) return 'null';
      const keys = sortedKeys(m);
      if (keys.length === 0) return '{}';
      return (
        '{' +
        keys.map((k) => nl + encodeString(k, escapeHTML) + (indent ? ': ' : ':') + enc(m[k], depth + 1)).join(',') +
        nlEnd +
        '}'
      );
    }
    throw new JSONMarshalError(`json: unsupported type: ${typeOf(x)}`);
  };
  return enc(v, 0);
}
