import { generateKeyPairSync, sign } from 'node:crypto';
import { ADMIN, usePlatform } from './support/platform';
import { signJws, TestIdp } from './support/idp';
import { HostileIdp } from './support/hostile-idp';
import {
  expectAccepted,
  expectBearerRefused,
  initWithToken,
  tenantWithIdp,
} from './support/hostile';

/**
 * A tenant admin chooses the JWKS URL the platform fetches. Whatever that URL answers — an endless
 * document, a trickle, a redirect, something that is not a key set — the platform refuses the
 * token with 401, in bounded time and memory, and goes on serving everyone else.
 */
describe('JWT: a hostile identity provider', () => {
  const p = usePlatform();
  let good: TestIdp;
  let goodTenant: { slug: string; aud: string };
  const started: HostileIdp[] = [];

  const hostile = async () => {
    const idp = await HostileIdp.start();
    started.push(idp);
    const tenant = await tenantWithIdp(p, idp, {}, 'evilidp');
    return { idp, tenant };
  };
  const othersStillServed = async () =>
    expectAccepted(await initWithToken(p, goodTenant.slug, good.sign({ aud: goodTenant.aud })));

  beforeAll(async () => {
    good = await TestIdp.start();
    goodTenant = await tenantWithIdp(p, good, {}, 'goodidp');
  });
  afterAll(async () => {
    await good.stop();
    await Promise.all(started.map((i) => i.stop()));
  });

  it('serves a well-behaved key set (the baseline for the cases below)', async () => {
    const { idp, tenant } = await hostile();
    expectAccepted(await initWithToken(p, tenant.slug, idp.sign(tenant.aud)));
  });

  it('stops reading an endless JWKS document early instead of buffering it', async () => {
    const { idp, tenant } = await hostile();
    idp.mode = { kind: 'huge', bytes: 64 * 1024 * 1024 };
    const startedAt = Date.now();
    const res = await initWithToken(p, tenant.slug, idp.sign(tenant.aud));
    expect(Date.now() - startedAt).toBeLessThan(10_000);
    expectBearerRefused(p, tenant.slug, res, /could not be fetched/);
    // The JWKS limit is 256 KiB; what the provider could push past it is socket buffers, not
    // the whole 64 MiB.
    expect(idp.completed).toBe(false);
    expect(idp.bytesSent).toBeLessThan(8 * 1024 * 1024);
    await othersStillServed();
  }, 30_000);

  it('gives up on a JWKS that arrives a byte at a time, within the fetch timeout', async () => {
    const { idp, tenant } = await hostile();
    idp.mode = { kind: 'drip', intervalMs: 50 };
    const startedAt = Date.now();
    const res = await initWithToken(p, tenant.slug, idp.sign(tenant.aud));
    expect(Date.now() - startedAt).toBeLessThan(10_000);
    expectBearerRefused(p, tenant.slug, res, /could not be fetched/);
    expect(idp.completed).toBe(false);
    await othersStillServed();
  }, 30_000);

  it('does not follow a redirect from the JWKS URL (not even to a real key set)', async () => {
    const { idp, tenant } = await hostile();
    // The redirect target serves a JWKS holding this provider's key.
    const target = await HostileIdp.start();
    started.push(target);
    target.mode = { kind: 'keys', keys: [idp.jwk()] };
    idp.mode = { kind: 'redirect', to: target.jwksUri };
    const res = await initWithToken(p, tenant.slug, idp.sign(tenant.aud));
    expectBearerRefused(p, tenant.slug, res, /could not be fetched/);
    expect(target.requests).toBe(0);
  });

  it.each([
    ['an HTML error page', { status: 200, contentType: 'text/html', body: '<html>oops</html>' }],
    [
      'JSON that is not an object',
      { status: 200, contentType: 'application/json', body: '[1,2,3]' },
    ],
    [
      'keys that is not an array',
      { status: 200, contentType: 'application/json', body: '{"keys":{"a":1}}' },
    ],
    ['null', { status: 200, contentType: 'application/json', body: 'null' }],
    ['an empty key set', { status: 200, contentType: 'application/json', body: '{"keys":[]}' }],
    ['a 500', { status: 500, contentType: 'application/json', body: '{}' }],
  ])('refuses with 401 when the JWKS URL answers %s', async (_what, raw) => {
    const { idp, tenant } = await hostile();
    idp.mode = { kind: 'raw', ...raw };
    const res = await initWithToken(p, tenant.slug, idp.sign(tenant.aud));
    expectBearerRefused(p, tenant.slug, res, /signing key|could not be fetched/);
    await othersStillServed();
  });

  it('ignores keys it must not use, and still finds the real one among them', async () => {
    const { idp, tenant } = await hostile();
    const real = idp.jwk();
    idp.mode = {
      kind: 'keys',
      keys: [
        // A symmetric key under the token's kid: never an HMAC secret.
        {
          kty: 'oct',
          kid: 'oct-key',
          k: Buffer.from('secret').toString('base64url'),
          alg: 'HS256',
        },
        // An encryption key.
        { ...real, kid: 'enc-key', use: 'enc' },
        // Garbage that claims to be RSA.
        { kty: 'RSA', kid: 'broken-key', n: '!!!', e: 'AQAB' },
        'not even an object',
        null,
        real,
      ],
    };
    expectAccepted(await initWithToken(p, tenant.slug, idp.sign(tenant.aud)));
    for (const kid of ['oct-key', 'enc-key', 'broken-key']) {
      const res = await initWithToken(p, tenant.slug, idp.sign(tenant.aud, kid));
      expectBearerRefused(p, tenant.slug, res, /no signing key with kid/);
    }
  });

  it('does not trust weak keys, or a JWK published with its private part', async () => {
    const { idp, tenant } = await hostile();
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
    idp.mode = {
      kind: 'keys',
      keys: [
        { ...weak.publicKey.export({ format: 'jwk' }), kid: 'weak-rsa', use: 'sig' },
        { ...k1.publicKey.export({ format: 'jwk' }), kid: 'odd-curve', use: 'sig' },
        { ...idp.privateKey.export({ format: 'jwk' }), kid: 'with-private', use: 'sig' },
        idp.jwk(),
      ],
    };
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: 'u', iss: idp.issuer, aud: tenant.aud, iat: now, exp: now + 300 };
    const tokens: Array<[string, string]> = [
      ['weak-rsa', signJws({ alg: 'RS256', kid: 'weak-rsa' }, claims, weak.privateKey)],
      [
        'odd-curve',
        `${Buffer.from(JSON.stringify({ alg: 'ES256', kid: 'odd-curve' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${sign('sha256', Buffer.from('x'), { key: k1.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`,
      ],
      ['with-private', idp.sign(tenant.aud, 'with-private')],
    ];
    for (const [kid, token] of tokens) {
      const res = await initWithToken(p, tenant.slug, token);
      expectBearerRefused(p, tenant.slug, res, new RegExp(`no signing key with kid "${kid}"`));
    }
    expectAccepted(await initWithToken(p, tenant.slug, idp.sign(tenant.aud)));
  });

  it('GET /admin/tenants/:tenant/auth still answers for a tenant with a hostile provider', async () => {
    const { idp, tenant } = await hostile();
    idp.mode = { kind: 'huge', bytes: 64 * 1024 * 1024 };
    const res = await p.http().get(`/admin/tenants/${tenant.slug}/auth`).set(ADMIN).expect(200);
    expect(res.body.jwt.jwksUri).toBe(idp.jwksUri);
  });
});
