// Go's time.ParseDuration, the one parser of durations for every reader: the CSI volume attribute
// token.expiration, the TaskRun workspace annotation, command-line flags, the templates' sprig date functions
// and Rego's time.parse_duration_ns. Syntax `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+` or `0`, units ns, us (µs, μs),
// ms, s, m, h; the value is exact nanoseconds (a bigint), a fraction computed in float64 as Go does, and
// anything past int64 is an error.

const UNITS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  µs: 1_000n, // U+00B5
  μs: 1_000n, // U+03BC
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

const MAX = 1n << 63n;

export type DurationProblem = 'invalid' | 'missing unit' | 'unknown unit';

/**
 * A duration Go would refuse. The message is Go's, with JSON quoting; `format` re-quotes it for callers that
 * must match Go byte for byte (the template engine quotes like strconv.Quote).
 */
export class DurationError extends Error {
  override name = 'DurationError';
  readonly problem: DurationProblem;
  readonly input: string;
  readonly unit?: string;
  constructor(problem: DurationProblem, input: string, unit?: string) {
    super('');
    this.problem = problem;
    this.input = input;
    this.unit = unit;
    this.message = this.format(JSON.stringify);
  }

  format(quote: (s: string) => string): string {
    if (this.problem === 'missing unit') return `time: missing unit in duration ${quote(this.input)}`;
    if (this.problem === 'unknown unit')
      return `time: unknown unit ${quote(this.unit ?? '')} in duration ${quote(this.input)}`;
    return `time: invalid duration ${quote(this.input)}`;
  }
}

const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';

/** Nanoseconds of a Go duration; throws DurationError where Go's time.ParseDuration fails. */
export function parseGoDuration(text: string): bigint {
  const orig = text;
  let s = text;
  let neg = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') throw new DurationError('invalid', orig);
  let d = 0n;
  while (s !== '') {
    if (!(s[0] === '.' || isDigit(s[0]))) throw new DurationError('invalid', orig);
    // Digits before the point; an integer past 2^63 is invalid.
    let i = 0;
    let v = 0n;
    for (; isDigit(s[i]); i++) {
      if (v > MAX / 10n) throw new DurationError('invalid', orig);
      v = v * 10n + BigInt(s.charCodeAt(i) - 48);
      if (v > MAX) throw new DurationError('invalid', orig);
    }
    const pre = i > 0;
    s = s.slice(i);
    // Digits after the point: those that would overflow are ignored, as Go's leadingFraction does.
    let post = false;
    let f = 0n;
    let scale = 1;
    if (s[0] === '.') {
      s = s.slice(1);
      let j = 0;
      let overflow = false;
      for (; isDigit(s[j]); j++) {
        if (overflow) continue;
        if (f > (MAX - 1n) / 10n) {
          overflow = true;
          continue;
        }
        const y = f * 10n + BigInt(s.charCodeAt(j) - 48);
        if (y > MAX) {
          overflow = true;
          continue;
        }
        f = y;
        scale *= 10;
      }
      post = j > 0;
      s = s.slice(j);
    }
    if (!pre && !post) throw new DurationError('invalid', orig);
    let k = 0;
    while (k < s.length && s[k] !== '.' && !isDigit(s[k])) k++;
    if (k === 0) throw new DurationError('missing unit', orig);
    const name = s.slice(0, k);
    s = s.slice(k);
    const unit = UNITS[name];
    if (unit === undefined) throw new DurationError('unknown unit', orig, name);
    if (v > MAX / unit) throw new DurationError('invalid', orig);
    v *= unit;
    if (f > 0n) {
      // float64, as Go: nanosecond-accurate for fractions of the largest unit.
      v += BigInt(Math.trunc(Number(f) * (Number(unit) / scale)));
      if (v > MAX) throw new DurationError('invalid', orig);
    }
    d += v;
    if (d > MAX) throw new DurationError('invalid', orig);
  }
  if (neg) return -d;
  if (d > MAX - 1n) throw new DurationError('invalid', orig);
  return d;
}

/** Milliseconds (fractional) of a Go duration. */
export function parseGoDurationMs(text: string): number {
  return Number(parseGoDuration(text)) / 1e6;
}

/**
 * A duration given on the command line: a Go duration, or a bare number of seconds (`30` = 30s).
 * Milliseconds, rounded; a negative or malformed duration throws an Error that shows an example.
 */
export function parseFlagDuration(text: string): number {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  let ms: number;
  try {
    ms = parseGoDurationMs(t);
  } catch (err) {
    if (err instanceof DurationError)
      throw new Error(`invalid duration ${JSON.stringify(text)} (use e.g. 30s, 5m, 1h30m)`, { cause: err });
    throw err;
  }
  if (ms < 0) throw new Error(`invalid duration ${JSON.stringify(text)}: must not be negative`);
  return Math.round(ms);
}
