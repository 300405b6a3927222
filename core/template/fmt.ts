// Go's fmt package for the template engine's values: Sprint, Sprintln, Sprintf (a port of
// fmt/print.go and fmt/format.go for the kinds that templates can hold).
import { canBackquote, formatFloat, isPrint, quoteGo, quoteRune, quoteToASCII } from './strconv.ts';
import type { GoValue } from './values.ts';
import {
  GoComplex,
  GoFunc,
  GoInt,
  GoStruct,
  UINT_TYPES,
  isNilContainer,
  isPlainMap,
  keyFromString,
  sliceType,
  sortedKeys,
  typeOf,
} from './values.ts';

const LDIGITS = '0123456789abcdefx';
const UDIGITS = '0123456789ABCDEFX';

class Printer {
  buf = '';
  // flags
  widPresent = false;
  precPresent = false;
  minus = false;
  plus = false;
  sharp = false;
  space = false;
  zero = false;
  plusV = false;
  sharpV = false;
  wid = 0;
  prec = 0;
  erroring = false;
  reordered = false;
  goodArgNum = true;
  // current argument (for badVerb)
  hasArg = false;
  arg: GoValue = undefined;
  value: GoValue = undefined;
  hasValue = false;

  clearflags(): void {
    this.widPresent =
      this.precPresent =
      this.minus =
      this.plus =
      this.sharp =
      this.space =
      this.zero =
      this.plusV =
      this.sharpV =
        false;
    this.wid = 0;
    this.prec = 0;
  }

  writePadding(n: number): void {
    if (n <= 0) return;
    const ch = this.zero && !this.minus ? '0' : ' ';
    this.buf += ch.repeat(n);
  }

  pad(s: string): void {
    if (!this.widPresent || this.wid === 0) {
      this.buf += s;
      return;
    }
    const width = this.wid - runeCount(s);
    if (!this.minus) {
      this.writePadding(width);
      this.buf += s;
    } else {
      this.buf += s;
      this.writePadding(width);
    }
  }

  fmtBoolean(v: boolean): void {
    this.pad(v ? 'true' : 'false');
  }

  fmtUnicode(u: bigint): void {
    let prec = 4;
    if (this.precPresent && this.prec > 4) prec = this.prec;
    let hex = u.toString(16).toUpperCase();
    if (u < 0n) hex = BigInt.asUintN(64, u).toString(16).toUpperCase();
    if (hex.length < prec) hex = '0'.repeat(prec - hex.length) + hex;
    let s = 'U+' + hex;
    if (this.sharp && u >= 0n && u <= 0x10ffffn && isPrint(Number(u)))
      s += " '" + String.fromCodePoint(Number(u)) + "'";
    const oldZero = this.zero;
    this.zero = false;
    this.pad(s);
    this.zero = oldZero;
  }

  fmtInteger(value: bigint, base: number, isSigned: boolean, verb: string, digits: string): void {
    let u = isSigned ? BigInt.asIntN(64, value) : BigInt.asUintN(64, value);
    const negative = isSigned && u < 0n;
    if (negative) u = -u;
    let prec = 0;
    if (this.precPresent) {
      prec = this.prec;
      if (prec === 0 && u === 0n) {
        const oldZero = this.zero;
        this.zero = false;
        this.writePadding(this.wid);
        this.zero = oldZero;
        return;
      }
    } else if (this.zero && !this.minus && this.widPresent) {
      prec = this.wid;
      if (negative || this.plus || this.space) prec--;
    }
    let s = u.toString(base);
    if (digits === UDIGITS) s = s.toUpperCase();
    if (s.length < prec) s = '0'.repeat(prec - s.length) + s;
    if (this.sharp) {
      if (base === 2) s = '0b' + s;
      else if (base === 8) {
        if (s[0] !== '0') s = '0' + s;
      } else if (base === 16) s = '0' + digits[16] + s;
    }
    if (verb === 'O') s = '0o' + s;
    if (negative) s = '-' + s;
    else if (this.plus) s = '+' + s;
    else if (this.space) s = ' ' + s;
    const oldZero = this.zero;
    this.zero = false;
    this.pad(s);
    this.zero = oldZero;
  }

  truncateString(s: string): string {
    if (this.precPresent) {
      let n = this.prec;
      let i = 0;
      for (const ch of s) {
        n--;
        if (n < 0) return s.slice(0, i);
        i += ch.length;
      }
    }
    return s;
  }

  fmtS(s: string): void {
    this.pad(this.truncateString(s));
  }

  fmtSbx(bytes: Uint8Array, digits: string): void {
    let length = bytes.length;
    if (this.precPresent && this.prec < length) length = this.prec;
    let width = 2 * length;
    if (width > 0) {
      if (this.space) {
        if (this.sharp) width *= 2;
        width += length - 1;
      } else if (this.sharp) width += 2;
    } else {
      if (this.widPresent) this.writePadding(this.wid);
      return;
    }
    if (this.widPresent && this.wid > width && !this.minus) this.writePadding(this.wid - width);
    let out = '';
    if (this.sharp) out += '0' + digits[16];
    for (let i = 0; i < length; i++) {
      if (this.space && i > 0) {
        out += ' ';
        if (this.sharp) out += '0' + digits[16];
      }
      const c = bytes[i];
      out += digits[c >> 4] + digits[c & 0xf];
    }
    this.buf += out;
    if (this.widPresent && this.wid > width && this.minus) this.writePadding(this.wid - width);
  }

  fmtQ(s: string): void {
    s = this.truncateString(s);
    if (this.sharp && canBackquote(s)) {
      this.pad('`' + s + '`');
      return;
    }
    this.pad(this.plus ? quoteToASCII(s) : quoteGo(s));
  }

  fmtC(c: bigint): void {
    let r = c > 0x10ffffn || c < 0n ? 0xfffd : Number(c);
    if (r >= 0xd800 && r < 0xe000) r = 0xfffd;
    this.pad(String.fromCodePoint(r));
  }

  fmtQc(c: bigint): void {
    const r = c > 0x10ffffn || c < 0n ? 0xfffd : Number(c);
    this.pad(quoteRune(r, this.plus));
  }

  fmtFloatNum(v: number, verb: string, prec: number): void {
    if (this.precPresent) prec = this.prec;
    let num = formatFloat(v, verb, prec);
    if (num[0] === '-' || num[0] === '+') {
      // keep
    } else num = '+' + num;
    if (this.space && num[0] === '+' && !this.plus) num = ' ' + num.slice(1);
    if (num[1] === 'I' || num[1] === 'N') {
      const oldZero = this.zero;
      this.zero = false;
      if (num[1] === 'N' && !this.space && !this.plus) num = num.slice(1);
      this.pad(num);
      this.zero = oldZero;
      return;
    }
    if (this.sharp && verb !== 'b') {
      let digits = 0;
      if (verb === 'v' || verb === 'g' || verb === 'G' || verb === 'x') {
        digits = prec;
        if (digits === -1) digits = 6;
      }
      let tail = '';
      let hasDecimalPoint = false;
      let sawNonzeroDigit = false;
      let body = num;
      for (let i = 1; i < body.length; i++) {
        const c = body[i];
        if (c === '.') hasDecimalPoint = true;
        else if (c === 'p' || c === 'P') {
          tail = body.slice(i);
          body = body.slice(0, i);
          break;
        } else if ((c === 'e' || c === 'E') && verb !== 'x' && verb !== 'X') {
          tail = body.slice(i);
          body = body.slice(0, i);
          break;
        } else {
          if (c !== '0') sawNonzeroDigit = true;
          if (sawNonzeroDigit) digits--;
        }
      }
      if (!hasDecimalPoint) {
        if (body.length === 2 && body[1] === '0') digits--;
        body += '.';
      }
      while (digits > 0) {
        body += '0';
        digits--;
      }
      num = body + tail;
    }
    if (this.plus || num[0] !== '+') {
      if (this.zero && !this.minus && this.widPresent && this.wid > num.length) {
        this.buf += num[0];
        this.writePadding(this.wid - num.length);
        this.buf += num.slice(1);
        return;
      }
      this.pad(num);
      return;
    }
    this.pad(num.slice(1));
  }

  // ---- pp level

  badVerb(verb: string, v?: GoValue, hasV = false): void {
    this.erroring = true;
    this.buf += '%!' + verb + '(';
    if (this.hasArg && this.arg !== undefined && this.arg !== null) {
      this.buf += typeOf(this.arg) + '=';
      this.printArg(this.arg, 'v');
    } else if (hasV || (this.hasValue && this.value !== undefined)) {
      const val = hasV ? v : this.value;
      if (val === null) {
        this.buf += 'interface {}=';
        this.buf += '<nil>';
      } else {
        this.buf += typeOf(val) + '=';
        this.printValue(val, 'v', 0);
      }
    } else this.buf += '<nil>';
    this.buf += ')';
    this.erroring = false;
  }

  fmtBool(v: boolean, verb: string): void {
    if (verb === 't' || verb === 'v') this.fmtBoolean(v);
    else this.badVerb(verb);
  }

  fmtIntegerVerb(v: bigint, isSigned: boolean, verb: string): void {
    switch (verb) {
      case 'v':
        if (this.sharpV && !isSigned) {
          const sharp = this.sharp;
          this.sharp = true;
          this.fmtInteger(v, 16, false, 'v', LDIGITS);
          this.sharp = sharp;
        } else this.fmtInteger(v, 10, isSigned, verb, LDIGITS);
        break;
      case 'd':
        this.fmtInteger(v, 10, isSigned, verb, LDIGITS);
        break;
      case 'b':
        this.fmtInteger(v, 2, isSigned, verb, LDIGITS);
        break;
      case 'o':
      case 'O':
        this.fmtInteger(v, 8, isSigned, verb, LDIGITS);
        break;
      case 'x':
        this.fmtInteger(v, 16, isSigned, verb, LDIGITS);
        break;
      case 'X':
        this.fmtInteger(v, 16, isSigned, verb, UDIGITS);
        break;
      case 'c':
        this.fmtC(isSigned ? BigInt.asIntN(64, v) : BigInt.asUintN(64, v));
        break;
      case 'q':
        this.fmtQc(isSigned ? BigInt.asIntN(64, v) : BigInt.asUintN(64, v));
        break;
      case 'U':
        this.fmtUnicode(BigInt.asUintN(64, v));
        break;
      default:
        this.badVerb(verb);
    }
  }

  fmtFloatVerb(v: number, verb: string): void {
    switch (verb) {
      case 'v':
        this.fmtFloatNum(v, 'g', -1);
        break;
      case 'b':
      case 'g':
      case 'G':
      case 'x':
      case 'X':
        this.fmtFloatNum(v, verb, -1);
        break;
      case 'f':
      case 'e':
      case 'E':
        this.fmtFloatNum(v, verb, 6);
        break;
      case 'F':
        this.fmtFloatNum(v, 'f', 6);
        break;
      default:
        this.badVerb(verb);
    }
  }

  fmtComplexVerb(v: GoComplex, verb: string): void {
    switch (verb) {
      case 'v':
      case 'b':
      case 'g':
      case 'G':
      case 'x':
      case 'X':
      case 'f':
      case 'F':
      case 'e':
      case 'E': {
        const oldPlus = this.plus;
        this.buf += '(';
        this.fmtFloatVerb(v.re, verb);
        this.plus = true;
        this.fmtFloatVerb(v.im, verb);
        this.buf += 'i)';
        this.plus = oldPlus;
        break;
      }
      default:
        this.badVerb(verb);
    }
  }

  fmtString(v: string, verb: string): void {
    switch (verb) {
      case 'v':
        if (this.sharpV) this.fmtQ(v);
        else this.fmtS(v);
        break;
      case 's':
        this.fmtS(v);
        break;
      case 'x':
        this.fmtSbx(Buffer.from(v, 'utf8'), LDIGITS);
        break;
      case 'X':
        this.fmtSbx(Buffer.from(v, 'utf8'), UDIGITS);
        break;
      case 'q':
        this.fmtQ(v);
        break;
      default:
        this.badVerb(verb);
    }
  }

  handleMethods(verb: string): boolean {
    if (this.erroring) return false;
    const arg = this.arg;
    if (!(arg instanceof GoStruct)) return false;
    if (this.sharpV) return false;
    switch (verb) {
      case 'v':
      case 's':
      case 'x':
      case 'X':
      case 'q': {
        const e = arg.errorText();
        if (e !== undefined) {
          this.fmtString(e, verb);
          return true;
        }
        const s = arg.stringer();
        if (s !== undefined) {
          this.fmtString(s, verb);
          return true;
        }
      }
    }
    return false;
  }

  printArg(arg: GoValue, verb: string): void {
    this.arg = arg;
    this.hasArg = true;
    this.value = undefined;
    this.hasValue = false;
    if (arg === undefined || arg === null) {
      if (verb === 'T' || verb === 'v') this.pad('<nil>');
      else this.badVerb(verb);
      return;
    }
    if (verb === 'T') {
      this.fmtS(typeOf(arg));
      return;
    }
    if (verb === 'p') {
      this.badVerb(verb);
      return;
    }
    switch (typeof arg) {
      case 'string':
        this.fmtString(arg, verb);
        return;
      case 'boolean':
        this.fmtBool(arg, verb);
        return;
      case 'number':
        this.fmtFloatVerb(arg, verb);
        return;
      case 'bigint':
        this.fmtIntegerVerb(arg, true, verb);
        return;
    }
    if (arg instanceof GoInt) {
      this.fmtIntegerVerb(arg.v, !UINT_TYPES.has(arg.t), verb);
      return;
    }
    if (arg instanceof GoComplex) {
      this.fmtComplexVerb(arg, verb);
      return;
    }
    if (!this.handleMethods(verb)) this.printValue(arg, verb, 0);
  }

  printValue(value: GoValue, verb: string, depth: number): void {
    if (depth > 0 && value !== undefined) {
      this.arg = value;
      this.hasArg = true;
      if (this.handleMethods(verb)) return;
    }
    this.arg = undefined;
    this.hasArg = false;
    this.value = value;
    this.hasValue = true;
    if (value === undefined) {
      if (depth === 0) this.buf += '<invalid reflect.Value>';
      else if (verb === 'v') this.buf += '<nil>';
      else this.badVerb(verb);
      return;
    }
    if (value === null) {
      this.buf += this.sharpV ? 'interface {}(nil)' : '<nil>';
      return;
    }
    switch (typeof value) {
      case 'string':
        this.fmtString(value, verb);
        return;
      case 'boolean':
        this.fmtBool(value, verb);
        return;
      case 'number':
        this.fmtFloatVerb(value, verb);
        return;
      case 'bigint':
        this.fmtIntegerVerb(value, true, verb);
        return;
    }
    if (value instanceof GoInt) {
      this.fmtIntegerVerb(value.v, !UINT_TYPES.has(value.t), verb);
      return;
    }
    if (value instanceof GoComplex) {
      this.fmtComplexVerb(value, verb);
      return;
    }
    if (Array.isArray(value)) {
      const t = sliceType(value);
      if ((verb === 's' || verb === 'q' || verb === 'x' || verb === 'X') && t === '[]uint8') {
        const bytes = Uint8Array.from(value.map((b) => Number((b as GoInt).v)));
        const s = Buffer.from(bytes).toString('latin1');
        if (verb === 's') this.fmtS(Buffer.from(bytes).toString('utf8'));
        else if (verb === 'q') this.fmtQ(Buffer.from(bytes).toString('utf8'));
        else this.fmtSbx(bytes, verb === 'x' ? LDIGITS : UDIGITS);
        void s;
        return;
      }
      if (this.sharpV) {
        this.buf += t;
        if (isNilContainer(value)) {
          this.buf += '(nil)';
          return;
        }
        this.buf += '{';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) this.buf += ', ';
          this.printValue(value[i], verb, depth + 1);
        }
        this.buf += '}';
      } else {
        this.buf += '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) this.buf += ' ';
          this.printValue(value[i], verb, depth + 1);
        }
        this.buf += ']';
      }
      return;
    }
    if (value instanceof GoStruct) {
      if (value.isPointer && depth > 0) {
        this.buf += '0xc000010000';
        return;
      }
      if (value.isPointer) this.buf += '&';
      if (this.sharpV) this.buf += value.goType.replace(/^\*/, '');
      this.buf += '{';
      const fields = value.fields();
      for (let i = 0; i < fields.length; i++) {
        if (i > 0) this.buf += this.sharpV ? ', ' : ' ';
        if (this.plusV || this.sharpV) this.buf += fields[i][0] + ':';
        this.printValue(fields[i][1], verb, depth + 1);
      }
      this.buf += '}';
      return;
    }
    if (value instanceof GoFunc) {
      this.buf += '0x4a5b60';
      return;
    }
    if (isPlainMap(value)) {
      const m = value;
      if (this.sharpV) {
        this.buf += typeOf(m);
        if (isNilContainer(m)) {
          this.buf += '(nil)';
          return;
        }
        this.buf += '{';
      } else this.buf += 'map[';
      const keys = sortedKeys(m);
      for (let i = 0; i < keys.length; i++) {
        if (i > 0) this.buf += this.sharpV ? ', ' : ' ';
        this.printValue(keyFromString(m, keys[i]), verb, depth + 1);
        this.buf += ':';
        this.printValue(m[keys[i]], verb, depth + 1);
      }
      this.buf += this.sharpV ? '}' : ']';
      return;
    }
    this.buf += '?' + typeOf(value) + '?';
  }

  doPrintf(format: string, a: GoValue[]): void {
    const end = format.length;
    let argNum = 0;
    let afterIndex: boolean;
    this.reordered = false;
    formatLoop: for (let i = 0; i < end;) {
      this.goodArgNum = true;
      const lasti = i;
      while (i < end && format.charCodeAt(i) !== 0x25) i++;
      if (i > lasti) this.buf += format.slice(lasti, i);
      if (i >= end) break;
      i++;
      this.clearflags();
      simple: for (; i < end; i++) {
        const c = format[i];
        switch (c) {
          case '#':
            this.sharp = true;
            break;
          case '0':
            this.zero = true;
            break;
          case '+':
            this.plus = true;
            break;
          case '-':
            this.minus = true;
            break;
          case ' ':
            this.space = true;
            break;
          default:
            if (c >= 'a' && c <= 'z' && argNum < a.length) {
              if (c === 'v' || c === 'w') {
                this.sharpV = this.sharp;
                this.sharp = false;
                this.plusV = this.plus;
                this.plus = false;
              }
              this.printArg(a[argNum], c);
              argNum++;
              i++;
              continue formatLoop;
            }
            break simple;
        }
      }
      [argNum, i, afterIndex] = this.argNumber(argNum, format, i, a.length);
      if (i < end && format[i] === '*') {
        i++;
        [this.wid, this.widPresent, argNum] = intFromArg(a, argNum);
        if (!this.widPresent) this.buf += '%!(BADWIDTH)';
        if (this.wid < 0) {
          this.wid = -this.wid;
          this.minus = true;
          this.zero = false;
        }
        afterIndex = false;
      } else {
        [this.wid, this.widPresent, i] = parsenum(format, i, end);
        if (afterIndex && this.widPresent) this.goodArgNum = false;
      }
      if (i + 1 < end && format[i] === '.') {
        i++;
        if (afterIndex) this.goodArgNum = false;
        [argNum, i, afterIndex] = this.argNumber(argNum, format, i, a.length);
        if (i < end && format[i] === '*') {
          i++;
          [this.prec, this.precPresent, argNum] = intFromArg(a, argNum);
          if (this.prec < 0) {
            this.prec = 0;
            this.precPresent = false;
          }
          if (!this.precPresent) this.buf += '%!(BADPREC)';
          afterIndex = false;
        } else {
          [this.prec, this.precPresent, i] = parsenum(format, i, end);
          if (!this.precPresent) {
            this.prec = 0;
            this.precPresent = true;
          }
        }
      }
      if (!afterIndex) [argNum, i] = this.argNumber(argNum, format, i, a.length);
      if (i >= end) {
        this.buf += '%!(NOVERB)';
        break;
      }
      const cp = format.codePointAt(i)!;
      const verb = String.fromCodePoint(cp);
      i += verb.length;
      if (verb === '%') this.buf += '%';
      else if (!this.goodArgNum) this.buf += '%!' + verb + '(BADINDEX)';
      else if (argNum >= a.length) this.buf += '%!' + verb + '(MISSING)';
      else {
        if (verb === 'v' || verb === 'w') {
          this.sharpV = this.sharp;
          this.sharp = false;
          this.plusV = this.plus;
          this.plus = false;
        }
        this.printArg(a[argNum], verb);
        argNum++;
      }
    }
    if (!this.reordered && argNum < a.length) {
      this.clearflags();
      this.buf += '%!(EXTRA ';
      for (let k = argNum; k < a.length; k++) {
        if (k > argNum) this.buf += ', ';
        const arg = a[k];
        if (arg === undefined || arg === null) this.buf += '<nil>';
        else {
          this.buf += typeOf(arg) + '=';
          this.printArg(arg, 'v');
        }
      }
      this.buf += ')';
    }
  }

  argNumber(argNum: number, format: string, i: number, numArgs: number): [number, number, boolean] {
    if (format.length <= i || format[i] !== '[') return [argNum, i, false];
    this.reordered = true;
    const [index, wid, ok] = parseArgNumber(format.slice(i));
    if (ok && index >= 0 && index < numArgs) return [index, i + wid, true];
    this.goodArgNum = false;
    return [argNum, i + wid, ok];
  }
}

function runeCount(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c < 0xdc00) n--;
  }
  return n;
}

function tooLarge(x: number): boolean {
  return x > 1e6 || x < -1e6;
}

function parsenum(s: string, start: number, end: number): [number, boolean, number] {
  if (start >= end) return [0, false, end];
  let num = 0;
  let isnum = false;
  let i = start;
  for (; i < end && s.charCodeAt(i) >= 0x30 && s.charCodeAt(i) <= 0x39; i++) {
    if (tooLarge(num)) return [0, false, end];
    num = num * 10 + (s.charCodeAt(i) - 0x30);
    isnum = true;
  }
  return [num, isnum, i];
}

function parseArgNumber(format: string): [number, number, boolean] {
  if (format.length < 3) return [0, 1, false];
  for (let i = 1; i < format.length; i++) {
    if (format[i] === ']') {
      const [width, ok, newi] = parsenum(format, 1, i);
      if (!ok || newi !== i) return [0, i + 1, false];
      return [width - 1, i + 1, true];
    }
  }
  return [0, 1, false];
}

function intFromArg(a: GoValue[], argNum: number): [number, boolean, number] {
  let num = 0;
  let isInt = false;
  let newArgNum = argNum;
  if (argNum < a.length) {
    const v = a[argNum];
    if (typeof v === 'bigint') {
      num = Number(v);
      isInt = true;
    } else if (v instanceof GoInt) {
      if (UINT_TYPES.has(v.t)) {
        if (v.v <= 9223372036854775807n) {
          num = Number(v.v);
          isInt = true;
        }
      } else {
        num = Number(v.v);
        isInt = true;
      }
    }
    newArgNum = argNum + 1;
    if (tooLarge(num)) {
      num = 0;
      isInt = false;
    }
  }
  return [num, isInt, newArgNum];
}

/** fmt.Sprint: spaces between operands when neither is a string. */
export function sprint(args: GoValue[]): string {
  const p = new Printer();
  let prevString = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const isString = typeof arg === 'string';
    if (i > 0 && !isString && !prevString) p.buf += ' ';
    p.printArg(arg, 'v');
    prevString = isString;
  }
  return p.buf;
}

/** fmt.Sprintln */
export function sprintln(args: GoValue[]): string {
  const p = new Printer();
  for (let i = 0; i < args.length; i++) {
    if (i > 0) p.buf += ' ';
    p.printArg(args[i], 'v');
  }
  return p.buf + '\n';
}

/** fmt.Sprintf */
export function sprintf(format: string, args: GoValue[]): string {
  // Fast path: only %s / %d / %v verbs on strings without flags is common in templates.
  const p = new Printer();
  p.doPrintf(format, args);
  return p.buf;
}

/** The text of a single value as fmt.Sprint(v) prints it. */
export function formatValue(v: GoValue): string {
  if (typeof v === 'string') return v;
  const p = new Printer();
  p.printArg(v, 'v');
  return p.buf;
}
