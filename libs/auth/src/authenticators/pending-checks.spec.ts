import { AuthUnavailable } from '../refusal';
import { PendingChecks } from './pending-checks';

describe(PendingChecks.name, () => {
  const deferred = () => {
    let resolve!: (v: string) => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<string>((res, rej) => ((resolve = res), (reject = rej)));
    return { promise, resolve, reject };
  };

  it('refuses a tenant’s check past the cap with a 503 that says why, and not other tenants’', async () => {
    const sut = new PendingChecks('tenant’s auth service', 2);
    const a = deferred();
    const b = deferred();
    const first = sut.run('t1', () => a.promise);
    const second = sut.run('t1', () => b.promise);
    let ran = false;
    const third = sut.run('t1', () => {
      ran = true;
      return Promise.resolve('x');
    });
    await expect(third).rejects.toBeInstanceOf(AuthUnavailable);
    await expect(third).rejects.toThrow(/waiting on the tenant’s auth service/);
    expect(ran).toBe(false);
    await expect(sut.run('t2', () => Promise.resolve('other'))).resolves.toBe('other');
    a.resolve('one');
    b.reject(new Error('down'));
    await expect(first).resolves.toBe('one');
    await expect(second).rejects.toThrow('down');
  });

  it('frees a slot when a check ends, whether it succeeded or failed', async () => {
    const sut = new PendingChecks('endpoint', 1);
    await expect(sut.run('t', () => Promise.reject(new Error('no')))).rejects.toThrow('no');
    await expect(sut.run('t', () => Promise.resolve('yes'))).resolves.toBe('yes');
    const held = deferred();
    const pending = sut.run('t', () => held.promise);
    await expect(sut.run('t', () => Promise.resolve('x'))).rejects.toBeInstanceOf(AuthUnavailable);
    held.resolve('done');
    await pending;
    await expect(sut.run('t', () => Promise.resolve('again'))).resolves.toBe('again');
  });
});
