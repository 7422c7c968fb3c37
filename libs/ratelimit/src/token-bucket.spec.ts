import { MemoryBucketStore } from './token-bucket';

describe(MemoryBucketStore.name, () => {
  let now = 0;
  const sut = new MemoryBucketStore(() => now);
  afterAll(() => sut.close());
  const spec = { limit: 3, windowMs: 60_000 };

  it('allows a burst up to the limit, then refuses with a retry time', async () => {
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await sut.take('a', spec));
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, false]);
    expect(results[2].remaining).toBe(0);
    expect(results[3].retryAfterMs).toBe(20_000);
  });

  it('refills at limit per window', async () => {
    now += 20_000;
    expect((await sut.take('a', spec)).allowed).toBe(true);
    expect((await sut.take('a', spec)).allowed).toBe(false);
    now += 60_000;
    const full = await sut.take('a', spec);
    expect(full.allowed).toBe(true);
    expect(full.remaining).toBe(2);
  });

  it('keeps separate buckets per key', async () => {
    expect((await sut.take('b', spec)).remaining).toBe(2);
  });
});
