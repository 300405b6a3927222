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

export interface HistogramTally {
  observe(value: number): void;
}

/** prom-client's stored state of one label set of a histogram (not part of its typed API; see below). */
interface HistogramEntry {
  labels: Record<string, string | number>;
  bucketValues: Record<string, number>;
  sum: number;
  count: number;
}

/**
 * A histogram for one label set that counts into its own buckets and adds them to prom-client's when the
 * registry is read (the collect hook), as tally() does for counters: prom-client has no public way to add
 * many observations at once, so this writes its per-label-set entry (created by the public zero()). Should
 * that entry not look as expected (another prom-client version), the observations are replayed through
 * observe() instead, one per observation at the bucket's mean: the same buckets, count and sum.
 * `buckets` must be the histogram's own.
 */
export function histogramTally(metric: client.Histogram<string>, labels: Record<string, string>, buckets: readonly number[]): HistogramTally {
  const counts = new Float64Array(buckets.length + 1); // the last one: above every bucket (+Inf only)
  const sums = new Float64Array(buckets.length + 1);
  let pending = 0;
  let sum = 0; // in observation order, as prom-client adds them
  const hooked = metric as unknown as { collect?: () => void | Promise<void>; hashMap?: Record<string, HistogramEntry> };
  const previous = hooked.collect;
  const sameLabels = (e: HistogramEntry) => Object.keys(labels).every((k) => e.labels?.[k] === labels[k]) && Object.keys(e.labels ?? {}).length === Object.keys(labels).length;
  hooked.collect = function (this: unknown) {
    if (pending > 0) {
      pending = 0;
      const total = sum;
      sum = 0;
      const find = () => Object.values(hooked.hashMap ?? {}).find(sameLabels);
      let entry = find();
      if (!entry) {
        metric.zero(labels);
        entry = find();
      }
      const usable = entry && typeof entry.sum === 'number' && typeof entry.count === 'number' && buckets.every((b) => typeof entry.bucketValues?.[b] === 'number');
      if (usable) entry!.sum += total;
      for (let i = 0; i < counts.length; i++) {
        const n = counts[i];
        if (n === 0) continue;
        if (usable) {
          if (i < buckets.length) entry!.bucketValues[buckets[i]] += n;
          entry!.count += n;
        } else {
          for (let k = 0; k < n; k++) metric.observe(labels, sums[i] / n);
        }
        counts[i] = 0;
        sums[i] = 0;
      }
    }
    return previous?.call(this);
  };
  return {
    observe(value: number) {
      if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
      let i = 0;
      while (i < buckets.length && value > buckets[i]) i++;
      counts[i]++;
      sums[i] += value;
      sum += value;
      pending++;
    },
  };
}
