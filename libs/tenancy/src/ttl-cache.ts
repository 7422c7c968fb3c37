import { LRUCache } from 'lru-cache';

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

/**
 * Passed to LRUCache's get, peek and set, whose `options = {}` defaults would otherwise build an
 * object on every call of this hot path. Read only by lru-cache; never write to it.
 */
const NO_OPTIONS = {};

interface Load<V> {
  promise: Promise<V>;
  generation: number;
  started: number;
}

/**
 * A small map whose entries expire, with a size bound, serving stale while it revalidates.
 *
 * - Size bound: at most `maxEntries` (a positive integer) entries; storing one more evicts the least
 *   recently used (a hit, fresh or stale, counts as a use). Replacing an entry evicts nothing.
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
  /**
   * The entries, with LRU order and eviction by lru-cache. Expiry and backoff stay in the entry, on
   * the injected clock: lru-cache's own ttl is not used (see the notes at the end of this file).
   */
  private readonly entries: LRUCache<string, Entry<V>>;
  /** The single-flight loads, by key (not lru-cache's fetch(): see the notes at the end). */
  private readonly inflight = new Map<string, Load<V>>();
  private generation = 0;
  private readonly retryMs: number;
  private readonly maxRetryMs: number;
  private readonly refreshTimeoutMs: number;
  private readonly now: () => number;

  constructor(
    private readonly ttlMs: number,
    maxEntries = 50_000,
    options: TtlCacheOptions = {},
  ) {
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError(`TtlCache maxEntries must be a positive integer, not ${maxEntries}`);
    }
    // lru-cache allocates its index arrays for `max` up front; with ttl 0 nothing is ever stored.
    this.entries = new LRUCache({ max: ttlMs > 0 ? maxEntries : 1 });
    this.retryMs = options.retryMs ?? 1_000;
    this.maxRetryMs = Math.max(this.retryMs, options.maxRetryMs ?? 5_000);
    this.refreshTimeoutMs = options.refreshTimeoutMs ?? 15_000;
    this.now = options.now ?? Date.now;
  }

  get(key: string, load: () => Promise<V>): Promise<V> {
    const now = this.now();
    // Marks the key recently used, stale or not.
    const hit = this.entries.get(key, NO_OPTIONS);
    if (hit !== undefined) {
      if (hit.expires <= now) this.revalidate(key, hit, load, now);
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
    // A pending load's value is unknown: none of them may be stored or joined any more (dropped
    // first, so that a throwing `match` cannot leave them joinable).
    this.inflight.clear();
    // lru-cache supports deleting the visited entry during its iteration.
    this.entries.forEach((e, k) => {
      if (match(e.value)) this.entries.delete(k);
    });
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
    const stale = this.entries.peek(key, NO_OPTIONS);
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
          if (stale && this.entries.peek(key, NO_OPTIONS) === stale) this.failed(stale, this.now());
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
    // Replacing updates in place; adding to a full cache evicts the least recently used.
    const entry = { value, expires: this.now() + this.ttlMs, failures: 0, retryAt: 0 };
    this.entries.set(key, entry, NO_OPTIONS);
  }
}

/*
 * Why not more of lru-cache (v11):
 *
 * - Its ttl (ttl/allowStale/noDeleteOnStaleGet, clock via `perf`) does not fit the expiry rule: an
 *   entry stored at time 0 never goes stale (`!!start` is its "has a start" test), an entry is
 *   still fresh at exactly `ttl` (ours expires there: `expires > now` is fresh), and with the
 *   default ttlResolution it caches the time behind a timer. Expiry and the backoff state live in
 *   the entry instead, on the injected `now`.
 * - fetch()/fetchMethod would replace the inflight map only by changing documented behaviour:
 *   delete()/clear() abort a pending fetch, so the caller of an invalidated miss is rejected (or,
 *   with ignoreFetchAbort, its value is stored after all) where it must get its value unstored; a
 *   fetch has no timeout, and a later fetch() joins a hung one even with forceRefresh, where a
 *   refresh pending past refreshTimeoutMs must count as failed, let a newer attempt decide, and
 *   still be stored if it ends late with none newer; deleteWhere() must disown the pending loads
 *   of entries it keeps, which a fetch stored as the entry cannot do; the backoff has to be
 *   checked before fetch() anyway; ttl 0 would need a per-call no-store option; and fetch()
 *   allocates options, an AbortController and `context` (for the per-call `load`) on every call.
 */
