// sprig string functions (strings.go, goutils, xstrings).
import { randomInt } from 'node:crypto';
import { FuncError } from '../errors.ts';
import { sprintf } from '../fmt.ts';
import { fn } from '../functions.ts';
import type { FuncMap } from '../functions.ts';
import { quoteGo } from '../strconv.ts';
import type { GoValue } from '../values.ts';
import { GoInt, byteLen, byteSlice, newMap, tagArray } from '../values.ts';
import { strslice, strval, stringList, toInt64 } from './cast.ts';
import * as U from './unicode.ts';

const S = 'string';
const I = 'int';
const A = 'interface {}';

function n(v: GoInt): number {
  return Number(v.v);
}

function sliceBounds(s: string, lo: number, hi: number): string {
  const len = byteLen(s);
  if (hi < 0 || hi > len) throw new FuncError(`runtime error: slice bounds out of range [:${hi}] with length ${len}`);
  if (lo < 0 || lo > hi) throw new FuncError(`runtime error: slice bounds out of range [${lo}:${hi}]`);
  return byteSlice(s, lo, hi);
}

export function abbreviateFull(str: string, offset: number, maxWidth: number): string {
  if (str === '') return '';
  if (maxWidth < 4) return '';
  const len = byteLen(str);
  if (len <= maxWidth) return str;
  if (offset > len) offset = len;
  if (len - offset < maxWidth - 3) offset = len - (maxWidth - 3);
  const marker = '...';
  if (offset <= 4) return byteSlice(str, 0, maxWidth - 3) + marker;
  if (maxWidth < 7) return '';
  if (offset + maxWidth - 3 < len) return marker + abbreviateFull(byteSlice(str, offset), 0, maxWidth - 3);
  return marker + byteSlice(str, len - (maxWidth - 3));
}

function wrapCustom(str: string, wrapLength: number, newLineStr: string, wrapLongWords: boolean): string {
  if (str === '') return '';
  if (newLineStr === '') newLineStr = '\n';
  if (wrapLength < 1) wrapLength = 1;
  const b = Buffer.from(str, 'utf8');
  const len = b.length;
  let offset = 0;
  const out: Buffer[] = [];
  const nl = Buffer.from(newLineStr, 'utf8');
  while (len - offset > wrapLength) {
    if (b[offset] === 0x20) {
      offset++;
      continue;
    }
    const end = wrapLength + offset + 1;
    const sub = b.subarray(offset, end);
    const spaceToWrapAt = sub.lastIndexOf(0x20) + offset;
    if (spaceToWrapAt >= offset) {
      out.push(b.subarray(offset, spaceToWrapAt), nl);
      offset = spaceToWrapAt + 1;
    } else if (wrapLongWords) {
      out.push(b.subarray(offset, wrapLength + offset), nl);
      offset += wrapLength;
    } else {
      const e = wrapLength + offset;
      const index = b.subarray(e).indexOf(0x20);
      if (index === -1) {
        out.push(b.subarray(offset));
        offset = len;
      } else {
        const at = index + e;
        out.push(b.subarray(offset, at), nl);
        offset = at + 1;
      }
    }
  }
  out.push(b.subarray(offset));
  return Buffer.concat(out).toString('utf8');
}

function title(s: string): string {
  let prev = 0x20;
  return U.mapRunes(s, (r) => {
    const sep = isSeparator(prev);
    prev = r;
    return sep ? U.toTitle(r) : r;
  });
}

function isSeparator(r: number): boolean {
  if (r <= 0x7f) {
    if ((r >= 0x30 && r <= 0x39) || (r >= 0x61 && r <= 0x7a) || (r >= 0x41 && r <= 0x5a) || r === 0x5f) return false;
    return true;
  }
  if (U.isLetter(r) || U.isDigit(r)) return false;
  return U.isSpace(r);
}

function uncapitalize(s: string): string {
  if (s === '') return s;
  let next = true;
  return U.mapRunes(s, (r) => {
    if (U.isSpace(r)) {
      next = true;
      return r;
    }
    if (next) {
      next = false;
      return U.toLower(r);
    }
    return r;
  });
}

function swapCase(s: string): string {
  let whitespace = true;
  return U.mapRunes(s, (r) => {
    if (U.isUpper(r) || U.isTitle(r)) {
      whitespace = false;
      return U.toLower(r);
    }
    if (U.isLower(r)) {
      if (whitespace) {
        whitespace = false;
        return U.toTitle(r);
      }
      return U.toUpper(r);
    }
    whitespace = U.isSpace(r);
    return r;
  });
}

function initials(s: string): string {
  if (s === '') return s;
  let out = '';
  let lastWasGap = true;
  for (const b of U.bytesAsRunes(s)) {
    if (U.isSpace(b)) lastWasGap = true;
    else if (lastWasGap) {
      out += String.fromCodePoint(b);
      lastWasGap = false;
    }
  }
  return out;
}

function deleteWhiteSpace(s: string): string {
  if (s === '') return s;
  const bs = U.bytesAsRunes(s);
  let out = '';
  let count = 0;
  for (const b of bs) {
    if (!U.isSpace(b)) {
      out += String.fromCodePoint(b);
      count++;
    }
  }
  return count === bs.length ? s : out;
}

// ---- xstrings camel/snake case

function isConnector(r: number): boolean {
  return r === 0x2d || r === 0x5f || U.isSpace(r);
}

function isAlphabet(r: number): boolean {
  if (!U.isLetter(r)) return false;
  if (r < 0x2e80) return true;
  return !/^[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]$/u.test(String.fromCodePoint(r));
}

function toPascalCase(str: string): string {
  if (str.length === 0) return '';
  const rs = U.runes(str);
  let out = '';
  let i = 0;
  let r0 = 0;
  let isFirstRuneUpper = false;
  let consumed = false;
  while (i < rs.length) {
    r0 = rs[i++];
    consumed = true;
    if (!isConnector(r0)) {
      isFirstRuneUpper = U.isUpper(r0);
      r0 = U.toUpper(r0);
      break;
    }
    out += String.fromCodePoint(r0);
  }
  if (i >= rs.length) {
    if (consumed) out += String.fromCodePoint(r0);
    return out;
  }
  while (i < rs.length) {
    const r1 = r0;
    r0 = rs[i++];
    if (isConnector(r0) && isConnector(r1)) {
      out += String.fromCodePoint(r1);
      continue;
    }
    if (isConnector(r1)) {
      isFirstRuneUpper = U.isUpper(r0);
      r0 = U.toUpper(r0);
    } else {
      if (isFirstRuneUpper) {
        if (U.isUpper(r0)) r0 = U.toLower(r0);
        else isFirstRuneUpper = false;
      }
      out += String.fromCodePoint(r1);
    }
  }
  out += String.fromCodePoint(r0);
  return out;
}

const INVALID = 0;
const NUMBER = 1;
const UPPER = 2;
const ALPHA = 3;
const CONNECTOR = 4;
const PUNCT = 5;
const OTHER = 6;

function nextWord(rs: number[], start: number): [number, number, number] {
  // returns [wordType, wordEnd, remainingStart] (word = rs[start:wordEnd])
  if (start >= rs.length) return [INVALID, start, start];
  let off = start;
  const r = rs[off++];
  let rem = off;
  if (isConnector(r)) {
    while (rem < rs.length && isConnector(rs[rem])) rem++;
    return [CONNECTOR, rem, rem];
  }
  if (U.isPunct(r)) {
    while (rem < rs.length && U.isPunct(rs[rem])) rem++;
    return [PUNCT, rem, rem];
  }
  if (U.isUpper(r)) {
    if (rem >= rs.length) return [UPPER, rem, rem];
    const cur = rs[rem];
    if (U.isUpper(cur)) {
      let end = rem + 1;
      let prevEnd = rem;
      while (end < rs.length && U.isUpper(rs[end])) {
        prevEnd = end;
        end++;
      }
      if (end < rs.length && isAlphabet(rs[end])) {
        end = prevEnd;
      }
      return [UPPER, end, end];
    }
    if (isAlphabet(cur)) {
      let end = rem + 1;
      while (end < rs.length && isAlphabet(rs[end]) && !U.isUpper(rs[end])) end++;
      return [UPPER, end, end];
    }
    return [UPPER, rem, rem];
  }
  if (isAlphabet(r)) {
    while (rem < rs.length && isAlphabet(rs[rem]) && !U.isUpper(rs[rem])) rem++;
    return [ALPHA, rem, rem];
  }
  if (U.isNumber(r)) {
    while (rem < rs.length && U.isNumber(rs[rem])) rem++;
    return [NUMBER, rem, rem];
  }
  while (rem < rs.length) {
    const x = rs[rem];
    if (isConnector(x) || isAlphabet(x) || U.isNumber(x) || U.isPunct(x)) break;
    rem++;
  }
  return [OTHER, rem, rem];
}

function camelCaseToLowerCase(str: string, connector: string): string {
  if (str.length === 0) return '';
  const rs = U.runes(str);
  let out = '';
  const toLowerW = (wt: number, a: number, b: number): void => {
    if (wt !== UPPER && wt !== CONNECTOR) {
      out += U.fromRunes(rs.slice(a, b));
      return;
    }
    for (let k = a; k < b; k++) {
      const r = rs[k];
      if (isConnector(r)) out += connector;
      else if (U.isUpper(r)) out += String.fromCodePoint(U.toLower(r));
      else out += String.fromCodePoint(r);
    }
  };
  let ws = 0;
  let [wt, we, rem] = nextWord(rs, 0);
  while (rem < rs.length) {
    if (wt !== CONNECTOR) toLowerW(wt, ws, we);
    const prev = wt;
    const lastS = ws;
    const lastE = we;
    ws = rem;
    [wt, we, rem] = nextWord(rs, rem);
    switch (prev) {
      case NUMBER:
        while (wt === ALPHA || wt === NUMBER) {
          toLowerW(wt, ws, we);
          ws = rem;
          [wt, we, rem] = nextWord(rs, rem);
        }
        if (wt !== INVALID && wt !== PUNCT && wt !== CONNECTOR) out += connector;
        break;
      case CONNECTOR:
        toLowerW(prev, lastS, lastE);
        break;
      case PUNCT:
        break;
      default: {
        if (wt !== NUMBER) {
          if (wt !== CONNECTOR && wt !== PUNCT) out += connector;
          break;
        }
        if (rem >= rs.length) break;
        const ls = ws;
        const le = we;
        ws = rem;
        [wt, we, rem] = nextWord(rs, rem);
        if (wt !== ALPHA) {
          toLowerW(NUMBER, ls, le);
          if (wt !== CONNECTOR && wt !== PUNCT) out += connector;
          break;
        }
        out += connector;
        toLowerW(NUMBER, ls, le);
        while (wt === ALPHA || wt === NUMBER) {
          toLowerW(wt, ws, we);
          ws = rem;
          [wt, we, rem] = nextWord(rs, rem);
        }
        if (wt !== INVALID && wt !== CONNECTOR && wt !== PUNCT) out += connector;
      }
    }
  }
  toLowerW(wt, ws, we);
  return out;
}

// ---- random strings (goutils CryptoRandom)
function cryptoRandom(count: number, start: number, end: number, letters: boolean, numbers: boolean): string {
  if (count === 0) return '';
  if (count < 0) return '';
  if (start === 0 && end === 0) {
    if (!letters && !numbers) end = 0x7fffffff;
    else {
      end = 0x7a + 1;
      start = 0x20;
    }
  }
  const gap = end - start;
  let out = '';
  let left = count;
  while (left > 0) {
    const c = randomInt(gap) + start;
    if ((letters && U.isLetter(c)) || (numbers && U.isDigit(c)) || (!letters && !numbers)) {
      out += String.fromCodePoint(c);
      left--;
    }
  }
  return out;
}

function shuffle(s: string): string {
  const rs = U.runes(s);
  for (let i = rs.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [rs[i], rs[j]] = [rs[j], rs[i]];
  }
  return U.fromRunes(rs);
}

function goRepeat(count: number, s: string): string {
  if (count < 0) throw new FuncError('strings: negative Repeat count');
  return s.repeat(count);
}

function goSplit(s: string, sep: string, n = -1): string[] {
  if (n === 0) return [];
  if (sep === '') {
    const rs = Array.from(s);
    if (n < 0 || n >= rs.length) return rs;
    return [...rs.slice(0, n - 1), rs.slice(n - 1).join('')];
  }
  const parts = s.split(sep);
  if (n < 0 || parts.length <= n) return parts;
  return [...parts.slice(0, n - 1), parts.slice(n - 1).join(sep)];
}

function splitMap(parts: string[]): GoValue {
  const m = newMap('map[string]string');
  parts.forEach((p, i) => (m['_' + i] = p));
  return m;
}

export function untilStep(start: bigint, stop: bigint, step: bigint): GoValue[] {
  const v: GoValue[] = [];
  if (stop < start) {
    if (step >= 0n) return tagArray(v, '[]int');
    for (let i = start; i > stop; i += step) v.push(new GoInt('int', i));
    return tagArray(v, '[]int');
  }
  if (step <= 0n) return tagArray(v, '[]int');
  for (let i = start; i < stop; i += step) v.push(new GoInt('int', i));
  return tagArray(v, '[]int');
}

function seq(...params: GoInt[]): string {
  const p = params.map((x) => x.v);
  let increment = 1n;
  let list: GoValue[];
  switch (p.length) {
    case 0:
      return '';
    case 1: {
      const start = 1n;
      const end = p[0];
      if (end < start) increment = -1n;
      list = untilStep(start, end + increment, increment);
      break;
    }
    case 3: {
      const start = p[0];
      const end = p[2];
      const step = p[1];
      if (end < start) {
        increment = -1n;
        if (step > 0n) return '';
      }
      list = untilStep(start, end + increment, step);
      break;
    }
    case 2: {
      const start = p[0];
      const end = p[1];
      let step = 1n;
      if (end < start) step = -1n;
      list = untilStep(start, end + step, step);
      break;
    }
    default:
      return '';
  }
  return list.map((x) => (x as GoInt).v.toString()).join(' ');
}

function quote(...args: GoValue[]): string {
  const out: string[] = [];
  for (const s of args) if (s !== null && s !== undefined) out.push(quoteGo(strval(s)));
  return out.join(' ');
}

function squote(...args: GoValue[]): string {
  const out: string[] = [];
  for (const s of args) if (s !== null && s !== undefined) out.push(sprintf("'%v'", [s]));
  return out.join(' ');
}

function cat(...args: GoValue[]): string {
  const v = args.filter((x) => x !== null && x !== undefined);
  const f = '%v '.repeat(v.length).trim();
  return sprintf(f, v);
}

function indent(spaces: number, v: string): string {
  const pad = ' '.repeat(Math.max(spaces, 0));
  if (spaces < 0) throw new FuncError('strings: negative Repeat count');
  return pad + v.split('\n').join('\n' + pad);
}

function substr(start: number, end: number, s: string): string {
  if (start < 0) return sliceBounds(s, 0, end);
  if (end < 0 || end > byteLen(s)) return sliceBounds(s, start, byteLen(s));
  return sliceBounds(s, start, end);
}

function trunc(c: number, s: string): string {
  const len = byteLen(s);
  if (c < 0 && len + c > 0) return byteSlice(s, len + c);
  if (c >= 0 && len > c) return byteSlice(s, 0, c);
  return s;
}

export function stringFuncs(): FuncMap {
  return {
    abbrev: fn([I, S], S, (w: GoInt, s: string) => (n(w) < 4 ? s : abbreviateFull(s, 0, n(w)))),
    abbrevboth: fn([I, I, S], S, (l: GoInt, r: GoInt, s: string) => {
      const left = n(l);
      const right = n(r);
      if (right < 4 || (left > 0 && right < 7)) return s;
      return abbreviateFull(s, left, right);
    }),
    trunc: fn([I, S], S, (c: GoInt, s: string) => trunc(n(c), s)),
    trim: fn([S], S, U.trimSpace),
    upper: fn([S], S, (s: string) => U.mapRunes(s, U.toUpper)),
    lower: fn([S], S, (s: string) => U.mapRunes(s, U.toLower)),
    title: fn([S], S, title),
    untitle: fn([S], S, uncapitalize),
    substr: fn([I, I, S], S, (a: GoInt, b: GoInt, s: string) => substr(n(a), n(b), s)),
    repeat: fn([I, S], S, (c: GoInt, s: string) => goRepeat(n(c), s)),
    trimall: fn([S, S], S, (a: string, b: string) => U.trimCutset(b, a)),
    trimAll: fn([S, S], S, (a: string, b: string) => U.trimCutset(b, a)),
    trimSuffix: fn([S, S], S, (a: string, b: string) =>
      a !== '' && b.endsWith(a) ? b.slice(0, b.length - a.length) : b,
    ),
    trimPrefix: fn([S, S], S, (a: string, b: string) => (a !== '' && b.startsWith(a) ? b.slice(a.length) : b)),
    nospace: fn([S], S, deleteWhiteSpace),
    initials: fn([S], S, initials),
    randAlphaNum: fn([I], S, (c: GoInt) => cryptoRandom(n(c), 0, 0, true, true)),
    randAlpha: fn([I], S, (c: GoInt) => cryptoRandom(n(c), 0, 0, true, false)),
    randAscii: fn([I], S, (c: GoInt) => cryptoRandom(n(c), 32, 127, false, false)),
    randNumeric: fn([I], S, (c: GoInt) => cryptoRandom(n(c), 0, 0, false, true)),
    swapcase: fn([S], S, swapCase),
    shuffle: fn([S], S, shuffle),
    snakecase: fn([S], S, (s: string) => camelCaseToLowerCase(s, '_')),
    camelcase: fn([S], S, toPascalCase),
    kebabcase: fn([S], S, (s: string) => camelCaseToLowerCase(s, '-')),
    wrap: fn([I, S], S, (l: GoInt, s: string) => wrapCustom(s, n(l), '', false)),
    wrapWith: fn([I, S, S], S, (l: GoInt, sep: string, s: string) => wrapCustom(s, n(l), sep, true)),
    contains: fn([S, S], 'bool', (sub: string, s: string) => s.includes(sub)),
    hasPrefix: fn([S, S], 'bool', (sub: string, s: string) => s.startsWith(sub)),
    hasSuffix: fn([S, S], 'bool', (sub: string, s: string) => s.endsWith(sub)),
    quote: fn([], S, quote, { variadic: A }),
    squote: fn([], S, squote, { variadic: A }),
    cat: fn([], S, cat, { variadic: A }),
    indent: fn([I, S], S, (c: GoInt, s: string) => indent(n(c), s)),
    nindent: fn([I, S], S, (c: GoInt, s: string) => '\n' + indent(n(c), s)),
    replace: fn([S, S, S], S, (o: string, nw: string, src: string) => goReplaceAll(src, o, nw)),
    plural: fn([S, S, I], S, (one: string, many: string, c: GoInt) => (c.v === 1n ? one : many)),
    toString: fn([A], S, strval),
    atoi: fn([S], I, (s: string) => new GoInt('int', atoi(s))),
    split: fn([S, S], 'map[string]string', (sep: string, s: string) => splitMap(goSplit(s, sep))),
    splitList: fn([S, S], '[]string', (sep: string, s: string) => stringList(goSplit(s, sep))),
    splitn: fn([S, I, S], 'map[string]string', (sep: string, c: GoInt, s: string) => splitMap(goSplit(s, sep, n(c)))),
    toStrings: fn([A], '[]string', (v: GoValue) => stringList(strslice(v).slice())),
    join: fn([S, A], S, (sep: string, v: GoValue) => strslice(v).join(sep)),
    seq: fn([], S, seq, { variadic: I }),
    until: fn([I], '[]int', (c: GoInt) => untilStep(0n, c.v, c.v < 0n ? -1n : 1n)),
    untilStep: fn([I, I, I], '[]int', (a: GoInt, b: GoInt, c: GoInt) => untilStep(a.v, b.v, c.v)),
  };
}

function goReplaceAll(s: string, old: string, nw: string): string {
  if (old === nw) return s;
  if (old === '') {
    // Go inserts nw before every rune and at the end.
    const rs = Array.from(s);
    return nw + rs.map((r) => r + nw).join('');
  }
  return s.split(old).join(nw);
}

function atoi(s: string): bigint {
  // strconv.Atoi: optional sign, decimal digits only; errors → 0 (sprig ignores the error)
  if (!/^[+-]?[0-9]+$/.test(s)) return 0n;
  const v = BigInt(s);
  if (v > 9223372036854775807n) return 9223372036854775807n;
  if (v < -9223372036854775808n) return -9223372036854775808n;
  return v;
}

export { toInt64 };
