export interface TtlCacheOptions {
  /** Wait after a failed refresh before the next attempt; doubles per failure up to maxRetryMs. */
  retryMs?: number;
  maxRetryMs?: number;
  /** A refresh still pending after this long counts as failed (another may start after the backoff). */
  refreshTimeoutMs?: number;
  /** The clock (tests). */
  now?: () => number;
}

interface Entry<V> {
  value: V;
  expires: number;
  /** Failed refreshes since the value was loaded, and when the next one may start. */
  failures: number;
  retryAt: number;
}

interface Load<V> {
  promise: Promise<V>;
  generation: number;
  started: number;
}

/**
 * A small map whose entries expire, with a size bound, serving stale while it revalidates.
 *
 * - Fresh hit: the value.
 * - Expired hit: the value at once, and one background refresh per key (single-flight). Success
 *   replaces the entry; failure (or a refresh pending longer than `refreshTimeoutMs`) keeps the
 *   stale entry, served as before, and the next attempt waits `retryMs`, doubling per failure up to
 *   `maxRetryMs`, so a database that is away is asked about each key at most once per backoff.
 * - Miss: callers wait for the load, overlapping callers share it, and its error reaches them.
 * - Invalidation (delete, deleteWhere, clear) drops entries at once, and no load that started
 *   before it is stored or shared with later callers: a change notification is never undone by a
 *   stale read that was in flight, and an invalidated entry is never served stale.
 * - `ttlMs` 0 stores nothing: every call loads (overlapping calls still share one load).
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private readonly inflight = new Map<string, Load<V>>();
  private generation = 0;
  private readonly retryMs: number;
  private readonly maxRetryMs: number;
  private readonly refreshTimeoutMs: number;
  private readonly now: () => number;

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 50_000,
    options: TtlCacheOptions = {},
  ) {
    this.retryMs = options.retryMs ?? 1_000;
    this.maxRetryMs = Math.max(this.retryMs, options.maxRetryMs ?? 5_000);
    this.refreshTimeoutMs = options.refreshTimeoutMs ?? 15_000;
    this.now = options.now ?? Date.now;
  }

  get(key: string, load: () => Promise<V>): Promise<V> {
    const now = this.now();
    const hit = this.entries.get(key);
    if (hit && hit.expires > now) return Promise.resolve(hit.value);
    if (hit) {
      this.revalidate(key, hit, load, now);
      return Promise.resolve(hit.value);
    }
    return (this.inflight.get(key) ?? this.start(key, load, now)).promise;
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
    // A pending load's value is unknown: none of them may be stored or joined any more.
    this.inflight.clear();
  }

  clear(): void {
    this.generation++;
    this.entries.clear();
    this.inflight.clear();
  }

  /** Starts the one background refresh of a stale entry, unless one runs or the backoff holds. */
  private revalidate(key: string, hit: Entry<V>, load: () => Promise<V>, now: number): void {
    const pending = this.inflight.get(key);
    if (pending) {
      if (now - pending.started < this.refreshTimeoutMs) return;
      // Hung: it no longer blocks a new attempt (it is not stored if a newer one is current).
      this.inflight.delete(key);
      this.failed(hit, now);
    }
    if (now < hit.retryAt) return;
    // Nobody awaits a refresh: its failure is handled here (stale kept) and not left unhandled.
    this.start(key, load, now).promise.catch(() => undefined);
  }

  private start(key: string, load: () => Promise<V>, now: number): Load<V> {
    const stale = this.entries.get(key);
    // A load that throws synchronously rejects like one that fails later.
    const promise = new Promise<V>((resolve) => resolve(load()));
    const record: Load<V> = { promise, generation: this.generation, started: now };
    record.promise = promise.then(
      (value) => {
        const current = this.inflight.get(key);
        if (current === record) this.inflight.delete(key);
        const valid = record.generation === this.generation;
        // Stored unless invalidated meanwhile, or superseded by a newer attempt still running.
        if (valid && this.ttlMs > 0 && (current === record || current === undefined)) {
          this.set(key, value);
        }
        return value;
      },
      (err: unknown) => {
        if (this.inflight.get(key) === record) {
          this.inflight.delete(key);
          // The stale entry this refresh was for, if still there, is kept and backs off.
          if (stale && this.entries.get(key) === stale) this.failed(stale, this.now());
        }
        throw err;
      },
    );
    this.inflight.set(key, record);
    return record;
  }

  private failed(entry: Entry<V>, now: number): void {
    entry.failures += 1;
    const wait = Math.min(this.maxRetryMs, this.retryMs * 2 ** (entry.failures - 1));
    entry.retryAt = now + wait;
  }

  private set(key: string, value: V): void {
    // Replacing moves the key to the end (insertion order is the eviction order).
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, { value, expires: this.now() + this.ttlMs, failures: 0, retryAt: 0 });
  }
}
