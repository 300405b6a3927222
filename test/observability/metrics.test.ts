// The plain counters and histograms of the proxy's request path are read from the registry exactly as
// prom-client's own would be for the same observations.
import { expect } from 'chai';
import client from 'prom-client';
import { plainCounter, plainHistogram, registry } from '../../core/observability/metrics.ts';

/** The exposition lines of `name` (HELP, TYPE and samples) in `text`, with the name replaced by `as`. */
function linesOf(text: string, name: string, as: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith(name) || l.startsWith(`# HELP ${name} `) || l.startsWith(`# TYPE ${name} `))
    .map((l) => l.replaceAll(name, as));
}

describe('plain metrics', () => {
  const bounds = [0.001, 0.01, 0.1, 1];
  const observations: Array<[string, number]> = [
    ['reverse', 0.0005],
    ['reverse', 0.001],
    ['reverse', 0.05],
    ['forward', 3],
    ['reverse', 2],
    ['forward', 0.01],
  ];

  it('a histogram gives the buckets, sum and count prom-client gives', async () => {
    const plain = plainHistogram('test_plain_seconds', 'Durations.', ['mode'], bounds);
    const reference = new client.Registry();
    const theirs = new client.Histogram({
      name: 'test_ref_seconds',
      help: 'Durations.',
      labelNames: ['mode'],
      buckets: bounds,
      registers: [reference],
    });
    for (const [mode, v] of observations) {
      plain.child(mode).observe(v);
      theirs.labels(mode).observe(v);
    }
    const ours = linesOf(await registry.metrics(), 'test_plain_seconds', 'm');
    expect(ours).to.have.length(2 + 2 * (bounds.length + 3));
    expect(ours).to.deep.equal(linesOf(await reference.metrics(), 'test_ref_seconds', 'm'));
  });

  it('a counter gives the values prom-client gives, per label set', async () => {
    const plain = plainCounter('test_plain_total', 'Requests.', ['mode', 'code']);
    const reference = new client.Registry();
    const theirs = new client.Counter({
      name: 'test_ref_total',
      help: 'Requests.',
      labelNames: ['mode', 'code'],
      registers: [reference],
    });
    const child = plain.child('reverse', '200');
    for (const [mode, v] of observations) {
      plain.child(mode, v > 1 ? '502' : '200').inc();
      theirs.inc({ mode, code: v > 1 ? '502' : '200' });
    }
    child.inc(5); // a child kept by the caller is the same label set
    theirs.inc({ mode: 'reverse', code: '200' }, 5);
    const ours = linesOf(await registry.metrics(), 'test_plain_total', 'c');
    expect(ours).to.include('c{mode="reverse",code="200"} 8');
    expect(ours).to.deep.equal(linesOf(await reference.metrics(), 'test_ref_total', 'c'));
  });

  it('the same name gives the same metric; wrong label counts are refused; reset zeroes and keeps children', async () => {
    const a = plainCounter('test_plain_once_total', 'Once.', ['k']);
    expect(plainCounter('test_plain_once_total', 'Once.', ['k'])).to.equal(a);
    expect(() => a.child('x', 'y')).to.throw(/has the labels k/);
    const kept = a.child('x');
    kept.inc(2);
    registry.resetMetrics();
    kept.inc();
    expect(await registry.metrics()).to.contain('test_plain_once_total{k="x"} 1');
  });
});
