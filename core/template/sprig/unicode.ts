// Go's unicode package predicates and single-rune case mappings.

export function isSpace(r: number): boolean {
  if (r <= 0xff) return r === 0x20 || (r >= 0x09 && r <= 0x0d) || r === 0x85 || r === 0xa0;
  return (
    r === 0x1680 ||
    (r >= 0x2000 && r <= 0x200a) ||
    r === 0x2028 ||
    r === 0x2029 ||
    r === 0x202f ||
    r === 0x205f ||
    r === 0x3000
  );
}

const RE_UPPER = /^\p{Lu}$/u;
const RE_LOWER = /^\p{Ll}$/u;
const RE_TITLE = /^\p{Lt}$/u;
const RE_LETTER = /^\p{L}$/u;
const RE_DIGIT = /^\p{Nd}$/u;
const RE_NUMBER = /^\p{N}$/u;
const RE_PUNCT = /^\p{P}$/u;

const ch = (r: number): string => String.fromCodePoint(r);

export function isUpper(r: number): boolean {
  if (r < 0x80) return r >= 0x41 && r <= 0x5a;
  return RE_UPPER.test(ch(r));
}
export function isLower(r: number): boolean {
  if (r < 0x80) return r >= 0x61 && r <= 0x7a;
  return RE_LOWER.test(ch(r));
}
export function isTitle(r: number): boolean {
  return r >= 0x80 && RE_TITLE.test(ch(r));
}
export function isLetter(r: number): boolean {
  if (r < 0x80) return (r >= 0x41 && r <= 0x5a) || (r >= 0x61 && r <= 0x7a);
  return RE_LETTER.test(ch(r));
}
export function isDigit(r: number): boolean {
  if (r < 0x80) return r >= 0x30 && r <= 0x39;
  return RE_DIGIT.test(ch(r));
}
export function isNumber(r: number): boolean {
  if (r < 0x80) return r >= 0x30 && r <= 0x39;
  return RE_NUMBER.test(ch(r));
}
export function isPunct(r: number): boolean {
  return RE_PUNCT.test(ch(r));
}

function mapOne(r: number, f: (s: string) => string): number {
  const s = f(ch(r));
  const cp = s.codePointAt(0)!;
  return s.length === ch(cp).length ? cp : r;
}

export function toUpper(r: number): number {
  if (r < 0x80) return r >= 0x61 && r <= 0x7a ? r - 32 : r;
  if (r === 0x131) return 0x49; // dotless i
  if (r === 0x17f) return 0x53; // long s
  return mapOne(r, (s) => s.toUpperCase());
}
export function toLower(r: number): number {
  if (r < 0x80) return r >= 0x41 && r <= 0x5a ? r + 32 : r;
  if (r === 0x130) return 0x69;
  return mapOne(r, (s) => s.toLowerCase());
}
export function toTitle(r: number): number {
  // Title case of the digraphs; everything else maps like upper case.
  switch (r) {
    case 0x1c4:
    case 0x1c5:
    case 0x1c6:
      return 0x1c5;
    case 0x1c7:
    case 0x1c8:
    case 0x1c9:
      return 0x1c8;
    case 0x1ca:
    case 0x1cb:
    case 0x1cc:
      return 0x1cb;
    case 0x1f1:
    case 0x1f2:
    case 0x1f3:
      return 0x1f2;
  }
  return toUpper(r);
}

export function runes(s: string): number[] {
  const out: number[] = [];
  for (const c of s) out.push(c.codePointAt(0)!);
  return out;
}

export function fromRunes(rs: number[]): string {
  let s = '';
  for (const r of rs) s += String.fromCodePoint(r);
  return s;
}

export function mapRunes(s: string, f: (r: number) => number): string {
  let out = '';
  for (const c of s) out += String.fromCodePoint(f(c.codePointAt(0)!));
  return out;
}

/** strings.TrimSpace */
export function trimSpace(s: string): string {
  const rs = runes(s);
  let a = 0;
  let b = rs.length;
  while (a < b && isSpace(rs[a])) a++;
  while (b > a && isSpace(rs[b - 1])) b--;
  return fromRunes(rs.slice(a, b));
}

/** strings.Trim(s, cutset) and friends. */
export function trimCutset(s: string, cutset: string, left = true, right = true): string {
  if (s === '' || cutset === '') return s;
  const set = new Set(runes(cutset));
  const rs = runes(s);
  let a = 0;
  let b = rs.length;
  if (left) while (a < b && set.has(rs[a])) a++;
  if (right) while (b > a && set.has(rs[b - 1])) b--;
  return fromRunes(rs.slice(a, b));
}

/** Each UTF-8 byte of s as a rune (Go's `rune(str[i])` loops). */
export function bytesAsRunes(s: string): number[] {
  return [...Buffer.from(s, 'utf8')];
}
