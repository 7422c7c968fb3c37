import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { ConcurrencyLimiter } from './concurrency-limiter';
import { RateLimited } from './rate-limiter';

class FakeResponse extends EventEmitter {
  readonly headers: Record<string, string> = {};
  setHeader(name: string, value: string): void {
    this.headers[name.toLowerCase()] = value;
  }
}

const response = () => new FakeResponse() as FakeResponse & ServerResponse;

describe(ConcurrencyLimiter.name, () => {
  const caps = { tenant: 3, key: 2 };

  it('refuses a key past its cap with a 429 and Retry-After, and frees the slot when the response closes', () => {
    const sut = new ConcurrencyLimiter();
    const first = response();
    sut.acquire(first, 't1', 'k1', caps);
    sut.acquire(response(), 't1', 'k1', caps);
    const third = response();
    let refusal: unknown;
    try {
      sut.acquire(third, 't1', 'k1', caps);
    } catch (err) {
      refusal = err;
    }
    expect(refusal).toBeInstanceOf(RateLimited);
    expect((refusal as RateLimited).limit).toBe('key-concurrency');
    expect((refusal as RateLimited).getStatus()).toBe(429);
    expect(third.headers['retry-after']).toBe('1');
    first.emit('close');
    expect(() => sut.acquire(response(), 't1', 'k1', caps)).not.toThrow();
  });

  it('caps the tenant across its keys, and never another tenant', () => {
    const sut = new ConcurrencyLimiter();
    sut.acquire(response(), 't1', 'a', caps);
    sut.acquire(response(), 't1', 'b', caps);
    sut.acquire(response(), 't1', 'c', caps);
    expect(() => sut.acquire(response(), 't1', 'd', caps)).toThrow(/per tenant/);
    expect(() => sut.acquire(response(), 't2', 'e', caps)).not.toThrow();
  });

  it('does not count a refused request against the tenant', () => {
    const sut = new ConcurrencyLimiter();
    sut.acquire(response(), 't1', 'k1', caps);
    sut.acquire(response(), 't1', 'k1', caps);
    expect(() => sut.acquire(response(), 't1', 'k1', caps)).toThrow(/per credential/);
    sut.acquire(response(), 't1', 'k2', caps);
    expect(() => sut.acquire(response(), 't1', 'k3', caps)).toThrow(/per tenant/);
  });

  it('counts nothing when a cap is 0', () => {
    const sut = new ConcurrencyLimiter();
    for (let i = 0; i < 100; i++) sut.acquire(response(), 't1', 'k1', { tenant: 0, key: 0 });
    expect(() => sut.acquire(response(), 't1', 'k1', { tenant: 0, key: 1 })).not.toThrow();
  });
});
