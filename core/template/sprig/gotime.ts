// Go's time package for templates: time.Time values, layouts (Format/Parse), Duration.
import { readFileSync, statSync } from 'node:fs';
import { FuncError } from '../errors.ts';
import { marshal } from '../json.ts';
import { quoteGo } from '../strconv.ts';
import { DurationError, parseGoDuration } from '../../connector/duration.ts';
import type { GoMethod, GoValue } from '../values.ts';
import { GoInt, GoStruct } from '../values.ts';

const NS = 1_000_000_000n;
const UNIX_TO_INTERNAL = 62135596800n; // seconds from year 1 to 1970

export interface Zone {
  name: string; // location name: UTC, Local, Europe/Paris, or "" for fixed zones
  fixed?: { abbr: string; offset: number };
}

export const UTC: Zone = { name: 'UTC' };

export function localZone(): Zone {
  const tz = process.env.TZ;
  if (tz === undefined || tz === '' || tz === 'UTC' || tz === 'Etc/UTC') {
    const sys = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (tz === '' || tz === 'UTC' || !sys || sys === 'UTC' || sys === 'Etc/UTC')
      return { name: 'Local', fixed: { abbr: 'UTC', offset: 0 } };
    return { name: 'Local', fixed: undefined, ...{ iana: sys } };
  }
  return { name: 'Local', ...{ iana: tz } };
}

function ianaOf(z: Zone): string | undefined {
  if (z.fixed) return undefined;
  if (z.name === 'UTC') return undefined;
  return (z as { iana?: string }).iana ?? (z.name === 'Local' ? undefined : z.name);
}

const dtfCache = new Map<string, Intl.DateTimeFormat>();

/** Offset (seconds east of UTC) and abbreviation of a zone at an instant. */
export function zoneAt(z: Zone, unixSec: bigint): { offset: number; abbr: string } {
  if (z.fixed) return { offset: z.fixed.offset, abbr: z.fixed.abbr };
  const iana = ianaOf(z);
  if (!iana) return { offset: 0, abbr: 'UTC' };
  let dtf = dtfCache.get(iana);
  if (!dtf) {
    dtf = new Intl.DateTimeFormat('en-US', {
      timeZone: iana,
      timeZoneName: 'longOffset',
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    dtfCache.set(iana, dtf);
  }
  const ms = Number(unixSec) * 1000;
  const clamped = Math.max(-8.64e15, Math.min(8.64e15, ms));
  const parts = dtf.formatToParts(new Date(clamped));
  const tzn = parts.find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
  const m = /GMT([+-])(\d{2}):(\d{2})(?::(\d{2}))?/.exec(tzn);
  const offset = m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4] ?? 0)) : 0;
  let abbr = tzifAbbr(iana, offset, unixSec) ?? shortName(iana, clamped);
  if (/^GMT[+-]/.test(abbr) || (abbr === 'GMT' && offset !== 0)) abbr = offsetAbbr(offset);
  return { offset, abbr };
}

// ---- TZif (the system zoneinfo Go reads) for zone abbreviations
const ZONEINFO_DIRS = ['/usr/share/zoneinfo/', '/usr/share/lib/zoneinfo/', '/usr/lib/locale/TZ/', '/etc/zoneinfo/'];
interface TzInfo {
  transitions: bigint[];
  idx: number[];
  types: { offset: number; isdst: boolean; abbr: string }[];
}
const tzifCache = new Map<string, TzInfo | null>();

function zoneinfoPath(name: string): string | undefined {
  const dirs = process.env.ZONEINFO ? [process.env.ZONEINFO.replace(/\/?$/, '/'), ...ZONEINFO_DIRS] : ZONEINFO_DIRS;
  for (const d of dirs) {
    const p = d + name;
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      // next
    }
  }
  return undefined;
}

function readTzif(name: string): TzInfo | null {
  if (tzifCache.has(name)) return tzifCache.get(name)!;
  let info: TzInfo | null = null;
  try {
    const p = zoneinfoPath(name);
    if (p) {
      const b = readFileSync(p);
      if (b.toString('latin1', 0, 4) === 'TZif') {
        const version = b[4];
        const hdr = (off: number) => [0, 1, 2, 3, 4, 5].map((k) => b.readUInt32BE(off + 20 + k * 4));
        let off = 0;
        let [isutc, isstd, leap, timecnt, typecnt, charcnt] = hdr(0);
        let tsize = 4;
        if (version >= 0x32) {
          off = 44 + timecnt * 5 + typecnt * 6 + charcnt + leap * 8 + isstd + isutc;
          [isutc, isstd, leap, timecnt, typecnt, charcnt] = hdr(off);
          tsize = 8;
        }
        let q = off + 44;
        const transitions: bigint[] = [];
        for (let i = 0; i < timecnt; i++, q += tsize)
          transitions.push(tsize === 8 ? b.readBigInt64BE(q) : BigInt(b.readInt32BE(q)));
        const idx: number[] = [];
        for (let i = 0; i < timecnt; i++) idx.push(b[q++]);
        const raw: { offset: number; isdst: boolean; ai: number }[] = [];
        for (let i = 0; i < typecnt; i++, q += 6)
          raw.push({ offset: b.readInt32BE(q), isdst: b[q + 4] === 1, ai: b[q + 5] });
        const chars = b.toString('latin1', q, q + charcnt);
        const types = raw.map((t) => ({
          offset: t.offset,
          isdst: t.isdst,
          abbr: chars.slice(t.ai, chars.indexOf('\0', t.ai)),
        }));
        info = { transitions, idx, types };
      }
    }
  } catch {
    info = null;
  }
  tzifCache.set(name, info);
  return info;
}

function tzifAbbr(name: string, offset: number, unixSec: bigint): string | undefined {
  const info = readTzif(name);
  if (!info || info.types.length === 0) return undefined;
  // The type in effect at the instant, if its offset agrees; else the latest type with that offset.
  let i = info.transitions.length - 1;
  while (i >= 0 && info.transitions[i] > unixSec) i--;
  if (i >= 0) {
    const t = info.types[info.idx[i]];
    if (t.offset === offset) return t.abbr;
  }
  for (let k = info.idx.length - 1; k >= 0; k--) {
    const t = info.types[info.idx[k]];
    if (t.offset === offset) return t.abbr;
  }
  return info.types.find((t) => t.offset === offset)?.abbr;
}

const shortCache = new Map<string, Intl.DateTimeFormat>();
function shortName(iana: string, ms: number): string {
  let f = shortCache.get(iana);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: iana, timeZoneName: 'short' });
    shortCache.set(iana, f);
  }
  return f.formatToParts(new Date(ms)).find((p) => p.type === 'timeZoneName')?.value ?? 'UTC';
}

function offsetAbbr(offset: number): string {
  const sign = offset < 0 ? '-' : '+';
  const a = Math.abs(offset);
  const h = Math.floor(a / 3600);
  const m = Math.floor((a % 3600) / 60);
  return sign + String(h).padStart(2, '0') + (m ? String(m).padStart(2, '0') : '');
}

/** time.LoadLocation */
export function loadLocation(name: string): Zone | undefined {
  if (name === '' || name === 'UTC') return UTC;
  if (name === 'Local') return localZone();
  if (name.includes('..') || name.startsWith('/') || name.includes('\\')) return undefined;
  if (!zoneinfoPath(name)) return undefined;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
  } catch {
    return undefined;
  }
  return { name };
}

// ---- civil date helpers (proleptic Gregorian)
function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function civilFromDays(z: number): [number, number, number] {
  z += 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const y = yoe + era * 400;
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp + (mp < 10 ? 3 : -9);
  return [m <= 2 ? y + 1 : y, m, d];
}

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

export class GoTime extends GoStruct {
  readonly goType = 'time.Time';
  /** Unix seconds */
  sec: bigint;
  nsec: number;
  zone: Zone;
  /** monotonic reading in ns (now() only), printed as m=±s.nnnnnnnnn */
  mono?: bigint;
  constructor(sec: bigint, nsec: number, zone: Zone, mono?: bigint) {
    super();
    this.sec = sec;
    this.nsec = nsec;
    this.zone = zone;
    this.mono = mono;
  }
  static zero(): GoTime {
    return new GoTime(-UNIX_TO_INTERNAL, 0, UTC);
  }
  isZero(): boolean {
    return this.sec === -UNIX_TO_INTERNAL && this.nsec === 0;
  }
  in(z: Zone): GoTime {
    return new GoTime(this.sec, this.nsec, z);
  }
  /** Civil fields in the time's zone. */
  civil(): {
    year: number;
    month: number;
    day: number;
    hour: number;
    min: number;
    sec: number;
    wday: number;
    yday: number;
    offset: number;
    abbr: string;
  } {
    const { offset, abbr } = zoneAt(this.zone, this.sec);
    const local = this.sec + BigInt(offset);
    let days = local / 86400n;
    let rem = local % 86400n;
    if (rem < 0n) {
      rem += 86400n;
      days -= 1n;
    }
    const d = Number(days);
    const [year, month, day] = civilFromDays(d);
    const r = Number(rem);
    const wday = (((d + 4) % 7) + 7) % 7;
    const yday = d - daysFromCivil(year, 1, 1) + 1;
    return {
      year,
      month,
      day,
      hour: Math.floor(r / 3600),
      min: Math.floor((r % 3600) / 60),
      sec: r % 60,
      wday,
      yday,
      offset,
      abbr,
    };
  }
  format(layout: string): string {
    return formatTime(this, layout);
  }
  override toString(): string {
    let s = this.format('2006-01-02 15:04:05.999999999 -0700 MST');
    if (this.mono !== undefined) {
      const m = this.mono;
      const sign = m < 0n ? '-' : '+';
      const a = m < 0n ? -m : m;
      s += ` m=${sign}${a / NS}.${String(a % NS).padStart(9, '0')}`;
    }
    return s;
  }
  override stringer(): string {
    return this.toString();
  }
  unixNano(): bigint {
    return this.sec * NS + BigInt(this.nsec);
  }
  marshalJSON(): string {
    return marshal(this.format('2006-01-02T15:04:05.999999999Z07:00'));
  }
  deepEqual(o: GoStruct): boolean {
    return o instanceof GoTime && o.sec === this.sec && o.nsec === this.nsec && o.zone.name === this.zone.name;
  }
  add(d: bigint): GoTime {
    const total = this.unixNano() + d;
    let sec = total / NS;
    let ns = total % NS;
    if (ns < 0n) {
      ns += NS;
      sec -= 1n;
    }
    return new GoTime(sec, Number(ns), this.zone, this.mono !== undefined ? this.mono + d : undefined);
  }
  override method(name: string): GoMethod | undefined {
    const int = (n: number) => new GoInt('int', BigInt(n));
    switch (name) {
      case 'Format':
        return { params: ['string'], ret: 'string', call: (l) => this.format(l as string) };
      case 'String':
        return { params: [], ret: 'string', call: () => this.toString() };
      case 'Unix':
        return { params: [], ret: 'int64', call: () => this.sec };
      case 'UnixMilli':
        return { params: [], ret: 'int64', call: () => this.unixNano() / 1_000_000n };
      case 'UnixNano':
        return { params: [], ret: 'int64', call: () => this.unixNano() };
      case 'Year':
        return { params: [], ret: 'int', call: () => int(this.civil().year) };
      case 'Month':
        return { params: [], ret: 'time.Month', call: () => new GoMonth(this.civil().month) };
      case 'Day':
        return { params: [], ret: 'int', call: () => int(this.civil().day) };
      case 'Hour':
        return { params: [], ret: 'int', call: () => int(this.civil().hour) };
      case 'Minute':
        return { params: [], ret: 'int', call: () => int(this.civil().min) };
      case 'Second':
        return { params: [], ret: 'int', call: () => int(this.civil().sec) };
      case 'Nanosecond':
        return { params: [], ret: 'int', call: () => int(this.nsec) };
      case 'YearDay':
        return { params: [], ret: 'int', call: () => int(this.civil().yday) };
      case 'Weekday':
        return { params: [], ret: 'time.Weekday', call: () => new GoWeekday(this.civil().wday) };
      case 'IsZero':
        return { params: [], ret: 'bool', call: () => this.isZero() };
      case 'UTC':
        return { params: [], ret: 'time.Time', call: () => this.in(UTC) };
      case 'Local':
        return { params: [], ret: 'time.Time', call: () => this.in(localZone()) };
      case 'Add':
        return { params: ['time.Duration'], ret: 'time.Time', call: (d) => this.add((d as GoInt).v) };
      case 'Before':
        return { params: ['time.Time'], ret: 'bool', call: (o) => this.unixNano() < (o as GoTime).unixNano() };
      case 'After':
        return { params: ['time.Time'], ret: 'bool', call: (o) => this.unixNano() > (o as GoTime).unixNano() };
      case 'Equal':
        return { params: ['time.Time'], ret: 'bool', call: (o) => this.unixNano() === (o as GoTime).unixNano() };
    }
    return undefined;
  }
}

export class GoMonth extends GoStruct {
  readonly goType = 'time.Month';
  readonly m: number;
  constructor(m: number) {
    super();
    this.m = m;
  }
  override stringer(): string {
    return MONTHS[this.m - 1] ?? `%!Month(${this.m})`;
  }
}

export class GoWeekday extends GoStruct {
  readonly goType = 'time.Weekday';
  readonly d: number;
  constructor(d: number) {
    super();
    this.d = d;
  }
  override stringer(): string {
    return DAYS[this.d] ?? `%!Weekday(${this.d})`;
  }
}

export function now(): GoTime {
  const ms = BigInt(Date.now());
  const hr = process.hrtime.bigint();
  return new GoTime(ms / 1000n, Number((ms % 1000n) * 1_000_000n), localZone(), hr % 1_000_000n);
}

export function fromUnix(sec: bigint, zone: Zone = localZone()): GoTime {
  return new GoTime(sec, 0, zone);
}

// ---- layouts
type Chunk = { std: string } | { lit: string };

/** Splits a layout into std chunks and literals (Go's nextStdChunk). */
function chunks(layout: string): Chunk[] {
  const out: Chunk[] = [];
  let lit = '';
  let i = 0;
  const push = (std: string) => {
    if (lit) out.push({ lit });
    lit = '';
    out.push({ std });
  };
  while (i < layout.length) {
    const s = layout.slice(i);
    const c = s[0];
    let m: string | undefined;
    switch (c) {
      case 'J':
        if (s.startsWith('Jan')) m = s.startsWith('January') ? 'January' : !isLower(s[3]) ? 'Jan' : undefined;
        break;
      case 'M':
        if (s.startsWith('Mon')) m = s.startsWith('Monday') ? 'Monday' : !isLower(s[3]) ? 'Mon' : undefined;
        if (!m && s.startsWith('MST')) m = 'MST';
        break;
      case '0':
        if (s.length >= 2 && s[1] >= '1' && s[1] <= '6') m = s.slice(0, 2);
        if (s.startsWith('002')) m = '002';
        break;
      case '1':
        m = s.startsWith('15') ? '15' : '1';
        break;
      case '2':
        m = s.startsWith('2006') ? '2006' : '2';
        break;
      case '_':
        if (s.startsWith('_2')) {
          if (s.startsWith('_2006')) {
            lit += '_';
            i++;
            continue;
          }
          m = s.startsWith('__2') ? undefined : '_2';
        } else if (s.startsWith('__2')) m = '__2';
        break;
      case '3':
      case '4':
      case '5':
        m = c;
        break;
      case 'P':
        if (s[1] === 'M') m = 'PM';
        break;
      case 'p':
        if (s[1] === 'm') m = 'pm';
        break;
      case '-':
        for (const z of ['-07:00:00', '-070000', '-07:00', '-0700', '-07'])
          if (s.startsWith(z)) {
            m = z;
            break;
          }
        break;
      case 'Z':
        for (const z of ['Z07:00:00', 'Z070000', 'Z07:00', 'Z0700', 'Z07'])
          if (s.startsWith(z)) {
            m = z;
            break;
          }
        break;
      case '.':
      case ',': {
        const fm = /^[.,](0+|9+)/.exec(s);
        if (fm && !/[0-9]/.test(s[fm[0].length] ?? '')) {
          push(s.slice(0, fm[0].length));
          i += fm[0].length;
          continue;
        }
        break;
      }
    }
    if (m === undefined && c === '_' && s.startsWith('__2')) m = '__2';
    if (m) {
      push(m);
      i += m.length;
    } else {
      lit += c;
      i++;
    }
  }
  if (lit) out.push({ lit });
  return out;
}

function isLower(c: string | undefined): boolean {
  return c !== undefined && c >= 'a' && c <= 'z';
}

const pad2 = (n: number) => String(n).padStart(2, '0');

function fmtZone(std: string, offset: number): string {
  if (std.startsWith('Z') && offset === 0) return 'Z';
  let zone = Math.floor(offset / 60);
  let absoff = offset;
  let s: string;
  if (zone < 0) {
    s = '-';
    zone = -zone;
    absoff = -absoff;
  } else s = '+';
  const z = std.replace(/^Z/, '-');
  s += pad2(Math.floor(zone / 60));
  if (z === '-07:00' || z === '-07:00:00') s += ':';
  if (z !== '-07') s += pad2(zone % 60);
  if (z === '-07:00:00' || z === '-070000') {
    if (z === '-07:00:00') s += ':';
    s += pad2(absoff % 60);
  }
  return s;
}

export function formatTime(t: GoTime, layout: string): string {
  const c = t.civil();
  let out = '';
  for (const ch of chunks(layout)) {
    if ('lit' in ch) {
      out += ch.lit;
      continue;
    }
    const std = ch.std;
    switch (std) {
      case 'January':
        out += MONTHS[c.month - 1];
        break;
      case 'Jan':
        out += MONTHS[c.month - 1].slice(0, 3);
        break;
      case 'Monday':
        out += DAYS[c.wday];
        break;
      case 'Mon':
        out += DAYS[c.wday].slice(0, 3);
        break;
      case 'MST':
        out += c.abbr || fmtZone('-0700', c.offset);
        break;
      case '2006': {
        const y = c.year;
        out += y < 0 ? '-' + String(-y).padStart(4, '0') : String(y).padStart(4, '0');
        break;
      }
      case '06':
        out += pad2(((c.year % 100) + 100) % 100);
        break;
      case '01':
        out += pad2(c.month);
        break;
      case '1':
        out += c.month;
        break;
      case '02':
        out += pad2(c.day);
        break;
      case '2':
        out += c.day;
        break;
      case '_2':
        out += String(c.day).padStart(2, ' ');
        break;
      case '__2':
        out += String(c.yday).padStart(3, ' ');
        break;
      case '002':
        out += String(c.yday).padStart(3, '0');
        break;
      case '15':
        out += pad2(c.hour);
        break;
      case '3':
        out += c.hour % 12 === 0 ? 12 : c.hour % 12;
        break;
      case '03':
        out += pad2(c.hour % 12 === 0 ? 12 : c.hour % 12);
        break;
      case '4':
        out += c.min;
        break;
      case '04':
        out += pad2(c.min);
        break;
      case '5':
        out += c.sec;
        break;
      case '05':
        out += pad2(c.sec);
        break;
      case 'PM':
        out += c.hour >= 12 ? 'PM' : 'AM';
        break;
      case 'pm':
        out += c.hour >= 12 ? 'pm' : 'am';
        break;
      default:
        if (std[0] === '.' || std[0] === ',') {
          const digits = std.length - 1;
          const frac = String(t.nsec).padStart(9, '0').slice(0, digits);
          if (std[1] === '0') out += std[0] + frac;
          else {
            const trimmed = frac.replace(/0+$/, '');
            if (trimmed) out += std[0] + trimmed;
          }
        } else out += fmtZone(std, c.offset);
    }
  }
  return out;
}

class ParseError extends Error {}

function perr(value: string, layout: string, valueElem: string, layoutElem: string, msg = ''): never {
  throw new ParseError(
    `parsing time ${quoteGo(value)} as ${quoteGo(layout)}: cannot parse ${quoteGo(valueElem)} as ${quoteGo(layoutElem)}${msg}`,
  );
}

/** time.ParseInLocation for the common layout elements. */
export function parseTime(layout: string, value: string, loc: Zone): GoTime {
  const origValue = value;
  let year = 1;
  let month = -1;
  let day = -1;
  let yday = -1;
  let hour = 0;
  let min = 0;
  let sec = 0;
  let nsec = 0;
  let pm = false;
  let pmSet = false;
  let zoneOffset: number | undefined;
  let zoneName = '';
  const cs = chunks(layout);
  for (let k = 0; k < cs.length; k++) {
    const ch = cs[k];
    if ('lit' in ch) {
      if (!value.startsWith(ch.lit)) perr(origValue, layout, value, ch.lit);
      value = value.slice(ch.lit.length);
      continue;
    }
    const std = ch.std;
    const hold = value;
    const num = (minDigits: number, maxDigits: number): number => {
      const m = new RegExp(`^[0-9]{${minDigits},${maxDigits}}`).exec(value);
      if (!m) perr(origValue, layout, hold, std);
      value = value.slice(m[0].length);
      return Number(m[0]);
    };
    const rangeErr = (what: string) => {
      throw new ParseError(`parsing time ${quoteGo(origValue)}: ${what} out of range`);
    };
    switch (std) {
      case '2006': {
        if (value.length < 4 || !/^[0-9]{4}/.test(value)) perr(origValue, layout, hold, std);
        year = Number(value.slice(0, 4));
        value = value.slice(4);
        break;
      }
      case '06': {
        const y = num(2, 2);
        year = y >= 69 ? y + 1900 : y + 2000;
        break;
      }
      case 'January':
      case 'Jan': {
        const names = std === 'January' ? MONTHS : MONTHS.map((m) => m.slice(0, 3));
        const idx = names.findIndex((n) => value.toLowerCase().startsWith(n.toLowerCase()));
        if (idx < 0) perr(origValue, layout, hold, std);
        month = idx + 1;
        value = value.slice(names[idx].length);
        break;
      }
      case 'Monday':
      case 'Mon': {
        const names = std === 'Monday' ? DAYS : DAYS.map((d) => d.slice(0, 3));
        const idx = names.findIndex((n) => value.toLowerCase().startsWith(n.toLowerCase()));
        if (idx < 0) perr(origValue, layout, hold, std);
        value = value.slice(names[idx].length);
        break;
      }
      case '01':
      case '1':
        month = std === '01' ? num(2, 2) : num(1, 2);
        if (month < 1 || month > 12) rangeErr('month');
        break;
      case '02':
      case '2':
      case '_2':
        if (std === '_2' && value[0] === ' ') value = value.slice(1);
        day = std === '02' ? num(2, 2) : num(1, 2);
        break;
      case '002':
      case '__2':
        if (std === '__2') value = value.replace(/^ {1,2}/, '');
        yday = num(std === '002' ? 3 : 1, 3);
        break;
      case '15':
        hour = num(2, 2);
        if (hour > 23) rangeErr('hour');
        break;
      case '3':
      case '03':
        hour = std === '03' ? num(2, 2) : num(1, 2);
        if (hour > 12) rangeErr('hour');
        break;
      case '4':
      case '04':
        min = std === '04' ? num(2, 2) : num(1, 2);
        if (min > 59) rangeErr('minute');
        break;
      case '5':
      case '05': {
        sec = std === '05' ? num(2, 2) : num(1, 2);
        if (sec > 59) rangeErr('second');
        // fractional second not in the layout is accepted
        const next = cs[k + 1];
        const fm = /^[.,][0-9]+/.exec(value);
        if (fm && !(next && 'std' in next && (next.std[0] === '.' || next.std[0] === ','))) {
          nsec = Number((fm[0].slice(1) + '000000000').slice(0, 9));
          value = value.slice(fm[0].length);
        }
        break;
      }
      case 'PM':
      case 'pm': {
        const p = value.slice(0, 2);
        if (p.toUpperCase() === 'PM') pm = true;
        else if (p.toUpperCase() !== 'AM') perr(origValue, layout, hold, std);
        pmSet = true;
        value = value.slice(2);
        break;
      }
      case 'MST': {
        const m = /^[A-Z]{3,5}|^[+-][0-9]{2,4}/.exec(value);
        if (!m) perr(origValue, layout, hold, std);
        zoneName = m[0];
        value = value.slice(m[0].length);
        break;
      }
      default:
        if (std[0] === '.' || std[0] === ',') {
          const fm = /^[.,]([0-9]+)/.exec(value);
          if (std[1] === '0') {
            if (!fm || fm[1].length !== std.length - 1) perr(origValue, layout, hold, std);
          }
          if (fm) {
            nsec = Number((fm[1] + '000000000').slice(0, 9));
            value = value.slice(fm[0].length);
          }
        } else {
          // zone offsets
          if (std[0] === 'Z' && value[0] === 'Z') {
            value = value.slice(1);
            zoneOffset = 0;
            zoneName = 'UTC';
            break;
          }
          const z = std.replace(/^Z/, '-');
          const pat =
            z === '-07:00:00'
              ? /^([+-])(\d\d):(\d\d):(\d\d)/
              : z === '-070000'
                ? /^([+-])(\d\d)(\d\d)(\d\d)/
                : z === '-07:00'
                  ? /^([+-])(\d\d):(\d\d)/
                  : z === '-0700'
                    ? /^([+-])(\d\d)(\d\d)/
                    : /^([+-])(\d\d)/;
          const m = pat.exec(value);
          if (!m) perr(origValue, layout, hold, std);
          zoneOffset = (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0));
          value = value.slice(m[0].length);
        }
    }
  }
  if (value.length > 0) throw new ParseError(`parsing time ${quoteGo(origValue)}: extra text: ${quoteGo(value)}`);
  if (pmSet) {
    if (pm && hour < 12) hour += 12;
    else if (!pm && hour === 12) hour = 0;
  }
  if (yday >= 0) {
    const base = daysFromCivil(year, 1, 1) + yday - 1;
    const [, m, d] = civilFromDays(base);
    month = m;
    day = d;
  }
  if (month < 0) month = 1;
  if (day < 0) day = 1;
  const dim = new Date(Date.UTC(2000, month, 0)).getUTCDate();
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const maxDay = month === 2 ? (leap ? 29 : 28) : dim;
  if (day < 1 || day > maxDay) throw new ParseError(`parsing time ${quoteGo(origValue)}: day out of range`);
  const days = daysFromCivil(year, month, day);
  const localSec = BigInt(days) * 86400n + BigInt(hour * 3600 + min * 60 + sec);
  if (zoneOffset !== undefined) {
    const t = new GoTime(localSec - BigInt(zoneOffset), nsec, loc);
    const { offset } = zoneAt(loc, t.sec);
    if (offset === zoneOffset && (zoneName === '' || zoneName === 'UTC' || true)) return t;
    if (zoneOffset === 0 && zoneName === 'UTC') return t.in(UTC);
    return t.in({ name: '', fixed: { abbr: zoneName || '', offset: zoneOffset } });
  }
  if (zoneName !== '') {
    if (zoneName === 'UTC' || zoneName === 'GMT') return new GoTime(localSec, nsec, UTC);
    const guess = zoneAt(loc, localSec);
    if (guess.abbr === zoneName) return new GoTime(localSec - BigInt(guess.offset), nsec, loc);
    return new GoTime(localSec, nsec, { name: '', fixed: { abbr: zoneName, offset: 0 } });
  }
  // interpret in loc: find offset such that local time matches
  let off = zoneAt(loc, localSec).offset;
  off = zoneAt(loc, localSec - BigInt(off)).offset;
  return new GoTime(localSec - BigInt(off), nsec, loc);
}

export function isParseError(e: unknown): e is Error {
  return e instanceof ParseError;
}

// ---- Duration
/** time.Duration.String() */
export function durationString(d: bigint): string {
  if (d === 0n) return '0s';
  const neg = d < 0n;
  let u = neg ? -d : d;
  let out: string;
  if (u < NS) {
    let prec: number;
    let unit: string;
    if (u < 1000n) return (neg ? '-' : '') + u + 'ns';
    if (u < 1_000_000n) {
      prec = 3;
      unit = 'µs';
    } else {
      prec = 6;
      unit = 'ms';
    }
    out = fmtFrac(u, prec) + unit;
  } else {
    let s = fmtFrac(u % (60n * NS), 9) + 's';
    u = u / NS / 60n;
    if (u > 0n) {
      s = (u % 60n) + 'm' + s;
      u /= 60n;
      if (u > 0n) s = u + 'h' + s;
    }
    out = s;
  }
  return (neg ? '-' : '') + out;
}

function fmtFrac(v: bigint, prec: number): string {
  const p = 10n ** BigInt(prec);
  const whole = v / p;
  const frac = String(v % p)
    .padStart(prec, '0')
    .replace(/0+$/, '');
  return frac ? `${whole}.${frac}` : `${whole}`;
}

/** time.ParseDuration (core/connector/duration.ts); throws FuncError with Go's message, quoted as Go quotes. */
export function parseDuration(s: string): bigint {
  try {
    return parseGoDuration(s);
  } catch (err) {
    if (err instanceof DurationError) throw new FuncError(err.format(quoteGo));
    throw err;
  }
}

export type { GoValue };
