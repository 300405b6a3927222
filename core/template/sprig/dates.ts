// sprig date functions (date.go) over Go time values.
import { FuncError } from '../errors.ts';
import { fn } from '../functions.ts';
import type { FuncMap } from '../functions.ts';
import type { GoValue } from '../values.ts';
import { GoInt } from '../values.ts';
import {
  GoTime,
  UTC,
  durationString,
  fromUnix,
  isParseError,
  loadLocation,
  localZone,
  now,
  parseDuration,
  parseTime,
} from './gotime.ts';

const A = 'interface {}';
const S = 'string';
const T = 'time.Time';

function dateValue(date: GoValue, allowPtr = true): GoTime {
  if (date instanceof GoTime) return date;
  if (typeof date === 'bigint') return fromUnix(date);
  if (date instanceof GoInt && (date.t === 'int' || (allowPtr && date.t === 'int32'))) return fromUnix(date.v);
  return now();
}

export function dateInZone(layout: string, date: GoValue, zone: string): string {
  const t = dateValue(date);
  const loc = loadLocation(zone) ?? UTC;
  return t.in(loc).format(layout);
}

function durationRound(v: GoValue): string {
  let d = 0n;
  if (typeof v === 'string') {
    try {
      d = parseDuration(v);
    } catch {
      d = 0n;
    }
  } else if (typeof v === 'bigint') d = v;
  else if (v instanceof GoTime) {
    const n = now();
    d = n.unixNano() - v.unixNano();
  }
  let u = BigInt.asUintN(64, d);
  if (d < 0n) u = BigInt.asUintN(64, -d);
  const hour = 3600n * 1_000_000_000n;
  const year = hour * 24n * 365n;
  const month = hour * 24n * 30n;
  const day = hour * 24n;
  const minute = 60n * 1_000_000_000n;
  const second = 1_000_000_000n;
  if (u > year) return u / year + 'y';
  if (u > month) return u / month + 'mo';
  if (u > day) return u / day + 'd';
  if (u > hour) return u / hour + 'h';
  if (u > minute) return u / minute + 'm';
  if (u > second) return u / second + 's';
  return '0s';
}

function toDate(layout: string, value: string): GoTime {
  try {
    return parseTime(layout, value, localZone());
  } catch (e) {
    if (isParseError(e)) throw new FuncError(e.message);
    throw e;
  }
}

export function dateFuncs(): FuncMap {
  return {
    ago: fn([A], S, (date: GoValue) => {
      let t: GoTime;
      if (date instanceof GoTime) t = date;
      else if (typeof date === 'bigint') t = fromUnix(date);
      else if (date instanceof GoInt && date.t === 'int') t = fromUnix(date.v);
      else t = now();
      const d = now().unixNano() - t.unixNano();
      const s = 1_000_000_000n;
      let r = d / s;
      const rem = d % s;
      if (rem * 2n >= s) r += 1n;
      else if (rem * 2n <= -s) r -= 1n;
      return durationString(r * s);
    }),
    date: fn([S, A], S, (layout: string, date: GoValue) => dateInZone(layout, date, 'Local')),
    date_in_zone: fn([S, A, S], S, dateInZone),
    dateInZone: fn([S, A, S], S, dateInZone),
    date_modify: fn([S, T], T, (f: string, d: GoTime) => {
      try {
        return d.add(parseDuration(f));
      } catch {
        return d;
      }
    }),
    dateModify: fn([S, T], T, (f: string, d: GoTime) => {
      try {
        return d.add(parseDuration(f));
      } catch {
        return d;
      }
    }),
    must_date_modify: fn([S, T], T, (f: string, d: GoTime) => d.add(parseDuration(f)), { errReturn: true }),
    mustDateModify: fn([S, T], T, (f: string, d: GoTime) => d.add(parseDuration(f)), { errReturn: true }),
    duration: fn([A], S, (sec: GoValue) => {
      let n = 0n;
      if (typeof sec === 'string') {
        const m = /^[+-]?[0-9]+$/.exec(sec);
        n = m ? BigInt(sec) : 0n;
        if (n > 9223372036854775807n || n < -9223372036854775808n) n = 0n;
      } else if (typeof sec === 'bigint') n = sec;
      return durationString(BigInt.asIntN(64, n * 1_000_000_000n));
    }),
    durationRound: fn([A], S, durationRound),
    htmlDate: fn([A], S, (date: GoValue) => dateInZone('2006-01-02', date, 'Local')),
    htmlDateInZone: fn([A, S], S, (date: GoValue, zone: string) => dateInZone('2006-01-02', date, zone)),
    mustToDate: fn([S, S], T, toDate, { errReturn: true }),
    now: fn([], T, now),
    toDate: fn([S, S], T, (layout: string, value: string) => {
      try {
        return toDate(layout, value);
      } catch {
        return GoTime.zero();
      }
    }),
    unixEpoch: fn([T], S, (d: GoTime) => d.sec.toString()),
  };
}
