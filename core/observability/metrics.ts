// One Prometheus registry per process; components register their metrics on it by name, so that running
// all components in one process (`connectors up`) serves them all from any /metrics endpoint.
import client from 'prom-client';

export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry });

function existing<T>(name: string): T | undefined {
  return registry.getSingleMetric(name) as T | undefined;
}

export function counter(name: string, help: string, labelNames: string[] = []): client.Counter<string> {
  return existing<client.Counter<string>>(name) ?? new client.Counter({ name, help, labelNames, registers: [registry] });
}

export function gauge(name: string, help: string, labelNames: string[] = []): client.Gauge<string> {
  return existing<client.Gauge<string>>(name) ?? new client.Gauge({ name, help, labelNames, registers: [registry] });
}

export function histogram(name: string, help: string, labelNames: string[] = [], buckets?: number[]): client.Histogram<string> {
  return existing<client.Histogram<string>>(name) ?? new client.Histogram({ name, help, labelNames, registers: [registry], ...(buckets ? { buckets } : {}) });
}

export interface Tally {
  inc(n?: number): void;
}

/** Per metric, the tallies its collect hook hands over. */
const tallies = new WeakMap<client.Counter<string>, Array<{ labels: Record<string, string>; n: number }>>();

/**
 * A counter for one label set that adds up in a plain number and hands the sum to prom-client when the
 * registry is read (the metric's collect hook, run before every scrape): a hot path (per proxied request)
 * then pays one addition instead of prom-client's label validation and hashing. What a scrape sees is the same.
 */
export function tally(metric: client.Counter<string>, labels: Record<string, string>): Tally {
  let list = tallies.get(metric);
  if (!list) {
    const all: Array<{ labels: Record<string, string>; n: number }> = (list = []);
    tallies.set(metric, all);
    const hooked = metric as unknown as { collect?: () => void | Promise<void> };
    const previous = hooked.collect;
    hooked.collect = function (this: unknown) {
      for (const t of all) {
        if (t.n === 0) continue;
        const n = t.n;
        t.n = 0;
        metric.inc(t.labels, n);
      }
      return previous?.call(this);
    };
  }
  const t = { labels, n: 0 };
  list.push(t);
  return {
    inc(n = 1) {
      t.n += n;
    },
  };
}
