// Go's time.ParseDuration, case by case: the results are Go's (go1.26, time.ParseDuration), errors included.
import { expect } from 'chai';
import { DurationError, parseFlagDuration, parseGoDuration, parseGoDurationMs } from '../../../core/connector/index.ts';

describe('core/connector: Go durations', () => {
  const valid: Array<[string, bigint]> = [
    ['0', 0n],
    ['-0', 0n],
    ['+0', 0n],
    ['5s', 5_000_000_000n],
    ['30m', 1_800_000_000_000n],
    ['1h30m', 5_400_000_000_000n],
    ['1.5h', 5_400_000_000_000n],
    ['.5s', 500_000_000n],
    ['1.s', 1_000_000_000n],
    ['-1.5h10us', -5_400_000_010_000n],
    ['+5m', 300_000_000_000n],
    ['1h30m0.5s', 5_400_500_000_000n],
    ['300ms', 300_000_000n],
    ['10µs', 10_000n],
    ['10μs', 10_000n],
    ['7ns', 7n],
    ['0.0000000001s', 0n],
    ['2h45m10s', 9_910_000_000_000n],
    ['9223372036854775807ns', 9_223_372_036_854_775_807n],
    ['-9223372036854775808ns', -9_223_372_036_854_775_808n],
    ['2562047h47m16.854775807s', 9_223_372_036_854_775_807n],
    ['0.3333333333333333333h', 1_200_000_000_000n],
  ];
  for (const [text, ns] of valid) it(`${text} = ${ns} ns`, () => expect(parseGoDuration(text)).to.equal(ns));

  const invalid: Array<[string, string]> = [
    ['', 'time: invalid duration ""'],
    ['30', 'time: missing unit in duration "30"'],
    ['00', 'time: missing unit in duration "00"'],
    ['m', 'time: invalid duration "m"'],
    ['.s', 'time: invalid duration ".s"'],
    ['-', 'time: invalid duration "-"'],
    ['10x', 'time: unknown unit "x" in duration "10x"'],
    ['1e3s', 'time: unknown unit "e" in duration "1e3s"'],
    ['1h-1m', 'time: unknown unit "h-" in duration "1h-1m"'],
    [' 1s', 'time: invalid duration " 1s"'],
    ['9223372036854775808ns', 'time: invalid duration "9223372036854775808ns"'],
    ['2562048h', 'time: invalid duration "2562048h"'],
    ['99999999999999999999s', 'time: invalid duration "99999999999999999999s"'],
  ];
  for (const [text, message] of invalid)
    it(`rejects ${JSON.stringify(text)} as Go does`, () => {
      expect(() => parseGoDuration(text))
        .to.throw(DurationError)
        .with.property('message', message);
    });

  it('re-quotes the error for callers that quote like strconv.Quote', () => {
    try {
      parseGoDuration('1\u0001');
      expect.fail('expected an error');
    } catch (err) {
      expect((err as DurationError).format((s) => `<${s}>`)).to.equal(
        'time: unknown unit <\u0001> in duration <1\u0001>',
      );
    }
  });

  it('milliseconds keep fractions', () => expect(parseGoDurationMs('1.5ms')).to.equal(1.5));

  const flags: Array<[string, number | RegExp]> = [
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['300ms', 300],
    ['10', 10_000],
    ['1.5', 1_500],
    [' 30s ', 30_000],
    ['5 minutes', /invalid duration "5 minutes" \(use e\.g\. 30s, 5m, 1h30m\)/],
    ['-5m', /must not be negative/],
  ];
  for (const [text, want] of flags)
    it(`flag ${JSON.stringify(text)}: ${want}`, () => {
      if (typeof want === 'number') expect(parseFlagDuration(text)).to.equal(want);
      else expect(() => parseFlagDuration(text)).to.throw(want);
    });
});
