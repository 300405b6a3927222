// sprig integer and float math (numeric.go, the arithmetic entries of functions.go). Float
// arithmetic goes through shopspring/decimal like sprig does.
import { randomInt } from 'node:crypto';
import { FuncError } from '../errors.ts';
import { formatValue } from '../fmt.ts';
import { fn } from '../functions.ts';
import type { FuncMap } from '../functions.ts';
import { formatFloat, parseIntGo } from '../strconv.ts';
import type { GoValue } from '../values.ts';
import { GoInt } from '../values.ts';
import { toFloat64, toInt, toInt64 } from './cast.ts';

const A = 'interface {}';
const I64 = 'int64';
const F = 'float64';

const wrap = (v: bigint): bigint => BigInt.asIntN(64, v);

// ---- shopspring/decimal subset: value = m * 10^e
interface Dec {
  m: bigint;
  e: number;
}

function decFromFloat(f: number): Dec {
  if (!Number.isFinite(f)) throw new FuncError(`Cannot create a Decimal from ${formatFloat(f, 'g', -1)}`);
  if (f === 0) return { m: 0n, e: 0 };
  const s = formatFloat(f, 'e', -1); // d.ddde±x
  const [mant, exp] = s.split('e');
  const neg = mant.startsWith('-');
  const digits = mant.replace('-', '').replace('.', '');
  const e = Number(exp) - (digits.length - 1);
  const m = BigInt(digits);
  return { m: neg ? -m : m, e };
}

function align(a: Dec, b: Dec): [bigint, bigint, number] {
  if (a.e === b.e) return [a.m, b.m, a.e];
  if (a.e < b.e) return [a.m, b.m * 10n ** BigInt(b.e - a.e), a.e];
  return [a.m * 10n ** BigInt(a.e - b.e), b.m, b.e];
}

function decAdd(a: Dec, b: Dec): Dec {
  const [x, y, e] = align(a, b);
  return { m: x + y, e };
}
function decSub(a: Dec, b: Dec): Dec {
  const [x, y, e] = align(a, b);
  return { m: x - y, e };
}
function decMul(a: Dec, b: Dec): Dec {
  return { m: a.m * b.m, e: a.e + b.e };
}
/** DivRound(d2, 16): quotient rounded half away from zero to 16 decimal places. */
function decDiv(a: Dec, b: Dec): Dec {
  if (b.m === 0n) throw new FuncError('decimal division by 0');
  const prec = 16;
  // q = a/b * 10^prec, as an integer with rounding.
  let num = a.m;
  let den = b.m;
  const shift = a.e - b.e + prec;
  if (shift >= 0) num *= 10n ** BigInt(shift);
  else den *= 10n ** BigInt(-shift);
  const neg = num < 0n !== den < 0n;
  if (num < 0n) num = -num;
  if (den < 0n) den = -den;
  let q = num / den;
  const r = num % den;
  if (r * 2n >= den) q += 1n;
  return { m: neg ? -q : q, e: -prec };
}
function decToFloat(d: Dec): number {
  if (d.m === 0n) return 0;
  return Number(`${d.m}e${d.e}`);
}

function decimalOp(a: GoValue, b: GoValue[], op: (x: Dec, y: Dec) => Dec): number {
  let prt = decFromFloat(toFloat64(a));
  for (const x of b) prt = op(prt, decFromFloat(toFloat64(x)));
  return decToFloat(prt);
}

function goDiv(a: bigint, b: bigint): bigint {
  if (b === 0n) throw new FuncError('runtime error: integer divide by zero');
  if (a === -9223372036854775808n && b === -1n) return a;
  return a / b;
}
function goMod(a: bigint, b: bigint): bigint {
  if (b === 0n) throw new FuncError('runtime error: integer divide by zero');
  if (b === -1n) return 0n;
  return a % b;
}

function round(a: GoValue, p: GoInt, ...rOpt: number[]): number {
  let roundOn = 0.5;
  if (rOpt.length > 0) roundOn = rOpt[0];
  const val = toFloat64(a);
  const places = Number(p.v);
  const pow = Math.pow(10, places);
  const digit = pow * val;
  const div = digit - Math.trunc(digit);
  const r = div >= roundOn ? Math.ceil(digit) : Math.floor(digit);
  return r / pow;
}

function toDecimal(v: GoValue): bigint {
  const r = parseIntGo(formatValue(v === undefined ? null : v), 8, 64);
  return r.err ? 0n : r.value!;
}

export function mathFuncs(): FuncMap {
  return {
    add1: fn([A], I64, (i: GoValue) => wrap(toInt64(i) + 1n)),
    add: fn([], I64, (...i: GoValue[]) => i.reduce<bigint>((acc, b) => wrap(acc + toInt64(b)), 0n), { variadic: A }),
    sub: fn([A, A], I64, (a: GoValue, b: GoValue) => wrap(toInt64(a) - toInt64(b))),
    div: fn([A, A], I64, (a: GoValue, b: GoValue) => goDiv(toInt64(a), toInt64(b))),
    mod: fn([A, A], I64, (a: GoValue, b: GoValue) => goMod(toInt64(a), toInt64(b))),
    mul: fn(
      [A],
      I64,
      (a: GoValue, ...v: GoValue[]) => v.reduce<bigint>((acc, b) => wrap(acc * toInt64(b)), toInt64(a)),
      { variadic: A },
    ),
    randInt: fn(['int', 'int'], 'int', (min: GoInt, max: GoInt) => {
      const span = max.v - min.v;
      if (span <= 0n) throw new FuncError('invalid argument to Intn');
      return new GoInt('int', BigInt(randomInt(Number(span))) + min.v);
    }),
    add1f: fn([A], F, (i: GoValue) => decimalOp(i, [new GoInt('int', 1n)], decAdd)),
    addf: fn([], F, (...i: GoValue[]) => decimalOp(0, i, decAdd), { variadic: A }),
    subf: fn([A], F, (a: GoValue, ...v: GoValue[]) => decimalOp(a, v, decSub), { variadic: A }),
    divf: fn([A], F, (a: GoValue, ...v: GoValue[]) => decimalOp(a, v, decDiv), { variadic: A }),
    mulf: fn([A], F, (a: GoValue, ...v: GoValue[]) => decimalOp(a, v, decMul), { variadic: A }),
    biggest: fn(
      [A],
      I64,
      (a: GoValue, ...i: GoValue[]) => i.reduce<bigint>((acc, b) => (toInt64(b) > acc ? toInt64(b) : acc), toInt64(a)),
      { variadic: A },
    ),
    max: fn(
      [A],
      I64,
      (a: GoValue, ...i: GoValue[]) => i.reduce<bigint>((acc, b) => (toInt64(b) > acc ? toInt64(b) : acc), toInt64(a)),
      { variadic: A },
    ),
    min: fn(
      [A],
      I64,
      (a: GoValue, ...i: GoValue[]) => i.reduce<bigint>((acc, b) => (toInt64(b) < acc ? toInt64(b) : acc), toInt64(a)),
      { variadic: A },
    ),
    maxf: fn(
      [A],
      F,
      (a: GoValue, ...i: GoValue[]) => i.reduce<number>((acc, b) => goMax(acc, toFloat64(b)), toFloat64(a)),
      { variadic: A },
    ),
    minf: fn(
      [A],
      F,
      (a: GoValue, ...i: GoValue[]) => i.reduce<number>((acc, b) => goMin(acc, toFloat64(b)), toFloat64(a)),
      { variadic: A },
    ),
    ceil: fn([A], F, (a: GoValue) => Math.ceil(toFloat64(a))),
    floor: fn([A], F, (a: GoValue) => Math.floor(toFloat64(a))),
    round: fn([A, 'int'], F, round, { variadic: F }),
    int64: fn([A], I64, toInt64),
    int: fn([A], 'int', toInt),
    float64: fn([A], F, toFloat64),
    toDecimal: fn([A], I64, toDecimal),
  };
}

function goMax(a: number, b: number): number {
  if (a === Infinity || b === Infinity) return Infinity;
  if (Number.isNaN(a) || Number.isNaN(b)) return NaN;
  if (a === 0 && b === 0) return Object.is(a, -0) ? b : a;
  return a > b ? a : b;
}
function goMin(a: number, b: number): number {
  if (a === -Infinity || b === -Infinity) return -Infinity;
  if (Number.isNaN(a) || Number.isNaN(b)) return NaN;
  if (a === 0 && b === 0) return Object.is(a, -0) ? a : b;
  return a < b ? a : b;
}
