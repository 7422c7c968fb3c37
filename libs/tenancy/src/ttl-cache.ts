/**
 * A small map whose entries expire, with a size bound. Loads for the same key that overlap share
 * one promise, and a load that started before an invalidation is not stored.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; expires: number }>();
  private readonly inflight = new Map<string, Promise<V>>();
  private generation = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 50_000,
  ) {}

  async get(key: string, load: () => Promise<V>): Promise<V> {
    const hit = this.entries.get(key);
    if (hit && hit.expires > Date.now()) return hit.value;
    const pending = this.inflight.get(key);
    if (pending) return pending;
    const gen = this.generation;
    const p = load()
      .then((value) => {
        if (gen === this.generation && this.ttlMs > 0) this.set(key, value);
        return value;
      })
      // An expired entry beats an error: the source (the database) may be briefly away.
      .catch((err: unknown) => {
        if (hit) return hit.value;
        throw err;
      })
      .finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  delete(key: string): void {
    this.generation++;
    this.entries.delete(key);
    this.inflight.delete(key);
  }

  /** Drops every entry whose value matches; cheaper than clear() for one tenant's keys. */
  deleteWhere(match: (value: V) => boolean): void {
    this.generation++;
    for (const [k, e] of this.entries) if (match(e.value)) this.entries.delete(k);
    this.inflight.clear();
  }

  clear(): void {
    this.generation++;
    this.entries.clear();
    this.inflight.clear();
  }

  private set(key: string, value: V): void {
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, { value, expires: Date.now() + this.ttlMs });
  }
}
