// Counting limits of the proxy, each a small state machine with no I/O: how many requests a ServiceAccount has in
// flight, how many reviews the apiserver is asked at once, and how many failed authentications a client address
// may cause. Clocks are injected, so the tests drive them.

/** A key's count of requests in flight (what ConcurrencyLimit.acquire hands out and release takes back). */
export interface Slot {
  n: number;
  readonly key: string;
}

/**
 * In-flight counts per key (e.g. a ServiceAccount), each capped at `max` (Infinity: no cap). A request looks its
 * key up once: acquire gives it the key's counter, release counts down on that counter. Counters of idle keys
 * stay (they are few: one per ServiceAccount that used the proxy) until there are more than 10,000 keys.
 */
export class ConcurrencyLimit {
  private readonly counts = new Map<string, Slot>();
  readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  /** The key's counter, counted up by one; undefined when `key` is at the cap (nothing counted). */
  acquire(key: string): Slot | undefined {
    let slot = this.counts.get(key);
    if (!slot) {
      if (this.counts.size >= 10_000) for (const [k, s] of this.counts) if (s.n === 0) this.counts.delete(k);
      this.counts.set(key, (slot = { n: 0, key }));
    }
    if (slot.n >= this.max) return undefined;
    slot.n++;
    return slot;
  }

  /** One fewer in flight for the slot's key. */
  release(slot: Slot): void {
    if (slot.n > 0) slot.n--;
  }

  inFlight(key: string): number {
    return this.counts.get(key)?.n ?? 0;
  }
}

/** The gate was full for longer than it lets a task wait, or its queue was full. */
export class GateBusyError extends Error {
  override name = 'GateBusyError';
}

/**
 * At most `max` tasks at once; the others wait in order, at most `maxWaiting` of them and each at most
 * `maxWaitMs`, then fail with GateBusyError.
 */
export class Gate {
  private running = 0;
  private readonly waiting: Array<{ start: () => void; timer: NodeJS.Timeout }> = [];
  private readonly max: number;
  private readonly maxWaiting: number;
  private readonly maxWaitMs: number;

  constructor(opts: { max: number; maxWaiting: number; maxWaitMs: number }) {
    this.max = opts.max;
    this.maxWaiting = opts.maxWaiting;
    this.maxWaitMs = opts.maxWaitMs;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.max) await this.wait();
    else this.running++;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) {
        clearTimeout(next.timer);
        next.start(); // the slot passes to the next task
      } else this.running--;
    }
  }

  /** Tasks running and waiting. */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  private wait(): Promise<void> {
    if (this.waiting.length >= this.maxWaiting)
      return Promise.reject(new GateBusyError(`${this.waiting.length} tasks already wait`));
    return new Promise<void>((resolve, reject) => {
      const entry = {
        start: resolve,
        timer: setTimeout(() => {
          const i = this.waiting.indexOf(entry);
          if (i !== -1) this.waiting.splice(i, 1);
          reject(new GateBusyError(`waited ${this.maxWaitMs} ms`));
        }, this.maxWaitMs),
      };
      entry.timer.unref();
      this.waiting.push(entry);
    });
  }
}

/**
 * A budget of failures per key (e.g. a client address): `burst` at once, refilled at `perSecond`. Only keys that
 * failed are kept, at most `maxKeys` (the least recently failed go first).
 */
export class FailureBudget {
  private readonly entries = new Map<string, { tokens: number; at: number }>();
  private readonly burst: number;
  private readonly perSecond: number;
  private readonly maxKeys: number;
  private readonly now: () => number;

  constructor(opts: { burst: number; perSecond: number; maxKeys?: number; now?: () => number }) {
    this.burst = opts.burst;
    this.perSecond = opts.perSecond;
    this.maxKeys = opts.maxKeys ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  private tokens(key: string): number {
    const e = this.entries.get(key);
    if (!e) return this.burst;
    return Math.min(this.burst, e.tokens + ((this.now() - e.at) / 1000) * this.perSecond);
  }

  /** Whether `key` has no failure left to spend. */
  exhausted(key: string): boolean {
    return this.entries.has(key) && this.tokens(key) < 1;
  }

  /** Spends one failure of `key`. */
  spend(key: string): void {
    const tokens = Math.max(0, this.tokens(key) - 1);
    this.entries.delete(key);
    this.entries.set(key, { tokens, at: this.now() });
    while (this.entries.size > this.maxKeys) this.entries.delete(this.entries.keys().next().value as string);
  }
}
