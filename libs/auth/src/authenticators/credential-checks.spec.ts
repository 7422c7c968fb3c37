import { AuthUnavailable } from '../refusal';
import { causeCode, CredentialChecks, printableUrl } from './credential-checks';

const deferred = <T>() => {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
};
const keep = (value: string, ms = 60_000) => ({ value, until: Date.now() + ms });

describe(CredentialChecks.name, () => {
  afterEach(() => jest.restoreAllMocks());

  describe('key', () => {
    it('is a hex HMAC that differs per process and never contains the parts', () => {
      const sut = new CredentialChecks<string>('service');
      const key = sut.key('tenant', 'https://auth.example/check', 'x-pass', 'hunter2');
      expect(key).toMatch(/^[0-9a-f]{64}$/);
      expect(key).toBe(sut.key('tenant', 'https://auth.example/check', 'x-pass', 'hunter2'));
      expect(new CredentialChecks<string>('service').key('tenant', 'x')).not.toBe(
        sut.key('tenant', 'x'),
      );
    });

    it('does not let parts run together into one key', () => {
      const sut = new CredentialChecks<string>('service');
      expect(sut.key('ab', 'c')).not.toBe(sut.key('a', 'bc'));
      expect(sut.key('a', '')).not.toBe(sut.key('a'));
    });
  });

  describe('answer', () => {
    it('keeps an answer until its time, then checks again', async () => {
      const sut = new CredentialChecks<string>('service');
      let calls = 0;
      const check = () => Promise.resolve(keep(`answer ${++calls}`, 1_000));
      await expect(sut.answer('t', 'k', check)).resolves.toBe('answer 1');
      await expect(sut.answer('t', 'k', check)).resolves.toBe('answer 1');
      const start = Date.now();
      jest.spyOn(Date, 'now').mockReturnValue(start + 1_001);
      await expect(sut.answer('t', 'k', check)).resolves.toBe('answer 2');
      expect(calls).toBe(2);
    });

    it('keeps nothing whose time is now or past, nor a failure', async () => {
      const sut = new CredentialChecks<string>('service');
      let calls = 0;
      const now = () => Promise.resolve({ value: `a${++calls}`, until: Date.now() });
      await sut.answer('t', 'k', now);
      await sut.answer('t', 'k', now);
      expect(calls).toBe(2);
      await expect(sut.answer('t', 'f', () => Promise.reject(new Error('down')))).rejects.toThrow(
        'down',
      );
      await expect(sut.answer('t', 'f', () => Promise.resolve(keep('up')))).resolves.toBe('up');
    });

    it('shares one check between identical callers in flight', async () => {
      const sut = new CredentialChecks<string>('service');
      const held = deferred<{ value: string; until: number }>();
      let calls = 0;
      const check = () => (calls++, held.promise);
      const both = Promise.all([sut.answer('t', 'k', check), sut.answer('t', 'k', check)]);
      held.resolve(keep('shared'));
      await expect(both).resolves.toEqual(['shared', 'shared']);
      expect(calls).toBe(1);
    });

    it('refuses a tenant’s check past the cap with a 503 that says why, and not other tenants’', async () => {
      const sut = new CredentialChecks<string>('tenant’s auth service', 2);
      const a = deferred<{ value: string; until: number }>();
      const b = deferred<{ value: string; until: number }>();
      const first = sut.answer('t1', 'k1', () => a.promise);
      const second = sut.answer('t1', 'k2', () => b.promise);
      let ran = false;
      const third = sut.answer('t1', 'k3', () => ((ran = true), Promise.resolve(keep('x'))));
      await expect(third).rejects.toBeInstanceOf(AuthUnavailable);
      await expect(third).rejects.toThrow(/waiting on the tenant’s auth service/);
      expect(ran).toBe(false);
      await expect(sut.answer('t2', 'k9', () => Promise.resolve(keep('other')))).resolves.toBe(
        'other',
      );
      a.resolve(keep('one'));
      b.reject(new Error('down'));
      await expect(first).resolves.toBe('one');
      await expect(second).rejects.toThrow('down');
      // Both slots are free again.
      await expect(sut.answer('t1', 'k4', () => Promise.resolve(keep('y')))).resolves.toBe('y');
      await expect(sut.answer('t1', 'k5', () => Promise.resolve(keep('z')))).resolves.toBe('z');
    });
  });
});

describe(printableUrl.name, () => {
  it('drops userinfo, query and fragment', () => {
    expect(printableUrl('https://u:p@auth.example:8443/check?token=x#f')).toBe(
      'https://auth.example:8443/check',
    );
    expect(printableUrl('not a url')).toBe('(an unparsable URL)');
  });
});

describe(causeCode.name, () => {
  it('reads the system error code undici wraps in cause', () => {
    expect(causeCode(new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }))).toBe(
      'ECONNREFUSED',
    );
    expect(causeCode(new Error('plain'))).toBeUndefined();
    expect(causeCode('a string')).toBeUndefined();
  });
});
