// A bounded map with a per-entry expiry, for authentication and authorisation decisions. Least recently
// used entries go first when full; expired entries are dropped on read. Keys are never tokens: callers key
// on sha256 of the token.
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();
  private readonly maxEntries: number;
  private readonly now: () => number;
  /** The most recently used key: a hit on it needs no move (a client repeating its token hits it). */
  private newest: string | undefined;

  constructor(maxEntries: number, now: () => number = Date.now) {
    this.maxEntries = maxEntries;
    this.now = now;
  }

  get(key: string): V | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= this.now()) {
      this.entries.delete(key);
      if (key === this.newest) this.newest = undefined;
      return undefined;
    }
    // Most recently used last.
    if (key !== this.newest) {
      this.entries.delete(key);
      this.entries.set(key, e);
      this.newest = key;
    }
    return e.value;
  }

  /** Keeps `value` for `ttlMs` (nothing is stored when ttlMs <= 0). */
  set(key: string, value: V, ttlMs: number): void {
    if (!(ttlMs > 0)) return;
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: this.now() + ttlMs });
    this.newest = key;
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
      if (oldest === this.newest) this.newest = undefined;
    }
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
    this.newest = undefined;
  }
}
