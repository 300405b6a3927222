// time.* built-ins. Time zones: only UTC ("" or "UTC") is supported; other zones are an error rather than a
// silently wrong answer. Nanosecond results are returned as exact big integers; nanosecond arguments arrive
// as JS numbers, so present-day timestamps are handled at microsecond precision (see toNs).
import { type BuiltinTable, type RawJson, fail, rawNumber, typeName, wantString } from './types.ts';
import { parseGoDuration } from '../../connector/duration.ts';

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/** Go's named layouts, accepted by time.format in place of a layout string. */
const NAMED_LAYOUTS: Record<string, string> = {
  ANSIC: 'Mon Jan _2 15:04:05 2006',
  UnixDate: 'Mon Jan _2 15:04:05 MST 2006',
  RubyDate: 'Mon Jan 02 15:04:05 -0700 2006',
  RFC822: '02 Jan 06 15:04 MST',
  RFC822Z: '02 Jan 06 15:04 -0700',
  RFC850: 'Monday, 02-Jan-06 15:04:05 MST',
  RFC1123: 'Mon, 02 Jan 2006 15:04:05 MST',
  RFC1123Z: 'Mon, 02 Jan 2006 15:04:05 -0700',
  RFC3339: '2006-01-02T15:04:05Z07:00',
  RFC3339Nano: '2006-01-02T15:04:05.999999999Z07:00',
  Kitchen: '3:04PM',
  Stamp: 'Jan _2 15:04:05',
  StampMilli: 'Jan _2 15:04:05.000',
  StampMicro: 'Jan _2 15:04:05.000000',
  StampNano: 'Jan _2 15:04:05.000000000',
  DateTime: '2006-01-02 15:04:05',
  DateOnly: '2006-01-02',
  TimeOnly: '15:04:05',
};

interface Parts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  nanos: number;
  weekday: number;
  yday: number;
}

function partsOf(ns: bigint): Parts {
  let ms = ns / 1_000_000n;
  let nanos = Number(ns % 1_000_000_000n);
  if (nanos < 0) nanos += 1_000_000_000;
  if (ns < 0n && ns % 1_000_000n !== 0n) ms -= 1n;
  const d = new Date(Number(ms));
  if (Number.isNaN(d.getTime())) throw new Error('timestamp out of range');
  const start = Date.UTC(d.getUTCFullYear(), 0, 1);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    nanos,
    weekday: d.getUTCDay(),
    yday: Math.floor((Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - start) / 86_400_000) + 1,
  };
}

const pad = (n: number, width: number, fill = '0') => String(n).padStart(width, fill);

/** Go's Time.Format for a UTC time; the layout tokens follow Go's time.nextStdChunk. */
export function goFormat(ns: bigint, layout: string): string {
  const p = partsOf(ns);
  const tokens: [string, () => string][] = [
    ['January', () => MONTHS[p.month - 1]],
    ['Jan', () => MONTHS[p.month - 1].slice(0, 3)],
    ['Monday', () => DAYS[p.weekday]],
    ['Mon', () => DAYS[p.weekday].slice(0, 3)],
    ['MST', () => 'UTC'],
    ['2006', () => pad(p.year, 4)],
    ['002', () => pad(p.yday, 3)],
    ['__2', () => pad(p.yday, 3, ' ')],
    ['01', () => pad(p.month, 2)],
    ['02', () => pad(p.day, 2)],
    ['03', () => pad(p.hour % 12 || 12, 2)],
    ['04', () => pad(p.minute, 2)],
    ['05', () => pad(p.second, 2)],
    ['06', () => pad(p.year % 100, 2)],
    ['_2', () => pad(p.day, 2, ' ')],
    ['15', () => pad(p.hour, 2)],
    ['1', () => String(p.month)],
    ['2', () => String(p.day)],
    ['3', () => String(p.hour % 12 || 12)],
    ['4', () => String(p.minute)],
    ['5', () => String(p.second)],
    ['PM', () => (p.hour >= 12 ? 'PM' : 'AM')],
    ['pm', () => (p.hour >= 12 ? 'pm' : 'am')],
    ['Z07:00:00', () => 'Z'],
    ['-07:00:00', () => '+00:00:00'],
    ['Z070000', () => 'Z'],
    ['-070000', () => '+000000'],
    ['Z07:00', () => 'Z'],
    ['-07:00', () => '+00:00'],
    ['Z0700', () => 'Z'],
    ['-0700', () => '+0000'],
    ['Z07', () => 'Z'],
    ['-07', () => '+00'],
  ];
  let out = '';
  for (let i = 0; i < layout.length;) {
    const frac = /^[.,](0+|9+)(?![0-9])/.exec(layout.slice(i));
    if (frac) {
      const digits = pad(p.nanos, 9).slice(0, frac[1].length);
      if (frac[1][0] === '0') out += layout[i] + digits;
      else {
        const trimmed = digits.replace(/0+$/, '');
        if (trimmed) out += layout[i] + trimmed;
      }
      i += frac[0].length;
      continue;
    }
    const hit = tokens.find(([t]) => layout.startsWith(t, i));
    if (hit) {
      out += hit[1]();
      i += hit[0].length;
    } else {
      out += layout[i];
      i++;
    }
  }
  return out;
}

function timeArg(name: string, x: unknown, maxLen: number): { ns: bigint; layout?: string } {
  let nsValue: unknown = x;
  let tz = '';
  let layout: string | undefined;
  if (Array.isArray(x)) {
    if (x.length < 2 || x.length > maxLen)
      fail(name, `operand 1 must be a number or an array of ${maxLen === 3 ? '2 or 3' : '2'} elements`);
    [nsValue, tz, layout] = x as [unknown, string, string | undefined];
    wantString(name, 1, tz);
  }
  if (typeof nsValue !== 'number' || !Number.isFinite(nsValue))
    fail(name, `operand 1 must be number but got ${typeName(nsValue)}`);
  if (tz !== '' && tz !== 'UTC') fail(name, `time zone ${JSON.stringify(tz)} is not supported (only UTC)`);
  return { ns: toNs(nsValue), layout };
}

/**
 * A nanosecond count as it arrives from wasm (JSON-decoded, so a float64). Beyond 2^53 (any present-day
 * timestamp) float64 is only accurate to ±128ns, so such values are rounded to whole microseconds: a
 * timestamp that was a whole microsecond (e.g. built from seconds) comes out exact, not off by a few ns.
 */
export function toNs(x: number): bigint {
  if (Number.isSafeInteger(x)) return BigInt(x);
  return BigInt(Math.round(x / 1000)) * 1000n;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

export function parseRfc3339Ns(value: string): bigint {
  const m = RFC3339.exec(value);
  if (!m) throw new Error(`cannot parse ${JSON.stringify(value)} as RFC3339`);
  const [, y, mo, d, h, mi, s, frac, , sign, oh, om] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  const check = new Date(ms);
  if (
    check.getUTCDate() !== Number(d) ||
    check.getUTCMonth() !== Number(mo) - 1 ||
    Number(h) > 23 ||
    Number(mi) > 59 ||
    Number(s) > 59
  ) {
    throw new Error(`cannot parse ${JSON.stringify(value)} as RFC3339: field out of range`);
  }
  let ns = BigInt(ms) * 1_000_000n + BigInt((frac ?? '').padEnd(9, '0') || '0');
  if (sign) ns -= BigInt((sign === '-' ? -1 : 1) * (Number(oh) * 3600 + Number(om) * 60)) * 1_000_000_000n;
  return ns;
}

function guarded<T>(name: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    return fail(name, (err as Error).message);
  }
}

export const timeBuiltins: BuiltinTable = {
  'time.now_ns': { impl: (ctx): RawJson => rawNumber(ctx.nowNs()) },
  'time.parse_rfc3339_ns': {
    impl: (_ctx, x: unknown) =>
      rawNumber(guarded('time.parse_rfc3339_ns', () => parseRfc3339Ns(wantString('time.parse_rfc3339_ns', 1, x)))),
  },
  'time.parse_duration_ns': {
    impl: (_ctx, x: unknown) =>
      rawNumber(guarded('time.parse_duration_ns', () => parseGoDuration(wantString('time.parse_duration_ns', 1, x)))),
  },
  'time.format': {
    impl: (_ctx, x: unknown) => {
      const { ns, layout } = timeArg('time.format', x, 3);
      return guarded('time.format', () =>
        goFormat(ns, layout === undefined ? NAMED_LAYOUTS.RFC3339Nano : (NAMED_LAYOUTS[layout] ?? layout)),
      );
    },
  },
  'time.date': {
    impl: (_ctx, x: unknown) => {
      const p = guarded('time.date', () => partsOf(timeArg('time.date', x, 2).ns));
      return [p.year, p.month, p.day];
    },
  },
  'time.clock': {
    impl: (_ctx, x: unknown) => {
      const p = guarded('time.clock', () => partsOf(timeArg('time.clock', x, 2).ns));
      return [p.hour, p.minute, p.second];
    },
  },
  'time.weekday': {
    impl: (_ctx, x: unknown) => DAYS[guarded('time.weekday', () => partsOf(timeArg('time.weekday', x, 2).ns)).weekday],
  },
  'time.add_date': {
    impl: (_ctx, ns: unknown, years: unknown, months: unknown, days: unknown) => {
      const name = 'time.add_date';
      for (const [i, v] of [ns, years, months, days].entries())
        if (typeof v !== 'number') fail(name, `operand ${i + 1} must be number but got ${typeName(v)}`);
      const base = toNs(ns as number);
      const p = guarded(name, () => partsOf(base));
      const ms = Date.UTC(
        p.year + (years as number),
        p.month - 1 + (months as number),
        p.day + (days as number),
        p.hour,
        p.minute,
        p.second,
      );
      return rawNumber(BigInt(ms) * 1_000_000n + BigInt(p.nanos));
    },
  },
};
