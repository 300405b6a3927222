// Go's strconv: quoting, unquoting, number parsing and exact float formatting.

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;

/** unicode.IsPrint (approximation through Unicode property escapes; ASCII exact). */
export function isPrint(r: number): boolean {
  if (r < 0x80) return r >= 0x20 && r < 0x7f;
  if (r >= 0xd800 && r < 0xe000) return false;
  if (r > 0x10ffff) return false;
  return PRINTABLE.test(String.fromCodePoint(r));
}

/** unicode.IsGraphic: IsPrint plus the Zs space separators. */
export function isGraphic(r: number): boolean {
  if (isPrint(r)) return true;
  return /^\p{Zs}$/u.test(String.fromCodePoint(r));
}

function appendEscapedRune(out: string[], r: number, quote: number, asciiOnly: boolean, graphicOnly: boolean): void {
  if (r === quote || r === 0x5c) {
    out.push('\\' + String.fromCodePoint(r));
    return;
  }
  if (asciiOnly) {
    if (r < 0x80 && isPrint(r)) {
      out.push(String.fromCodePoint(r));
      return;
    }
  } else if (isPrint(r) || (graphicOnly && isGraphic(r))) {
    out.push(String.fromCodePoint(r));
    return;
  }
  switch (r) {
    case 0x07:
      out.push('\\a');
      return;
    case 0x08:
      out.push('\\b');
      return;
    case 0x0c:
      out.push('\\f');
      return;
    case 0x0a:
      out.push('\\n');
      return;
    case 0x0d:
      out.push('\\r');
      return;
    case 0x09:
      out.push('\\t');
      return;
    case 0x0b:
      out.push('\\v');
      return;
  }
  if (r < 0x20 || r === 0x7f) out.push('\\x' + r.toString(16).padStart(2, '0'));
  else if (r === 0xfffd) out.push('\\ufffd');
  else if (r < 0x10000) out.push('\\u' + r.toString(16).padStart(4, '0'));
  else out.push('\\U' + r.toString(16).padStart(8, '0'));
}

function quoteWith(s: string, quote: number, asciiOnly: boolean): string {
  const out: string[] = [String.fromCharCode(quote)];
  for (let i = 0; i < s.length;) {
    const r = s.codePointAt(i)!;
    i += r > 0xffff ? 2 : 1;
    if (r >= 0xd800 && r < 0xe000) {
      // Lone surrogate: Go would see invalid UTF-8 bytes here.
      out.push('\\ufffd');
      continue;
    }
    appendEscapedRune(out, r, quote, asciiOnly, false);
  }
  out.push(String.fromCharCode(quote));
  return out.join('');
}

/** strconv.Quote */
export function quoteGo(s: string): string {
  // Fast path: printable ASCII without quotes or backslashes.
  let simple = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c >= 0x7f || c === 0x22 || c === 0x5c) {
      simple = false;
      break;
    }
  }
  if (simple) return '"' + s + '"';
  return quoteWith(s, 0x22, false);
}

/** strconv.QuoteToASCII */
export function quoteToASCII(s: string): string {
  return quoteWith(s, 0x22, true);
}

/** strconv.QuoteRune */
export function quoteRune(r: number, asciiOnly = false): string {
  if (r > 0x10ffff || (r >= 0xd800 && r < 0xe000)) r = 0xfffd;
  const out: string[] = ["'"];
  appendEscapedRune(out, r, 0x27, asciiOnly, false);
  out.push("'");
  return out.join('');
}

/** strconv.CanBackquote */
export function canBackquote(s: string): boolean {
  for (let i = 0; i < s.length;) {
    const r = s.codePointAt(i)!;
    i += r > 0xffff ? 2 : 1;
    if (r === 0xfeff) return false;
    if (r >= 0x80) continue;
    if ((r < 0x20 && r !== 0x09) || r === 0x60 || r === 0x7f) return false;
  }
  return true;
}

export class SyntaxError_ extends Error {}

const ERR_SYNTAX = 'invalid syntax';

function unhex(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/**
 * strconv.UnquoteChar on s starting at i. Returns [value, isByte, nextIndex]; isByte means the
 * value is a single raw byte (\x or octal escapes).
 */
export function unquoteChar(s: string, i: number, quote: number): [number, boolean, number] {
  const c = s.codePointAt(i);
  if (c === undefined) throw new Error(ERR_SYNTAX);
  if (c === quote && (quote === 0x27 || quote === 0x22)) throw new Error(ERR_SYNTAX);
  if (c !== 0x5c) return [c, false, i + (c > 0xffff ? 2 : 1)];
  if (i + 1 >= s.length) throw new Error(ERR_SYNTAX);
  const e = s.charCodeAt(i + 1);
  i += 2;
  switch (e) {
    case 0x61:
      return [7, false, i];
    case 0x62:
      return [8, false, i];
    case 0x66:
      return [12, false, i];
    case 0x6e:
      return [10, false, i];
    case 0x72:
      return [13, false, i];
    case 0x74:
      return [9, false, i];
    case 0x76:
      return [11, false, i];
    case 0x78: // x
    case 0x75: // u
    case 0x55: {
      // U
      const n = e === 0x78 ? 2 : e === 0x75 ? 4 : 8;
      if (s.length - i < n) throw new Error(ERR_SYNTAX);
      let v = 0;
      for (let j = 0; j < n; j++) {
        const x = unhex(s.charCodeAt(i + j));
        if (x < 0) throw new Error(ERR_SYNTAX);
        v = v * 16 + x;
      }
      i += n;
      if (e === 0x78) return [v, true, i];
      if (v > 0x10ffff || (v >= 0xd800 && v < 0xe000)) throw new Error(ERR_SYNTAX);
      return [v, false, i];
    }
    case 0x30:
    case 0x31:
    case 0x32:
    case 0x33:
    case 0x34:
    case 0x35:
    case 0x36:
    case 0x37: {
      let v = e - 0x30;
      if (s.length - i < 2) throw new Error(ERR_SYNTAX);
      for (let j = 0; j < 2; j++) {
        const x = s.charCodeAt(i + j) - 0x30;
        if (x < 0 || x > 7) throw new Error(ERR_SYNTAX);
        v = (v << 3) | x;
      }
      i += 2;
      if (v > 255) throw new Error(ERR_SYNTAX);
      return [v, true, i];
    }
    case 0x5c:
      return [0x5c, false, i];
    case 0x27:
    case 0x22:
      if (e !== quote) throw new Error(ERR_SYNTAX);
      return [e, false, i];
  }
  throw new Error(ERR_SYNTAX);
}

/** strconv.Unquote for "..." and `...` literals (and '...' rune literals). Throws Error("invalid syntax"). */
export function unquote(s: string): string {
  const n = s.length;
  if (n < 2) throw new Error(ERR_SYNTAX);
  const q = s.charCodeAt(0);
  if (q !== s.charCodeAt(n - 1)) throw new Error(ERR_SYNTAX);
  const body = s.slice(1, n - 1);
  if (q === 0x60) {
    if (body.includes('`')) throw new Error(ERR_SYNTAX);
    return body.replace(/\r/g, '');
  }
  if (q !== 0x22 && q !== 0x27) throw new Error(ERR_SYNTAX);
  if (body.includes('\n')) throw new Error(ERR_SYNTAX);
  if (!body.includes('\\') && !body.includes(String.fromCharCode(q))) {
    if (q === 0x22) return body;
    if (Array.from(body).length === 1) return body;
  }
  const bytes: number[] = [];
  let hasRawBytes = false;
  let i = 0;
  let count = 0;
  while (i < body.length) {
    const [v, isByte, next] = unquoteChar(body, i, q);
    i = next;
    count++;
    if (isByte) {
      hasRawBytes = true;
      bytes.push(v);
    } else {
      for (const b of Buffer.from(String.fromCodePoint(v), 'utf8')) bytes.push(b);
    }
    if (q === 0x27 && count > 1) throw new Error(ERR_SYNTAX);
  }
  if (q === 0x27 && count !== 1) throw new Error(ERR_SYNTAX);
  void hasRawBytes;
  return Buffer.from(bytes).toString('utf8');
}

/** strconv.ParseInt / ParseUint with base 0 (prefixes, underscores). Returns undefined on error. */
export function parseIntGo(
  text: string,
  base = 0,
  bitSize = 64,
  unsigned = false,
): { value?: bigint; err?: 'syntax' | 'range' } {
  let s = text;
  if (s.length === 0) return { err: 'syntax' };
  let neg = false;
  if (!unsigned && (s[0] === '+' || s[0] === '-')) {
    neg = s[0] === '-';
    s = s.slice(1);
    if (s.length === 0) return { err: 'syntax' };
  }
  let b = base;
  let underscoresOK = false;
  if (base === 0) {
    b = 10;
    if (s[0] === '0') {
      if (s.length >= 3 && (s[1] === 'b' || s[1] === 'B')) {
        b = 2;
        s = s.slice(2);
      } else if (s.length >= 3 && (s[1] === 'o' || s[1] === 'O')) {
        b = 8;
        s = s.slice(2);
      } else if (s.length >= 3 && (s[1] === 'x' || s[1] === 'X')) {
        b = 16;
        s = s.slice(2);
      } else {
        b = 8;
        s = s.slice(1);
        if (s.length === 0) return { value: 0n };
      }
      underscoresOK = true;
    } else {
      underscoresOK = true;
    }
  }
  // Underscore placement check (base 0 only): must separate digits.
  if (s.includes('_')) {
    if (!underscoresOK || !underscoreOK(text.replace(/^[+-]/, ''))) return { err: 'syntax' };
    s = s.replace(/_/g, '');
  }
  if (s.length === 0) return { err: 'syntax' };
  let v = 0n;
  const bb = BigInt(b);
  for (const ch of s) {
    const d = digitVal(ch);
    if (d < 0 || d >= b) return { err: 'syntax' };
    v = v * bb + BigInt(d);
  }
  if (unsigned) {
    if (v >= 1n << BigInt(bitSize)) return { value: (1n << BigInt(bitSize)) - 1n, err: 'range' };
    return { value: v };
  }
  const limit = 1n << BigInt(bitSize - 1);
  if (!neg && v >= limit) return { value: limit - 1n, err: 'range' };
  if (neg && v > limit) return { value: -limit, err: 'range' };
  return { value: neg ? -v : v };
}

function digitVal(ch: string): number {
  const c = ch.charCodeAt(0);
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x7a) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x5a) return c - 0x41 + 10;
  return -1;
}

/** strconv's underscoreOK: underscores only between digits (or after a base prefix). */
function underscoreOK(s: string): boolean {
  let saw = '^';
  let i = 0;
  if (s.length >= 1 && (s[0] === '-' || s[0] === '+')) s = s.slice(1);
  let hex = false;
  if (s.length >= 2 && s[0] === '0' && 'bBoOxX'.includes(s[1])) {
    i = 2;
    saw = '0';
    hex = s[1] === 'x' || s[1] === 'X';
  }
  for (; i < s.length; i++) {
    const c = s[i];
    if ((c >= '0' && c <= '9') || (hex && /[a-fA-F]/.test(c))) {
      saw = '0';
      continue;
    }
    if (c === '_') {
      if (saw !== '0') return false;
      saw = '_';
      continue;
    }
    if (saw === '_') return false;
    saw = '!';
  }
  return saw !== '_';
}

/** strconv.ParseFloat(s, 64). Returns undefined on syntax error. */
export function parseFloatGo(text: string): number | undefined {
  let s = text;
  let sign = 1;
  if (s[0] === '+' || s[0] === '-') {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  const lower = s.toLowerCase();
  if (lower === 'inf' || lower === 'infinity') return sign * Infinity;
  if (lower === 'nan') return NaN;
  if (s.includes('_')) {
    if (!underscoreOK(s)) return undefined;
    s = s.replace(/_/g, '');
  }
  if (/^0[xX]/.test(s)) {
    const m = /^0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?[pP]([+-]?[0-9]+)$/.exec(s);
    if (!m || (m[1] === '' && (m[2] ?? '') === '')) return undefined;
    const mant = BigInt('0x' + ((m[1] || '') + (m[2] || '') || '0'));
    const exp = Number(m[3]) - 4 * (m[2] ?? '').length;
    return sign * Number(mant) * Math.pow(2, exp);
  }
  if (!/^(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/.test(s)) return undefined;
  const v = Number(s);
  if (!Number.isFinite(v)) return undefined; // ErrRange
  return sign * v;
}

// ---- Float formatting -------------------------------------------------------------------------

interface Decimal {
  d: string; // digits, no leading/trailing zeros
  dp: number; // decimal point position
}

const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);

/** Exact decimal expansion of |f| (finite). */
function exactDecimal(f: number): Decimal {
  if (f === 0) return { d: '', dp: 0 };
  f64[0] = Math.abs(f);
  const bits = u64[0];
  const expBits = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  let exp: number;
  if (expBits === 0) exp = -1074;
  else {
    mant |= 1n << 52n;
    exp = expBits - 1075;
  }
  let digits: string;
  let dp: number;
  if (exp >= 0) {
    digits = (mant << BigInt(exp)).toString();
    dp = digits.length;
  } else {
    digits = (mant * 5n ** BigInt(-exp)).toString();
    dp = digits.length + exp;
  }
  // trim trailing zeros
  let end = digits.length;
  while (end > 0 && digits.charCodeAt(end - 1) === 0x30) end--;
  digits = digits.slice(0, end);
  // trim leading zeros (cannot happen for mant*5^k, but be safe)
  let st = 0;
  while (st < digits.length && digits[st] === '0') {
    st++;
    dp--;
  }
  return { d: digits.slice(st), dp };
}

/** Shortest decimal that round-trips (same digits as Go's shortest formatting). */
function shortestDecimal(f: number): Decimal {
  if (f === 0) return { d: '', dp: 0 };
  const s = Math.abs(f).toExponential();
  const e = s.indexOf('e');
  const mant = s.slice(0, e).replace('.', '');
  const exp = Number(s.slice(e + 1));
  let end = mant.length;
  while (end > 0 && mant.charCodeAt(end - 1) === 0x30) end--;
  return { d: mant.slice(0, end), dp: exp + 1 };
}

/** Round to nd digits, half to even on exact ties (decimal.Round). */
function roundDecimal(a: Decimal, nd: number): Decimal {
  if (nd < 0 || nd >= a.d.length) return a;
  let up: boolean;
  const c = a.d.charCodeAt(nd);
  if (c === 0x35 && nd + 1 === a.d.length) {
    up = nd > 0 && (a.d.charCodeAt(nd - 1) - 0x30) % 2 === 1;
  } else up = c >= 0x35;
  if (!up) {
    let end = nd;
    while (end > 0 && a.d.charCodeAt(end - 1) === 0x30) end--;
    return { d: a.d.slice(0, end), dp: end === 0 ? 0 : a.dp };
  }
  let i = nd - 1;
  while (i >= 0 && a.d[i] === '9') i--;
  if (i < 0) return { d: '1', dp: a.dp + 1 };
  return { d: a.d.slice(0, i) + String.fromCharCode(a.d.charCodeAt(i) + 1), dp: a.dp };
}

function fmtE(neg: boolean, d: Decimal, prec: number, fmt: string): string {
  let s = neg ? '-' : '';
  s += d.d.length ? d.d[0] : '0';
  if (prec > 0) {
    s += '.';
    const m = Math.min(d.d.length, prec + 1);
    let i = 1;
    if (i < m) {
      s += d.d.slice(1, m);
      i = m;
    }
    for (; i <= prec; i++) s += '0';
  }
  s += fmt;
  let exp = d.dp - 1;
  if (d.d.length === 0) exp = 0;
  if (exp < 0) {
    s += '-';
    exp = -exp;
  } else s += '+';
  s += exp < 10 ? '0' + exp : String(exp);
  return s;
}

function fmtF(neg: boolean, d: Decimal, prec: number): string {
  let s = neg ? '-' : '';
  if (d.dp > 0) {
    const m = Math.min(d.d.length, d.dp);
    s += d.d.slice(0, m);
    for (let k = m; k < d.dp; k++) s += '0';
  } else s += '0';
  if (prec > 0) {
    s += '.';
    for (let i = 1; i <= prec; i++) {
      const j = d.dp + i - 1;
      s += j >= 0 && j < d.d.length ? d.d[j] : '0';
    }
  }
  return s;
}

/** strconv.FormatFloat(f, fmt, prec, 64) for fmt in e E f g G. */
export function formatFloat(f: number, fmt: string, prec: number): string {
  if (Number.isNaN(f)) return 'NaN';
  if (f === Infinity) return '+Inf';
  if (f === -Infinity) return '-Inf';
  const neg = f < 0 || Object.is(f, -0);
  if (fmt === 'x' || fmt === 'X' || fmt === 'b') return formatBinary(f, fmt, prec, neg);
  const shortest = prec < 0;
  let digs: Decimal;
  if (shortest) {
    digs = shortestDecimal(f);
    switch (fmt) {
      case 'e':
      case 'E':
        prec = Math.max(digs.d.length - 1, 0);
        break;
      case 'f':
        prec = Math.max(digs.d.length - digs.dp, 0);
        break;
      case 'g':
      case 'G':
        prec = digs.d.length;
        break;
    }
  } else {
    const exact = exactDecimal(f);
    switch (fmt) {
      case 'e':
      case 'E':
        digs = roundDecimal(exact, prec + 1);
        break;
      case 'f':
        digs = roundDecimal(exact, exact.dp + prec);
        break;
      default:
        if (prec === 0) prec = 1;
        digs = roundDecimal(exact, prec);
    }
  }
  switch (fmt) {
    case 'e':
    case 'E':
      return fmtE(neg, digs, prec, fmt);
    case 'f':
      return fmtF(neg, digs, prec);
    default: {
      let eprec = prec;
      if (eprec > digs.d.length && digs.d.length >= digs.dp) eprec = digs.d.length;
      if (shortest) eprec = 6;
      const exp = digs.dp - 1;
      if (exp < -4 || exp >= eprec) {
        if (prec > digs.d.length) prec = digs.d.length;
        return fmtE(neg, digs, prec - 1, fmt === 'g' ? 'e' : 'E');
      }
      if (prec > digs.dp) prec = digs.d.length;
      return fmtF(neg, digs, Math.max(prec - digs.dp, 0));
    }
  }
}

/** Go's float64(int64) conversion semantics for out-of-range values (amd64). */
export function floatToInt64(f: number): bigint {
  if (Number.isNaN(f) || f >= 9223372036854775808 || f < -9223372036854775808) return -9223372036854775808n;
  return BigInt(Math.trunc(f));
}

/** %b (mantissa p exponent) and %x/%X (hexadecimal mantissa and binary exponent) of a float64. */
function formatBinary(f: number, fmt: string, prec: number, neg: boolean): string {
  f64[0] = Math.abs(f);
  const bits = u64[0];
  let exp = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  if (exp === 0) exp++;
  else mant |= 1n << 52n;
  exp += -1023;
  if (fmt === 'b') {
    const e = exp - 52;
    return (neg ? '-' : '') + mant.toString() + 'p' + (e >= 0 ? '+' : '-') + Math.abs(e);
  }
  if (mant === 0n) exp = 0;
  mant <<= 60n - 52n;
  while (mant !== 0n && (mant & (1n << 60n)) === 0n) {
    mant <<= 1n;
    exp--;
  }
  if (prec >= 0 && prec < 15) {
    const shift = BigInt(prec * 4);
    const extra = (mant << shift) & ((1n << 60n) - 1n);
    mant >>= 60n - shift;
    if ((extra | (mant & 1n)) > 1n << 59n) mant++;
    mant <<= 60n - shift;
    if ((mant & (1n << 61n)) !== 0n) {
      mant >>= 1n;
      exp++;
    }
  }
  const hex = fmt === 'X' ? '0123456789ABCDEF' : '0123456789abcdef';
  let s = (neg ? '-' : '') + '0' + fmt + String(Number((mant >> 60n) & 1n));
  mant = (mant << 4n) & ((1n << 64n) - 1n);
  if (prec < 0 && mant !== 0n) {
    s += '.';
    while (mant !== 0n) {
      s += hex[Number((mant >> 60n) & 15n)];
      mant = (mant << 4n) & ((1n << 64n) - 1n);
    }
  } else if (prec > 0) {
    s += '.';
    for (let i = 0; i < prec; i++) {
      s += hex[Number((mant >> 60n) & 15n)];
      mant = (mant << 4n) & ((1n << 64n) - 1n);
    }
  }
  s += fmt === 'X' ? 'P' : 'p';
  if (exp < 0) {
    s += '-';
    exp = -exp;
  } else s += '+';
  s += exp < 10 ? '0' + exp : String(exp);
  return s;
}
