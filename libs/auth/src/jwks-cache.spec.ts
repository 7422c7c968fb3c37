import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from '@nestjs/common';
import { loadConfig } from '@app/config';
import { EgressPolicy } from '@app/egress';
import { ChangeFeed } from '@app/tenancy';
import type { Jose } from './esm';
import { JwksCache, usableKeys } from './jwks-cache';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A loopback identity provider: its handler can be swapped, its requests are counted by path. */
interface Provider {
  /** The JWKS URI, `<origin>/jwks.json`. */
  readonly uri: string;
  readonly origin: string;
  handle: Handler;
  /** Paths requested, in order. */
  readonly seen: string[];
}

const cleanups: (() => Promise<unknown>)[] = [];

async function provider(handle: Handler): Promise<Provider> {
  const server: Server = createServer((req, res) => {
    state.seen.push(req.url ?? '');
    state.handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const state: Provider = { uri: `${origin}/jwks.json`, origin, handle, seen: [] };
  return state;
}

/** A URI on a loopback port nothing listens on any more. */
async function closedPortUri(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}/jwks.json`;
}

const json =
  (body: unknown): Handler =>
  (_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
const serving = (...keys: unknown[]): Handler => json({ keys });
const down: Handler = (_req, res) => {
  res.statusCode = 503;
  res.end('maintenance');
};

const rsa = (modulusLength = 2048) => generateKeyPairSync('rsa', { modulusLength });
const publicJwk = (key: KeyObject, kid: string, extra: Record<string, unknown> = {}) => ({
  ...key.export({ format: 'jwk' }),
  kid,
  use: 'sig',
  ...extra,
});

const k1 = rsa();
const k2 = rsa();
const jwk1 = publicJwk(k1.publicKey, 'k1', { alg: 'RS256' });
const jwk2 = publicJwk(k2.publicKey, 'k2', { alg: 'RS256' });

const MINUTE = 60_000;

describe(JwksCache.name, () => {
  let jose: typeof Jose;
  let now: number;
  let warnings: string[];
  let egress: EgressPolicy;

  const sign = (key: KeyObject, kid: string, claims: Record<string, unknown> = { sub: 'alice' }) =>
    new jose.SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid }).sign(key);
  let token1: string;
  let token2: string;

  /** What a caller of the cache does: verify with the lookup it hands out for the URI. */
  const verify = async (sut: JwksCache, uri: string, token: string) =>
    (await jose.jwtVerify(token, await sut.lookup(uri))).payload;

  beforeAll(async () => {
    jose = await import('jose');
    token1 = await sign(k1.privateKey, 'k1');
    token2 = await sign(k2.privateKey, 'k2', { sub: 'bob' });
  });

  beforeEach(() => {
    now = Date.parse('2030-01-01T00:00:00Z');
    jest.spyOn(Date, 'now').mockImplementation(() => now);
    warnings = [];
    jest.spyOn(Logger.prototype, 'warn').mockImplementation((message: unknown) => {
      warnings.push(String(message));
    });
    egress = new EgressPolicy(loadConfig({ EGRESS_ALLOW: '127.0.0.0/8' }));
    cleanups.push(() => egress.onApplicationShutdown());
  });

  afterEach(async () => {
    jest.restoreAllMocks();
    await Promise.all(cleanups.splice(0).map((c) => c()));
  });

  describe('fetching', () => {
    it('finds the signing key at the JWKS URI and keeps the set: the next token is not a fetch', async () => {
      const idp = await provider(serving(jwk1));
      const sut = new JwksCache(egress);

      expect(await verify(sut, idp.uri, token1)).toEqual({ sub: 'alice' });
      expect(await verify(sut, idp.uri, token1)).toEqual({ sub: 'alice' });

      expect(idp.seen).toEqual(['/jwks.json']);
      expect(await sut.lookup(idp.uri)).toBe(await sut.lookup(idp.uri));
    });

    it('shares one fetch between the first tokens that arrive together', async () => {
      const idp = await provider(serving(jwk1, jwk2));
      const sut = new JwksCache(egress);

      const payloads = await Promise.all(
        Array.from({ length: 10 }, (_, i) => verify(sut, idp.uri, i % 2 ? token1 : token2)),
      );

      expect(payloads.map((p) => p.sub)).toEqual(
        Array.from({ length: 10 }, (_, i) => (i % 2 ? 'alice' : 'bob')),
      );
      expect(idp.seen).toEqual(['/jwks.json']);
    });

    it('shares one fetch between tokens verified together with one lookup', async () => {
      const idp = await provider(serving(jwk1));
      const sut = new JwksCache(egress);
      const lookup = await sut.lookup(idp.uri);

      await Promise.all(Array.from({ length: 10 }, () => jose.jwtVerify(token1, lookup)));

      expect(idp.seen).toEqual(['/jwks.json']);
    });

    it('keeps the key sets of different URIs apart', async () => {
      const one = await provider(serving(jwk1));
      const two = await provider(serving(jwk2));
      const sut = new JwksCache(egress);

      expect((await verify(sut, one.uri, token1)).sub).toBe('alice');
      expect((await verify(sut, two.uri, token2)).sub).toBe('bob');
      await expect(verify(sut, one.uri, token2)).rejects.toThrow(/no applicable key found/i);
      expect(one.seen).toEqual(['/jwks.json']);
      expect(two.seen).toEqual(['/jwks.json']);
    });

    it('does not follow a redirect: the keys it points to are never fetched', async () => {
      const idp = await provider((req, res) => {
        if (req.url === '/jwks.json') {
          res.writeHead(302, { location: '/moved/jwks.json' });
          res.end();
        } else {
          serving(jwk1)(req, res);
        }
      });
      const sut = new JwksCache(egress);

      await expect(verify(sut, idp.uri, token1)).rejects.toThrow('HTTP 302');

      expect(idp.seen).toEqual(['/jwks.json']);
    });

    it('refuses a key set over 256 KiB, announced by Content-Length', async () => {
      const idp = await provider(json({ keys: [jwk1], padding: 'x'.repeat(256 * 1024) }));
      const sut = new JwksCache(egress);

      await expect(verify(sut, idp.uri, token1)).rejects.toThrow(/exceeds 262144 bytes/);
    });

    it('refuses a key set over 256 KiB sent without a length', async () => {
      const idp = await provider((_req, res) => {
        res.setHeader('content-type', 'application/json');
        res.write(`{"keys":[${JSON.stringify(jwk1)}],"padding":"`);
        for (let i = 0; i < 64; i++) res.write('x'.repeat(8 * 1024));
        res.end('"}');
      });
      const sut = new JwksCache(egress);

      await expect(verify(sut, idp.uri, token1)).rejects.toThrow(/exceeds 262144 bytes/);
    });

    it('takes a key set just under 256 KiB', async () => {
      const idp = await provider(json({ keys: [jwk1], padding: 'x'.repeat(250 * 1024) }));
      const sut = new JwksCache(egress);

      expect((await verify(sut, idp.uri, token1)).sub).toBe('alice');
    });

    it.each([
      ['not JSON', '<html>oops</html>', /JSON/],
      [
        'JSON without a keys array',
        '{"keys":{"k1":{}}}',
        /not a JWKS document \(no "keys" array\)/,
      ],
    ])('refuses tokens when the JWKS URI serves %s', async (_what, body, message) => {
      const idp = await provider(json(body));
      const sut = new JwksCache(egress);

      await expect(verify(sut, idp.uri, token1)).rejects.toThrow(message);
      expect(warnings).toEqual([expect.stringContaining(`JWKS ${idp.uri} unavailable`)]);
    });

    it('verifies with the usable keys of a set that also holds unusable ones', async () => {
      const leaked = rsa();
      const idp = await provider(
        serving(
          { ...leaked.privateKey.export({ format: 'jwk' }), kid: 'leaked', use: 'sig' },
          { kty: 'RSA', kid: 'broken', n: '!!', e: 'AQAB' },
          jwk1,
        ),
      );
      const sut = new JwksCache(egress);

      expect((await verify(sut, idp.uri, token1)).sub).toBe('alice');
      await expect(
        verify(sut, idp.uri, await sign(leaked.privateKey, 'leaked')),
      ).rejects.toBeInstanceOf(jose.errors.JWKSNoMatchingKey);
    });
  });

  describe('a provider that is down', () => {
    it('refuses its tokens while nothing is cached, and does not ask it again for 5 s', async () => {
      const idp = await provider(down);
      const sut = new JwksCache(egress);

      await expect(verify(sut, idp.uri, token1)).rejects.toThrow('HTTP 503');
      for (let i = 0; i < 20; i++) {
        await expect(verify(sut, idp.uri, token1)).rejects.toThrow('HTTP 503');
      }
      now += 4_999;
      await expect(verify(sut, idp.uri, token1)).rejects.toThrow('HTTP 503');

      expect(idp.seen).toHaveLength(1);
      expect(warnings).toEqual([
        `JWKS ${idp.uri} unavailable: HTTP 503; refusing its tokens for 5 s`,
      ]);
    });

    it('asks again once the window has passed, and accepts once the provider is back', async () => {
      const idp = await provider(down);
      const sut = new JwksCache(egress);
      await expect(verify(sut, idp.uri, token1)).rejects.toThrow('HTTP 503');
      idp.handle = serving(jwk1);
      await expect(verify(sut, idp.uri, token1)).rejects.toThrow('HTTP 503');
      expect(idp.seen).toHaveLength(1);

      now += 5_000;

      expect((await verify(sut, idp.uri, token1)).sub).toBe('alice');
      expect(idp.seen).toHaveLength(2);
    });

    it('waits 5 s, then 10, 20 and at most 30 s while the provider keeps failing', async () => {
      const idp = await provider(down);
      const sut = new JwksCache(egress);
      await expect(verify(sut, idp.uri, token1)).rejects.toThrow('HTTP 503');

      for (const wait of [5_000, 10_000, 20_000, 30_000, 30_000]) {
        const asked = idp.seen.length;
        now += wait - 1;
        await expect(verify(sut, idp.uri, token1)).rejects.toThrow('HTTP 503');
        expect(idp.seen).toHaveLength(asked);
        now += 1;
        await expect(verify(sut, idp.uri, token1)).rejects.toThrow('HTTP 503');
        expect(idp.seen).toHaveLength(asked + 1);
      }
      expect(warnings.map((w) => /for (\d+) s$/.exec(w)?.[1])).toEqual([
        '5',
        '10',
        '20',
        '30',
        '30',
        '30',
      ]);
    });

    it('starts over at 5 s after a success', async () => {
      const idp = await provider(down);
      const sut = new JwksCache(egress);
      await expect(verify(sut, idp.uri, token1)).rejects.toThrow('HTTP 503');
      now += 5_000;
      await expect(verify(sut, idp.uri, token1)).rejects.toThrow('HTTP 503'); // 10 s now
      now += 10_000;
      idp.handle = serving(jwk1);
      await verify(sut, idp.uri, token1);
      sut.forget(idp.uri);
      idp.handle = down;

      await expect(verify(sut, idp.uri, token1)).rejects.toThrow('HTTP 503');

      expect(warnings.at(-1)).toMatch(/refusing its tokens for 5 s$/);
    });

    it('does not hold back another provider', async () => {
      const broken = await provider(down);
      const healthy = await provider(serving(jwk1));
      const sut = new JwksCache(egress);

      await expect(verify(sut, broken.uri, token1)).rejects.toThrow('HTTP 503');

      expect((await verify(sut, healthy.uri, token1)).sub).toBe('alice');
    });

    it('refuses its tokens when it cannot be connected to', async () => {
      const uri = await closedPortUri();
      const sut = new JwksCache(egress);

      await expect(verify(sut, uri, token1)).rejects.toThrow('fetch failed');
      expect(warnings).toEqual([
        `JWKS ${uri} unavailable: fetch failed; refusing its tokens for 5 s`,
      ]);
    });

    it('keeps verifying with the last good keys once they are stale, asking only now and then', async () => {
      const idp = await provider(serving(jwk1));
      const sut = new JwksCache(egress);
      await verify(sut, idp.uri, token1);
      idp.handle = down;

      now += 10 * MINUTE + 1; // stale: the refresh is tried, fails, and the last good set is used
      expect((await verify(sut, idp.uri, token1)).sub).toBe('alice');
      expect(idp.seen).toHaveLength(2);
      for (let i = 0; i < 20; i++) expect((await verify(sut, idp.uri, token1)).sub).toBe('alice');
      expect(idp.seen).toHaveLength(2);

      now += 10 * MINUTE + 1; // stale again: another try, and still the last good set
      expect((await verify(sut, idp.uri, token1)).sub).toBe('alice');
      expect(idp.seen).toHaveLength(3);
      expect(warnings).toEqual([
        `JWKS ${idp.uri} unavailable: HTTP 503; using cached keys`,
        `JWKS ${idp.uri} unavailable: HTTP 503; using cached keys`,
      ]);
    });

    it('keeps the last good keys when the provider starts serving an oversize or broken set', async () => {
      const idp = await provider(serving(jwk1));
      const sut = new JwksCache(egress);
      await verify(sut, idp.uri, token1);
      idp.handle = json({ keys: [jwk2], padding: 'x'.repeat(300 * 1024) });

      now += 10 * MINUTE + 1;
      expect((await verify(sut, idp.uri, token1)).sub).toBe('alice');
      await expect(verify(sut, idp.uri, token2)).rejects.toBeInstanceOf(
        jose.errors.JWKSNoMatchingKey,
      );
      expect(warnings[0]).toMatch(/exceeds 262144 bytes; using cached keys$/);
    });
  });

  describe('refreshing', () => {
    it('takes up a rotated key set after ten minutes, not before', async () => {
      const idp = await provider(serving(jwk1));
      const sut = new JwksCache(egress);
      await verify(sut, idp.uri, token1);
      idp.handle = serving(jwk2);

      now += 10 * MINUTE - 1;
      expect((await verify(sut, idp.uri, token1)).sub).toBe('alice');
      expect(idp.seen).toHaveLength(1);

      now += 1;
      expect((await verify(sut, idp.uri, token2)).sub).toBe('bob');
      await expect(verify(sut, idp.uri, token1)).rejects.toBeInstanceOf(
        jose.errors.JWKSNoMatchingKey,
      );
      expect(idp.seen).toHaveLength(2);
    });

    it('fetches again for an unknown kid at most once per 30 s', async () => {
      const idp = await provider(serving(jwk1));
      const sut = new JwksCache(egress);
      await verify(sut, idp.uri, token1);
      idp.handle = serving(jwk1, jwk2); // k2 is published after the set was fetched

      now += 29_999;
      for (let i = 0; i < 10; i++) {
        await expect(verify(sut, idp.uri, token2)).rejects.toBeInstanceOf(
          jose.errors.JWKSNoMatchingKey,
        );
      }
      expect(idp.seen).toHaveLength(1);

      now += 1;
      expect((await verify(sut, idp.uri, token2)).sub).toBe('bob');
      expect(idp.seen).toHaveLength(2);

      // Just fetched: another unknown kid waits its 30 s.
      const stranger = await sign(rsa().privateKey, 'k3');
      for (let i = 0; i < 10; i++) {
        await expect(verify(sut, idp.uri, stranger)).rejects.toBeInstanceOf(
          jose.errors.JWKSNoMatchingKey,
        );
      }
      expect(idp.seen).toHaveLength(2);
      now += 30_000;
      await expect(verify(sut, idp.uri, stranger)).rejects.toBeInstanceOf(
        jose.errors.JWKSNoMatchingKey,
      );
      expect(idp.seen).toHaveLength(3);
    });

    it('answers an unknown kid from the last good keys while the provider is down', async () => {
      const idp = await provider(serving(jwk1));
      const sut = new JwksCache(egress);
      await verify(sut, idp.uri, token1);
      idp.handle = down;

      now += 30_000;
      await expect(verify(sut, idp.uri, token2)).rejects.toBeInstanceOf(
        jose.errors.JWKSNoMatchingKey,
      );
      expect((await verify(sut, idp.uri, token1)).sub).toBe('alice');
      expect(idp.seen).toHaveLength(2);
    });
  });

  describe('forget()', () => {
    it('drops the key set: the next token fetches it again', async () => {
      const idp = await provider(serving(jwk1));
      const sut = new JwksCache(egress);
      const before = await sut.lookup(idp.uri);
      await verify(sut, idp.uri, token1);
      idp.handle = serving(jwk2);

      sut.forget(idp.uri);

      expect(await sut.lookup(idp.uri)).not.toBe(before);
      expect((await verify(sut, idp.uri, token2)).sub).toBe('bob');
      await expect(verify(sut, idp.uri, token1)).rejects.toBeInstanceOf(
        jose.errors.JWKSNoMatchingKey,
      );
      expect(idp.seen).toHaveLength(2);
    });

    it('drops a provider’s negative window with it', async () => {
      const idp = await provider(down);
      const sut = new JwksCache(egress);
      await expect(verify(sut, idp.uri, token1)).rejects.toThrow('HTTP 503');
      idp.handle = serving(jwk1);

      sut.forget(idp.uri);

      expect((await verify(sut, idp.uri, token1)).sub).toBe('alice');
    });

    it('drops the key set in every cache on the change feed', async () => {
      const idp = await provider(serving(jwk1));
      const feed = new ChangeFeed(null);
      const [here, elsewhere] = [new JwksCache(egress, feed), new JwksCache(egress, feed)];
      await verify(here, idp.uri, token1);
      await verify(elsewhere, idp.uri, token1);
      expect(idp.seen).toHaveLength(2);

      here.forget(idp.uri);
      await verify(here, idp.uri, token1);
      await verify(elsewhere, idp.uri, token1);

      expect(idp.seen).toHaveLength(4);
    });

    it('leaves other key sets alone', async () => {
      const one = await provider(serving(jwk1));
      const two = await provider(serving(jwk2));
      const sut = new JwksCache(egress);
      await verify(sut, one.uri, token1);
      await verify(sut, two.uri, token2);

      sut.forget(one.uri);
      await verify(sut, two.uri, token2);

      expect(two.seen).toHaveLength(1);
    });
  });
});

describe(usableKeys.name, () => {
  const ec = (namedCurve: string) => generateKeyPairSync('ec', { namedCurve });

  it('keeps public RSA keys of 2048 bits and more and EC keys on the NIST curves', () => {
    const keys = [
      publicJwk(k1.publicKey, 'rsa-2048'),
      publicJwk(rsa(3072).publicKey, 'rsa-3072'),
      publicJwk(ec('prime256v1').publicKey, 'p-256'),
      publicJwk(ec('secp384r1').publicKey, 'p-384'),
      publicJwk(ec('secp521r1').publicKey, 'p-521'),
      { ...publicJwk(k2.publicKey, 'no-use'), use: undefined },
    ];

    expect(usableKeys({ keys }).map((k) => k.kid)).toEqual([
      'rsa-2048',
      'rsa-3072',
      'p-256',
      'p-384',
      'p-521',
      'no-use',
    ]);
  });

  it('drops private, weak, non-signing and symmetric keys', () => {
    const keys = [
      { ...k1.privateKey.export({ format: 'jwk' }), kid: 'private-rsa' },
      { ...ec('prime256v1').privateKey.export({ format: 'jwk' }), kid: 'private-ec' },
      publicJwk(rsa(1024).publicKey, 'rsa-1024'),
      publicJwk(ec('secp256k1').publicKey, 'secp256k1'),
      publicJwk(k1.publicKey, 'encryption', { use: 'enc' }),
      { kty: 'oct', kid: 'hmac', k: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0', use: 'sig' },
      publicJwk(generateKeyPairSync('ed25519').publicKey, 'ed25519'),
      jwk1,
    ];

    expect(usableKeys({ keys }).map((k) => k.kid)).toEqual(['k1']);
  });

  it('drops malformed entries and keeps the rest', () => {
    const keys = [
      null,
      'k1',
      42,
      [jwk1],
      {},
      { kty: 'RSA', kid: 'bad-modulus', n: '!!', e: 'AQAB' },
      { kty: 'RSA', kid: 'no-exponent', n: jwk1.n },
      { kty: 'EC', kid: 'no-point', crv: 'P-256' },
      { kty: 'EC', kid: 'bad-curve', crv: 'P-128', x: 'AA', y: 'AA' },
      jwk1,
    ];

    expect(usableKeys({ keys })).toEqual([jwk1]);
  });

  it.each([[{}], [null], ['{"keys":[]}'], [{ keys: { k1: jwk1 } }], [[jwk1]]])(
    'refuses %j as not a JWKS document',
    (doc) => {
      expect(() => usableKeys(doc)).toThrow('not a JWKS document (no "keys" array)');
    },
  );

  it('takes an empty key set', () => {
    expect(usableKeys({ keys: [] })).toEqual([]);
  });
});
