// A work queue of string keys with the semantics of client-go's workqueue: a key is queued at most once
// (adding a queued key is a no-op), a key being processed is never handed to a second worker (adding it
// marks it dirty and it is queued again when `done` is called), delayed adds (`addAfter`), and per-key
// rate-limited retries with exponential backoff (`addRateLimited` / `forget`).

export interface RateLimiterOptions {
  /** First retry delay in ms (default 5 ms, client-go's). */
  baseDelayMs?: number;
  /** Largest retry delay in ms (default 5 minutes). */
  maxDelayMs?: number;
}

/** Per-key exponential backoff: base·2^failures, capped. Pure apart from its failure counts. */
export class ExponentialBackoff {
  private readonly failures = new Map<string, number>();
  private readonly base: number;
  private readonly max: number;

  constructor(opts: RateLimiterOptions = {}) {
    this.base = opts.baseDelayMs ?? 5;
    this.max = opts.maxDelayMs ?? 5 * 60_000;
  }

  when(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    return Math.min(this.max, this.base * 2 ** Math.min(n, 40));
  }

  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  forget(key: string): void {
    this.failures.delete(key);
  }
}

export interface WorkQueueOptions extends RateLimiterOptions {
  /** Called whenever the depth changes (for a queue-depth gauge). */
  onDepth?: (depth: number) => void;
}

/** setTimeout fires at once (after 1 ms) for a delay above 2^31-1 ms (~24.8 days): a delayed add could spin. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class WorkQueue {
  private readonly queue: string[] = [];
  private head = 0;
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  /** key → [due time, timer]; a later addAfter never postpones an earlier one. */
  private readonly waiting = new Map<string, { due: number; timer: NodeJS.Timeout }>();
  private readonly waiters: Array<(key: string | undefined) => void> = [];
  private readonly backoff: ExponentialBackoff;
  private readonly onDepth?: (depth: number) => void;
  private shuttingDown = false;

  constructor(opts: WorkQueueOptions = {}) {
    this.backoff = new ExponentialBackoff(opts);
    this.onDepth = opts.onDepth;
  }

  /** Keys queued and not yet handed out. */
  len(): number {
    return this.queue.length - this.head;
  }

  /** Keys waiting for a delayed add. */
  waitingLen(): number {
    return this.waiting.size;
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    const waiter = this.waiters.shift();
    if (waiter) {
      this.dirty.delete(key);
      this.processing.add(key);
      waiter(key);
      return;
    }
    this.queue.push(key);
    this.onDepth?.(this.len());
  }

  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const due = Date.now() + delayMs;
    const existing = this.waiting.get(key);
    if (existing && existing.due <= due) return;
    if (existing) clearTimeout(existing.timer);
    this.waiting.set(key, { due, timer: this.armTimer(key, due) });
  }

  /** A timer adding `key` at `due`; longer waits than one timer holds are chained (see MAX_TIMER_MS). */
  private armTimer(key: string, due: number): NodeJS.Timeout {
    const timer = setTimeout(
      () => {
        const entry = this.waiting.get(key);
        if (entry && entry.due > Date.now()) {
          entry.timer = this.armTimer(key, entry.due);
          return;
        }
        this.waiting.delete(key);
        this.add(key);
      },
      Math.min(Math.max(due - Date.now(), 1), MAX_TIMER_MS),
    );
    timer.unref?.();
    return timer;
  }

  /** Re-queue after this key's next backoff delay. */
  addRateLimited(key: string): number {
    const delay = this.backoff.when(key);
    this.addAfter(key, delay);
    return delay;
  }

  /** Reset the key's backoff (after a success). */
  forget(key: string): void {
    this.backoff.forget(key);
  }

  retries(key: string): number {
    return this.backoff.retries(key);
  }

  /** The next key, or undefined once the queue shuts down. Call `done(key)` when finished with it. */
  get(): Promise<string | undefined> {
    if (this.len() > 0) {
      const key = this.queue[this.head++];
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      this.dirty.delete(key);
      this.processing.add(key);
      this.onDepth?.(this.len());
      return Promise.resolve(key);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      this.dirty.delete(key);
      this.add(key);
    }
  }

  shutDown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.waiting.values()) clearTimeout(timer);
    this.waiting.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }
}
