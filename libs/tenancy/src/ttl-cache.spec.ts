import { TtlCache, TtlCacheOptions } from './ttl-cache';

/** A promise settled from outside, to hold a load open. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every queued promise reaction run. */
const settle = () => new Promise<void>((r) => setImmediate(r));

/** Two overlapping gets of one key share a single load, and both get what it loaded. */
async function expectOneSharedLoad(sut: TtlCache<number>, value: number): Promise<void> {
  const d = deferred<number>();
  const load = jest.fn(() => d.promise);
  const both = Promise.all([sut.get('a', load), sut.get('a', load)]);
  d.resolve(value);
  expect(await both).toEqual([value, value]);
  expect(load).toHaveBeenCalledTimes(1);
}

describe(TtlCache.name, () => {
  let t: number;
  const make = <V>(ttlMs = 1_000, max?: number, options: TtlCacheOptions = {}) =>
    new TtlCache<V>(ttlMs, max, { retryMs: 1_000, maxRetryMs: 4_000, now: () => t, ...options });

  beforeEach(() => (t = 0));

  it('loads once while fresh', async () => {
    const sut = make<number>();
    const load = jest.fn().mockResolvedValue(1);
    await sut.get('a', load);
    t = 999;
    expect(await sut.get('a', load)).toBe(1);
    expect(load).toHaveBeenCalledTimes(1);
  });

  describe('a miss', () => {
    it('shares one load between overlapping callers', async () => {
      await expectOneSharedLoad(make<number>(), 7);
    });

    it('passes the error to every waiting caller and caches nothing', async () => {
      const sut = make<number>();
      const load = jest.fn().mockRejectedValue(new Error('db down'));
      const a = sut.get('a', load);
      const b = sut.get('a', load);
      await expect(a).rejects.toThrow('db down');
      await expect(b).rejects.toThrow('db down');
      expect(load).toHaveBeenCalledTimes(1);
      // No backoff for a miss: there is nothing to serve instead, so the caller decides.
      expect(await sut.get('a', () => Promise.resolve(2))).toBe(2);
    });

    it('passes on a load that throws synchronously', async () => {
      const sut = make<number>();
      await expect(
        sut.get('a', () => {
          throw new Error('sync');
        }),
      ).rejects.toThrow('sync');
    });
  });

  describe('an expired entry', () => {
    it('is returned at once while one refresh runs for any number of callers', async () => {
      const sut = make<string>();
      await sut.get('k', () => Promise.resolve('old'));
      t = 1_000; // expired: expires > now no longer holds
      const d = deferred<string>();
      const load = jest.fn(() => d.promise);
      const answers = await Promise.all(Array.from({ length: 10 }, () => sut.get('k', load)));
      expect(answers).toEqual(Array(10).fill('old'));
      expect(load).toHaveBeenCalledTimes(1);
      d.resolve('new');
      await settle();
      expect(await sut.get('k', load)).toBe('new');
      expect(load).toHaveBeenCalledTimes(1);
      // Replaced with a fresh lifetime from the time it was stored.
      t = 1_999;
      await sut.get('k', load);
      expect(load).toHaveBeenCalledTimes(1);
    });

    it('is kept and served when the refresh fails, and the next attempt waits for the backoff', async () => {
      const sut = make<string>();
      await sut.get('k', () => Promise.resolve('old'));
      t = 5_000;
      const failing = jest.fn().mockRejectedValue(new Error('db down'));
      expect(await sut.get('k', failing)).toBe('old');
      await settle();
      expect(failing).toHaveBeenCalledTimes(1);

      // 1 s after the first failure, then 2 s, then 4 s (the cap), then 4 s again.
      for (const wait of [1_000, 2_000, 4_000, 4_000]) {
        const calls = failing.mock.calls.length;
        t += wait - 1;
        expect(await sut.get('k', failing)).toBe('old');
        await settle();
        expect(failing).toHaveBeenCalledTimes(calls);
        t += 1;
        expect(await sut.get('k', failing)).toBe('old');
        await settle();
        expect(failing).toHaveBeenCalledTimes(calls + 1);
      }
    });

    it('backs off from the start again once a refresh succeeds', async () => {
      const sut = make<string>();
      await sut.get('k', () => Promise.resolve('v1'));
      t = 1_000;
      await sut.get('k', () => Promise.reject(new Error('down'))); // fails; retry at 2 000
      await settle();
      t = 2_000;
      await sut.get('k', () => Promise.resolve('v2')); // succeeds: fresh until 3 000
      await settle();
      t = 3_000;
      const failing = jest.fn().mockRejectedValue(new Error('down'));
      expect(await sut.get('k', failing)).toBe('v2');
      await settle();
      t = 4_000; // one retryMs later, not two: the failure count started over
      expect(await sut.get('k', failing)).toBe('v2');
      await settle();
      expect(failing).toHaveBeenCalledTimes(2);
    });

    it('is kept when the refresh throws synchronously', async () => {
      const sut = make<string>();
      await sut.get('k', () => Promise.resolve('old'));
      t = 1_000;
      expect(
        await sut.get('k', () => {
          throw new Error('sync');
        }),
      ).toBe('old');
      await settle();
      expect(await sut.get('k', () => Promise.resolve('new'))).toBe('old'); // backing off
    });

    it('counts a refresh pending past refreshTimeoutMs as failed', async () => {
      const sut = make<string>(1_000, undefined, { refreshTimeoutMs: 3_000 });
      await sut.get('k', () => Promise.resolve('old'));
      t = 1_000;
      const hung = deferred<string>();
      const load = jest.fn(() => hung.promise);
      expect(await sut.get('k', load)).toBe('old');
      t = 3_999;
      expect(await sut.get('k', load)).toBe('old');
      expect(load).toHaveBeenCalledTimes(1); // still the refresh in flight
      t = 4_000; // timed out: counted as a failure, so the backoff (1 s) starts now
      expect(await sut.get('k', load)).toBe('old');
      expect(load).toHaveBeenCalledTimes(1);
      t = 5_000;
      const next = deferred<string>();
      expect(await sut.get('k', () => next.promise)).toBe('old');
      // The hung load ends late: a newer attempt is current, so that one decides.
      hung.resolve('late');
      await settle();
      expect(await sut.get('k', load)).toBe('old');
      next.resolve('newest');
      await settle();
      expect(await sut.get('k', load)).toBe('newest');
    });

    it('takes the late result of a timed-out refresh when no newer attempt runs', async () => {
      const sut = make<string>(1_000, undefined, { refreshTimeoutMs: 3_000 });
      await sut.get('k', () => Promise.resolve('old'));
      t = 1_000;
      const hung = deferred<string>();
      await sut.get('k', () => hung.promise);
      t = 4_000;
      await sut.get('k', () => hung.promise); // timed out; backing off until 5 000
      hung.resolve('late');
      await settle();
      expect(await sut.get('k', () => Promise.resolve('unused'))).toBe('late');
    });
  });

  describe('invalidation', () => {
    it('drops the entry at once: the next caller waits for a new load, never the stale value', async () => {
      const sut = make<string>();
      await sut.get('k', () => Promise.resolve('before revocation'));
      t = 5_000; // expired, so it would be served stale
      sut.delete('k');
      const d = deferred<string>();
      const next = sut.get('k', () => d.promise);
      let answered: string | undefined;
      void next.then((v) => (answered = v));
      await settle();
      expect(answered).toBeUndefined();
      d.resolve('revoked');
      expect(await next).toBe('revoked');
    });

    it('during a refresh: the refresh is not stored, and does not disturb the load after it', async () => {
      const sut = make<string>();
      await sut.get('k', () => Promise.resolve('v1'));
      t = 1_000;
      const refresh = deferred<string>();
      expect(await sut.get('k', () => refresh.promise)).toBe('v1');
      sut.delete('k');
      const after = deferred<string>();
      const afterLoad = jest.fn(() => after.promise);
      const waiting = sut.get('k', afterLoad);
      refresh.resolve('read before the change');
      await settle();
      // The new load is still the one in flight: a second caller joins it.
      const joined = sut.get('k', afterLoad);
      expect(afterLoad).toHaveBeenCalledTimes(1);
      after.resolve('v2');
      expect(await waiting).toBe('v2');
      expect(await joined).toBe('v2');
      expect(await sut.get('k', () => Promise.resolve('unused'))).toBe('v2');
    });

    it('during a miss: the caller gets the value but it is not stored or shared', async () => {
      const sut = make<string>();
      const d = deferred<string>();
      const first = sut.get('k', () => d.promise);
      sut.delete('k');
      const second = sut.get('k', () => Promise.resolve('fresh'));
      d.resolve('stale');
      expect(await first).toBe('stale');
      expect(await second).toBe('fresh');
      expect(await sut.get('k', () => Promise.resolve('unused'))).toBe('fresh');
    });

    it('a failing refresh after an invalidation does not touch the new entry', async () => {
      const sut = make<string>();
      await sut.get('k', () => Promise.resolve('v1'));
      t = 1_000;
      const refresh = deferred<string>();
      await sut.get('k', () => refresh.promise);
      sut.delete('k');
      await sut.get('k', () => Promise.resolve('v2'));
      refresh.reject(new Error('down'));
      await settle();
      t = 2_000; // v2 expired; no backoff was recorded on it, so it refreshes at once
      const load = jest.fn().mockResolvedValue('v3');
      expect(await sut.get('k', load)).toBe('v2');
      expect(load).toHaveBeenCalledTimes(1);
    });

    it('deleteWhere drops matching entries and stores no pending load', async () => {
      const sut = make<{ tenant: string; v: number }>();
      await sut.get('a', () => Promise.resolve({ tenant: 't1', v: 1 }));
      await sut.get('b', () => Promise.resolve({ tenant: 't2', v: 1 }));
      t = 1_000;
      const refreshB = deferred<{ tenant: string; v: number }>();
      await sut.get('b', () => refreshB.promise);
      sut.deleteWhere((e) => e.tenant === 't1');
      refreshB.resolve({ tenant: 't2', v: 2 });
      await settle();
      // b is still there (stale, refreshed again since its refresh was discarded); a is gone.
      expect(await sut.get('b', () => Promise.resolve({ tenant: 't2', v: 3 }))).toEqual({
        tenant: 't2',
        v: 1,
      });
      await settle();
      expect(await sut.get('b', () => Promise.resolve({ tenant: 't2', v: 4 }))).toEqual({
        tenant: 't2',
        v: 3,
      });
      expect(await sut.get('a', () => Promise.resolve({ tenant: 't1', v: 9 }))).toEqual({
        tenant: 't1',
        v: 9,
      });
    });

    it('deleteWhere drops exactly the matching entries, wherever they are in the LRU order', async () => {
      const sut = make<number>();
      const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
      for (const [i, k] of keys.entries()) await sut.get(k, () => Promise.resolve(i));
      await sut.get('k0', () => Promise.resolve(-1)); // hits: k1 is the least recently used now,
      await sut.get('k7', () => Promise.resolve(-1)); // and k7 the most
      // Odd values: the head and the tail of the LRU order among them.
      sut.deleteWhere((v) => v % 2 === 1);
      const load = jest.fn((): Promise<number> => Promise.resolve(-1));
      for (const [i, k] of keys.entries()) expect(await sut.get(k, load)).toBe(i % 2 ? -1 : i);
      expect(load).toHaveBeenCalledTimes(10);
    });

    it('deleteWhere with a throwing match still lets no caller join a pending load', async () => {
      const sut = make<number>();
      await sut.get('a', () => Promise.resolve(1));
      const d = deferred<number>();
      void sut.get('b', () => d.promise);
      expect(() =>
        sut.deleteWhere(() => {
          throw new Error('bad match');
        }),
      ).toThrow('bad match');
      const load = jest.fn().mockResolvedValue(2);
      const got = sut.get('b', load);
      expect(load).toHaveBeenCalledTimes(1); // a load of its own, not the pending one
      d.resolve(3);
      expect(await got).toBe(2);
      await settle();
      expect(await sut.get('b', load)).toBe(2);
    });

    it('clear drops everything and stores no pending load', async () => {
      const sut = make<number>();
      await sut.get('a', () => Promise.resolve(1));
      const d = deferred<number>();
      const pending = sut.get('b', () => d.promise);
      sut.clear();
      d.resolve(2);
      expect(await pending).toBe(2);
      expect(await sut.get('a', () => Promise.resolve(10))).toBe(10);
      expect(await sut.get('b', () => Promise.resolve(20))).toBe(20);
    });
  });

  it('with ttl 0 stores nothing: every call loads, overlapping calls share one load', async () => {
    const sut = make<number>(0);
    const load = jest.fn().mockResolvedValue(1);
    await sut.get('a', load);
    await sut.get('a', load);
    expect(load).toHaveBeenCalledTimes(2);
    await expectOneSharedLoad(sut, 3);
  });

  it('stays within its size bound, evicting the oldest', async () => {
    const sut = make<number>(60_000, 2);
    const load = jest.fn().mockResolvedValue(0);
    for (const k of ['a', 'b', 'c']) await sut.get(k, load);
    await sut.get('a', load);
    expect(load).toHaveBeenCalledTimes(4);
  });

  it('evicts the least recently used: a hit, fresh or stale, keeps a key', async () => {
    const sut = make<number>(1_000, 2);
    const load = jest.fn().mockResolvedValue(0);
    await sut.get('a', load);
    await sut.get('b', load);
    await sut.get('a', load); // fresh hit: b is now the least recently used
    await sut.get('c', load); // evicts b
    expect(load).toHaveBeenCalledTimes(3);
    await sut.get('a', load);
    expect(load).toHaveBeenCalledTimes(3);
    t = 1_000;
    const refresh = deferred<number>();
    expect(await sut.get('a', () => refresh.promise)).toBe(0); // stale hit: c is the oldest now
    await sut.get('b', load); // a miss: evicts c
    expect(load).toHaveBeenCalledTimes(4);
    refresh.resolve(1);
    await settle();
    expect(await sut.get('a', load)).toBe(1);
    expect(await sut.get('b', load)).toBe(0);
    expect(load).toHaveBeenCalledTimes(4);
  });

  it('an entry evicted during its refresh is stored again by the refresh', async () => {
    const sut = make<number>(1_000, 1);
    await sut.get('a', () => Promise.resolve(1));
    t = 1_000;
    const refresh = deferred<number>();
    expect(await sut.get('a', () => refresh.promise)).toBe(1);
    await sut.get('b', () => Promise.resolve(2)); // evicts a
    refresh.resolve(3);
    await settle();
    expect(await sut.get('a', () => Promise.resolve(9))).toBe(3); // b evicted in turn
  });

  it('rejects a size bound that is not a positive integer', () => {
    for (const max of [0, -1, 1.5, Infinity, NaN]) {
      expect(() => new TtlCache<number>(1_000, max)).toThrow(RangeError);
    }
  });

  it('replacing an entry does not evict another one', async () => {
    const sut = make<number>(1_000, 2);
    await sut.get('a', () => Promise.resolve(1));
    await sut.get('b', () => Promise.resolve(1));
    t = 1_000;
    await sut.get('a', () => Promise.resolve(2)); // stale; refreshed in place
    await settle();
    const load = jest.fn().mockResolvedValue(3);
    expect(await sut.get('a', load)).toBe(2);
    expect(await sut.get('b', load)).toBe(1); // stale but present
    expect(load).toHaveBeenCalledTimes(1); // b's refresh, not a reload of a
  });

  it('uses the real clock by default', async () => {
    jest.useFakeTimers({ now: 0 });
    try {
      const sut = new TtlCache<number>(1000);
      await sut.get('a', () => Promise.resolve(1));
      jest.setSystemTime(1001);
      expect(await sut.get('a', () => Promise.resolve(2))).toBe(1); // stale, refreshing
      await Promise.resolve();
      await Promise.resolve();
      expect(await sut.get('a', () => Promise.resolve(3))).toBe(2);
    } finally {
      jest.useRealTimers();
    }
  });
});
