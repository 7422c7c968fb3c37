import { TtlCache } from './ttl-cache';

describe(TtlCache.name, () => {
  it('loads once while fresh', async () => {
    const sut = new TtlCache<number>(60_000);
    const load = jest.fn().mockResolvedValue(1);
    await sut.get('a', load);
    await sut.get('a', load);
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('shares one load between overlapping callers', async () => {
    const sut = new TtlCache<number>(60_000);
    const load = jest.fn(() => new Promise<number>((r) => setTimeout(() => r(7), 5)));
    expect(await Promise.all([sut.get('a', load), sut.get('a', load)])).toEqual([7, 7]);
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('reloads after an invalidation, even one that lands mid-load', async () => {
    const sut = new TtlCache<string>(60_000);
    let release!: (v: string) => void;
    const first = sut.get('k', () => new Promise<string>((r) => (release = r)));
    sut.delete('k');
    release('stale');
    expect(await first).toBe('stale');
    expect(await sut.get('k', () => Promise.resolve('fresh'))).toBe('fresh');
  });

  it('expires entries', async () => {
    jest.useFakeTimers({ now: 0 });
    try {
      const sut = new TtlCache<number>(1000);
      await sut.get('a', () => Promise.resolve(1));
      jest.setSystemTime(1001);
      expect(await sut.get('a', () => Promise.resolve(2))).toBe(2);
    } finally {
      jest.useRealTimers();
    }
  });

  it('serves an expired entry when reloading fails, and fails when it has none', async () => {
    jest.useFakeTimers({ now: 0 });
    try {
      const sut = new TtlCache<number>(1000);
      await sut.get('a', () => Promise.resolve(1));
      jest.setSystemTime(5000);
      expect(await sut.get('a', () => Promise.reject(new Error('db down')))).toBe(1);
      await expect(sut.get('b', () => Promise.reject(new Error('db down')))).rejects.toThrow(
        'db down',
      );
    } finally {
      jest.useRealTimers();
    }
  });

  it('stays within its size bound', async () => {
    const sut = new TtlCache<number>(60_000, 2);
    const load = jest.fn().mockResolvedValue(0);
    for (const k of ['a', 'b', 'c']) await sut.get(k, load);
    await sut.get('a', load);
    expect(load).toHaveBeenCalledTimes(4);
  });
});
