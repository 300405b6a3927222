// One Prometheus registry per process; components register their metrics on it by name, so that running
// all components in one process (`connectors up`) serves them all from any /metrics endpoint.
import client from 'prom-client';

export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry });

function existing<T>(name: string): T | undefined {
  return registry.getSingleMetric(name) as T | undefined;
}

export function counter(name: string, help: string, labelNames: string[] = []): client.Counter<string> {
  return (
    existing<client.Counter<string>>(name) ?? new client.Counter({ name, help, labelNames, registers: [registry] })
  );
}

export function gauge(name: string, help: string, labelNames: string[] = []): client.Gauge<string> {
  return existing<client.Gauge<string>>(name) ?? new client.Gauge({ name, help, labelNames, registers: [registry] });
}

export function histogram(
  name: string,
  help: string,
  labelNames: string[] = [],
  buckets?: number[],
): client.Histogram<string> {
  return (
    existing<client.Histogram<string>>(name) ??
    new client.Histogram({ name, help, labelNames, registers: [registry], ...(buckets ? { buckets } : {}) })
  );
}

/**
 * Counters and histograms for the proxy's request path, read by the same registry as prom-client's own. A
 * prom-client inc or observe validates and hashes its label object on every call (0.2–0.6 µs, several times
 * per proxied request); here a label set is resolved once into a child (`child(...values)`, cached by the
 * values) whose inc or observe only adds to numbers.
 */
abstract class PlainMetric<C extends { readonly labels: Record<string, string>; zero(): void }> {
  readonly name: string;
  readonly help: string;
  abstract readonly type: 'counter' | 'histogram';
  readonly aggregator = 'sum';
  private readonly labelNames: readonly string[];
  protected readonly children = new Map<string, C>();

  constructor(name: string, help: string, labelNames: readonly string[]) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
    // prom-client reads any object with its metric interface (name, help, type, aggregator, get, reset).
    registry.registerMetric(this as unknown as client.Metric);
  }

  /** The child of these label values (in labelNames order). */
  child(...values: string[]): C {
    if (values.length !== this.labelNames.length)
      throw new Error(`${this.name} has the labels ${this.labelNames.join(', ')}`);
    const key = values.length === 1 ? values[0] : values.join('\0');
    let c = this.children.get(key);
    if (!c) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((n, i) => (labels[n] = values[i]));
      this.children.set(key, (c = this.newChild(labels)));
    }
    return c;
  }

  protected abstract newChild(labels: Record<string, string>): C;

  /** The values in prom-client's form. */
  protected abstract values(): Array<{ labels: Record<string, string | number>; value: number; metricName?: string }>;

  get() {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.values() };
  }

  /** Zeroes every label set (children handed out stay valid). */
  reset(): void {
    for (const c of this.children.values()) c.zero();
  }
}

class CounterChild {
  value = 0;
  readonly labels: Record<string, string>;
  constructor(labels: Record<string, string>) {
    this.labels = labels;
  }
  inc(n = 1): void {
    this.value += n;
  }
  zero(): void {
    this.value = 0;
  }
}

class PlainCounter extends PlainMetric<CounterChild> {
  readonly type = 'counter';

  protected newChild(labels: Record<string, string>): CounterChild {
    return new CounterChild(labels);
  }

  protected values() {
    return [...this.children.values()].map((c) => ({ labels: c.labels, value: c.value }));
  }
}

class HistogramChild {
  /** Observations per bucket (not cumulative); the last one counts those above every bound. */
  readonly counts: number[];
  sum = 0;
  readonly labels: Record<string, string>;
  private readonly bounds: readonly number[];
  constructor(labels: Record<string, string>, bounds: readonly number[]) {
    this.labels = labels;
    this.bounds = bounds;
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }
  observe(v: number): void {
    let i = 0;
    while (i < this.bounds.length && v > this.bounds[i]) i++;
    this.counts[i]++;
    this.sum += v;
  }
  zero(): void {
    this.counts.fill(0);
    this.sum = 0;
  }
}

class PlainHistogram extends PlainMetric<HistogramChild> {
  readonly type = 'histogram';
  private readonly bounds: readonly number[];

  constructor(name: string, help: string, labelNames: readonly string[], bounds: readonly number[]) {
    super(name, help, labelNames);
    this.bounds = bounds;
  }

  protected newChild(labels: Record<string, string>): HistogramChild {
    return new HistogramChild(labels, this.bounds);
  }

  protected values() {
    const out: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
    for (const { labels, counts, sum } of this.children.values()) {
      let cumulative = 0;
      counts.forEach((n, i) => {
        cumulative += n;
        out.push({
          labels: { le: i < this.bounds.length ? this.bounds[i] : '+Inf', ...labels },
          value: cumulative,
          metricName: this.name + '_bucket',
        });
      });
      out.push(
        { labels, value: sum, metricName: this.name + '_sum' },
        { labels, value: cumulative, metricName: this.name + '_count' },
      );
    }
    return out;
  }
}

export function plainCounter(
  name: string,
  help: string,
  labelNames: readonly string[] = [],
): PlainMetric<CounterChild> {
  return existing<PlainCounter>(name) ?? new PlainCounter(name, help, labelNames);
}

export function plainHistogram(
  name: string,
  help: string,
  labelNames: readonly string[],
  bounds: readonly number[],
): PlainMetric<HistogramChild> {
  return existing<PlainHistogram>(name) ?? new PlainHistogram(name, help, labelNames, bounds);
}
