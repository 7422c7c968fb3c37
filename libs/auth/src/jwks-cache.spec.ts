import { generateKeyPairSync } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { EgressPolicy } from '@app/egress';
import { ChangeFeed, type TenantJwtSettings } from '@app/tenancy';
import { JwksCache, JwtRejected } from './jwks-cache';

const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' };
const token = `${Buffer.from(JSON.stringify({ alg: 'RS256', kid: 'k1' })).toString('base64url')}.e30.sig`;
const UNFETCHABLE = /signing keys could not be fetched/;

describe(JwksCache.name, () => {
  let t: number;
  let fetchMock: jest.Mock;
  let egress: EgressPolicy;
  let answer: () => Promise<Response>;
  let n = 0;
  let settings: TenantJwtSettings;
  const up = () => Promise.resolve(new Response(JSON.stringify({ keys: [jwk] }), { status: 200 }));
  const down = () => Promise.resolve(new Response('{}', { status: 503 }));

  beforeEach(() => {
    t = 1_000_000;
    jest.spyOn(Date, 'now').mockImplementation(() => t);
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    answer = up;
    fetchMock = jest.fn(() => answer());
    egress = { fetch: fetchMock } as unknown as EgressPolicy;
    n += 1;
    settings = { issuer: 'https://idp', jwksUri: `https://idp.test/${n}/jwks.json` };
  });
  afterEach(() => jest.restoreAllMocks());

  it('caches a failed fetch: the requests after it are refused at once with the same reason', async () => {
    const sut = new JwksCache(egress);
    answer = down;
    await expect(sut.keyFor(settings, token)).rejects.toThrow(UNFETCHABLE);
    for (let i = 0; i < 100; i++) {
      await expect(sut.keyFor(settings, token)).rejects.toThrow(UNFETCHABLE);
    }
    expect(fetchMock).toHaveBeenCalledTimes(1);
    // Another provider is not affected.
    answer = up;
    await expect(
      sut.keyFor({ ...settings, jwksUri: `${settings.jwksUri}?other` }, token),
    ).resolves.toBeDefined();
  });

  it('forgets a key set in every cache on the change feed: the next token fetches it again', async () => {
    const feed = new ChangeFeed(null);
    const [here, elsewhere] = [new JwksCache(egress, feed), new JwksCache(egress, feed)];
    await here.keyFor(settings, token);
    await elsewhere.keyFor(settings, token);
    await here.keyFor(settings, token);
    expect(fetchMock).toHaveBeenCalledTimes(2);
    here.forget(settings.jwksUri);
    await here.keyFor(settings, token);
    await elsewhere.keyFor(settings, token);
    expect(fetchMock).toHaveBeenCalledTimes(4);
  });

  it('tries again after 5 s, then 10, 20 and at most 30 s while the provider keeps failing', async () => {
    const sut = new JwksCache(egress);
    answer = down;
    await expect(sut.keyFor(settings, token)).rejects.toThrow(UNFETCHABLE);
    for (const wait of [5_000, 10_000, 20_000, 30_000, 30_000]) {
      const calls = fetchMock.mock.calls.length;
      t += wait - 1;
      await expect(sut.keyFor(settings, token)).rejects.toThrow(UNFETCHABLE);
      expect(fetchMock).toHaveBeenCalledTimes(calls);
      t += 1;
      await expect(sut.keyFor(settings, token)).rejects.toThrow(UNFETCHABLE);
      expect(fetchMock).toHaveBeenCalledTimes(calls + 1);
    }
  });

  it('accepts once the provider is back and the window has passed, and starts over at 5 s', async () => {
    const sut = new JwksCache(egress);
    answer = down;
    await expect(sut.keyFor(settings, token)).rejects.toThrow(UNFETCHABLE);
    answer = up;
    await expect(sut.keyFor(settings, token)).rejects.toThrow(UNFETCHABLE); // still cached
    t += 5_000;
    await expect(sut.keyFor(settings, token)).resolves.toBeDefined();
    expect(fetchMock).toHaveBeenCalledTimes(2);
  });

  it('shares one fetch between requests that arrive while it runs', async () => {
    const sut = new JwksCache(egress);
    let fail!: () => void;
    answer = () =>
      new Promise<Response>((resolve) => (fail = () => resolve(new Response('', { status: 500 }))));
    const all = Promise.allSettled(Array.from({ length: 20 }, () => sut.keyFor(settings, token)));
    await new Promise((r) => setImmediate(r));
    fail();
    const results = await all;
    expect(results.every((r) => r.status === 'rejected' && r.reason instanceof JwtRejected)).toBe(
      true,
    );
    expect(fetchMock).toHaveBeenCalledTimes(1);
  });

  it('keeps serving known-good keys while the provider is down, stale or not', async () => {
    const sut = new JwksCache(egress);
    const key = await sut.keyFor(settings, token);
    answer = down;
    t += 11 * 60_000; // stale: a refresh is tried, fails, and the cached key is used
    await expect(sut.keyFor(settings, token)).resolves.toBe(key);
    expect(fetchMock).toHaveBeenCalledTimes(2);
    for (let i = 0; i < 50; i++) await expect(sut.keyFor(settings, token)).resolves.toBe(key);
    expect(fetchMock).toHaveBeenCalledTimes(2);
  });

  it('does not let an unknown kid fetch during the negative window', async () => {
    const sut = new JwksCache(egress);
    await sut.keyFor(settings, token);
    answer = down;
    const stranger = `${Buffer.from(JSON.stringify({ alg: 'RS256', kid: 'new' })).toString('base64url')}.e30.sig`;
    t += 31_000;
    await expect(sut.keyFor(settings, stranger)).rejects.toThrow(/no signing key with kid "new"/);
    expect(fetchMock).toHaveBeenCalledTimes(2);
    t += 31_000; // the unknown-kid interval passed, but the failure (5 s) is older still: a fetch
    await expect(sut.keyFor(settings, stranger)).rejects.toThrow(/no signing key/);
    expect(fetchMock).toHaveBeenCalledTimes(3);
  });
});
