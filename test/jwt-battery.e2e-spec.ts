import { randomBytes } from 'node:crypto';
import type { Test } from 'supertest';
import { ADMIN, usePlatform } from './support/platform';
import { bearer, builtInToolNames, builtInToolsFor } from './support/mcp';
import type { RawResponse } from './support/http';
import { newKeyPair, signJws, TestIdp } from './support/idp';
import {
  expectAccepted,
  expectBearerRefused,
  expectErrorBody,
  initWithToken,
  tenantWithIdp,
  withClockAhead,
} from './support/hostile';

const now = () => Math.floor(Date.now() / 1000);
const randomB64url = (bytes: number) => randomBytes(bytes).toString('base64url');

describe('JWT battery: tokens from a tenant identity provider', () => {
  const p = usePlatform();
  let idp: TestIdp;
  /** Two tenants trusting the same identity provider, and one without any. */
  let a: { slug: string; id: string; aud: string };
  let b: { slug: string; id: string; aud: string };
  let none: { slug: string; id: string; aud: string };
  const idps: TestIdp[] = [];

  const startIdp = async (alg: 'RS256' | 'ES256' = 'RS256', kid?: string) => {
    const started = await TestIdp.start(alg, kid);
    idps.push(started);
    return started;
  };

  beforeAll(async () => {
    idp = await startIdp();
    a = await tenantWithIdp(p, idp, {}, 'jwta');
    b = await tenantWithIdp(p, idp, {}, 'jwtb');
    const t = await p.admin.createTenant('jwtnone');
    none = { ...t, aud: `${p.config.publicUrl}/t/${t.slug}/mcp` };
  });
  afterAll(() => Promise.all(idps.map((i) => i.stop())));

  describe('refused on the MCP endpoint with 401, a reason and the resource-metadata challenge', () => {
    it('alg: none, in any spelling, with or without a signature', async () => {
      const payload = () => ({
        sub: 'user-1',
        iss: idp.issuer,
        aud: a.aud,
        iat: now(),
        exp: now() + 300,
        scope: 'tenant:admin math:use',
      });
      for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
        const unsigned = signJws({ alg: 'none', typ: 'JWT', kid: idp.kid }, payload(), null);
        // Re-encode the header with this spelling of none.
        const [, body] = unsigned.split('.');
        const header = Buffer.from(JSON.stringify({ alg, typ: 'JWT', kid: idp.kid })).toString(
          'base64url',
        );
        for (const token of [`${header}.${body}.`, `${header}.${body}.${randomB64url(32)}`]) {
          const res = await initWithToken(p, a.slug, token);
          expectBearerRefused(p, a.slug, res, /algorithm/i);
        }
      }
      // A token with no alg at all.
      const noAlg = `${Buffer.from(JSON.stringify({ typ: 'JWT', kid: idp.kid })).toString('base64url')}.${Buffer.from(JSON.stringify(payload())).toString('base64url')}.`;
      expectBearerRefused(p, a.slug, await initWithToken(p, a.slug, noAlg), /algorithm/i);
    });

    it('HS256 signed with the RSA public key as the HMAC secret (PEM and JWK forms)', async () => {
      const claims = {
        sub: 'user-1',
        iss: idp.issuer,
        aud: a.aud,
        iat: now(),
        exp: now() + 300,
      };
      const jwk = idp.jwks().keys[0];
      const secrets: Array<[string, Buffer]> = [
        ['spki PEM', Buffer.from(idp.publicKey.export({ type: 'spki', format: 'pem' }) as string)],
        [
          'pkcs1 PEM',
          Buffer.from(idp.publicKey.export({ type: 'pkcs1', format: 'pem' }) as string),
        ],
        ['DER', idp.publicKey.export({ type: 'spki', format: 'der' })],
        ['JWK JSON', Buffer.from(JSON.stringify(jwk))],
        ['JWK from the JWKS document', Buffer.from(JSON.stringify(idp.jwks()))],
        ['modulus', Buffer.from(String(jwk.n))],
      ];
      for (const [what, secret] of secrets) {
        for (const header of [
          { alg: 'HS256', typ: 'JWT', kid: idp.kid },
          { alg: 'HS256', typ: 'JWT' },
        ]) {
          const token = signJws(header, claims, secret);
          const res = await initWithToken(p, a.slug, token);
          try {
            expectBearerRefused(p, a.slug, res, /algorithm HS256/);
          } catch (err) {
            throw new Error(`HS256 with the ${what} as secret: ${(err as Error).message}`);
          }
        }
      }
    });

    it('a wrong audience, a missing one, and near misses of the resource URL', async () => {
      for (const aud of [
        'https://elsewhere.example/mcp',
        `${a.aud}/`,
        a.aud.toUpperCase(),
        a.aud.replace('/mcp', '/sse'),
        `${p.config.publicUrl}/t/${a.slug}`,
        p.config.publicUrl,
        '',
        [],
        ['https://elsewhere.example/mcp'],
      ]) {
        const res = await initWithToken(p, a.slug, idp.sign({ aud: aud }));
        expectBearerRefused(p, a.slug, res, /audience must be/);
      }
      const noAud = await initWithToken(p, a.slug, idp.sign({}));
      expectBearerRefused(p, a.slug, noAud, /audience must be/);
      // Non-string audiences are refused, not crashed on.
      for (const aud of [42, { url: a.aud }, [[a.aud]], null, true]) {
        const res = await initWithToken(p, a.slug, idp.sign({ aud: aud as never }));
        expectBearerRefused(p, a.slug, res, /audience|aud/);
      }
    });

    it('another tenant’s resource URL as audience — which that tenant accepts on its own endpoint', async () => {
      const forB = idp.sign({ aud: b.aud, scope: 'math:use' });
      const onA = await initWithToken(p, a.slug, forB);
      expectBearerRefused(p, a.slug, onA, /audience must be/);
      expect((onA.json as { message: string }).message).toContain(a.aud);
      // The very same token works where it was meant to: B trusts the same identity provider.
      const onB = await initWithToken(p, b.slug, forB);
      expectAccepted(onB);
      // And B's SDK client sees the token's scopes.
      const client = await p.connect(b.slug, bearer(forB));
      expect(await builtInToolNames(client)).toEqual(builtInToolsFor(['math:use']));
    });

    it('a wrong issuer, including near misses of the configured one', async () => {
      for (const iss of [
        'https://evil.example',
        `${idp.issuer}/`,
        idp.issuer.replace('127.0.0.1', 'localhost'),
        idp.issuer.toUpperCase(),
        '',
      ]) {
        const res = await initWithToken(p, a.slug, idp.sign({ aud: a.aud }, { iss }));
        expectBearerRefused(p, a.slug, res, /issuer/);
      }
      const stranger = await startIdp();
      // A token from another identity provider entirely (its own key, its own issuer).
      const res = await initWithToken(p, a.slug, stranger.sign({ aud: a.aud }));
      expect(res.status).toBe(401);
      expectBearerRefused(p, a.slug, res, /./);
    });

    it('expired beyond the 30 s clock tolerance', async () => {
      for (const ago of [31 + 5, 120, 86_400]) {
        const token = idp.sign({ aud: a.aud }, { exp: now() - ago });
        expectBearerRefused(p, a.slug, await initWithToken(p, a.slug, token), /expired/);
      }
    });

    it('not yet valid (nbf in the future beyond the tolerance)', async () => {
      for (const ahead of [31 + 5, 3600]) {
        const token = idp.sign({ aud: a.aud }, { nbf: now() + ahead });
        expectBearerRefused(p, a.slug, await initWithToken(p, a.slug, token), /not active|nbf/i);
      }
    });

    it('without an expiry (no exp), or with a non-numeric one', async () => {
      const noExp = idp.sign({ aud: a.aud }, { exp: null });
      expectBearerRefused(p, a.slug, await initWithToken(p, a.slug, noExp), /exp/);
      for (const exp of ['9999999999', null, {}]) {
        const token = idp.sign({ aud: a.aud, exp }, { exp: null });
        expectBearerRefused(p, a.slug, await initWithToken(p, a.slug, token), /exp/);
      }
    });

    it('without a subject', async () => {
      const token = idp.sign({ aud: a.aud, sub: undefined });
      expectBearerRefused(p, a.slug, await initWithToken(p, a.slug, token), /sub/);
    });

    it('an unknown kid', async () => {
      const token = idp.sign({ aud: a.aud }, { kid: 'no-such-kid' });
      expectBearerRefused(p, a.slug, await initWithToken(p, a.slug, token), /kid "no-such-kid"/);
    });

    it('signed by a stranger’s key under the identity provider’s kid', async () => {
      for (const alg of ['RS256', 'ES256'] as const) {
        const stranger = newKeyPair(alg);
        const token = signJws(
          { alg, typ: 'JWT', kid: idp.kid },
          { sub: 'user-1', iss: idp.issuer, aud: a.aud, iat: now(), exp: now() + 300 },
          stranger.privateKey,
        );
        expectBearerRefused(
          p,
          a.slug,
          await initWithToken(p, a.slug, token),
          alg === 'RS256' ? /signature/ : /./,
        );
      }
      // The real key's signature on a different payload does not carry over.
      const real = idp.sign({ aud: a.aud, scope: 'notes:read' });
      const forged = idp.sign({ aud: a.aud, scope: 'tenant:admin notes:write' });
      const spliced = `${forged.split('.').slice(0, 2).join('.')}.${real.split('.')[2]}`;
      expectBearerRefused(p, a.slug, await initWithToken(p, a.slug, spliced), /signature/);
    });

    it('garbage strings that look like JWTs, and an 8 KB token', async () => {
      const valid = idp.sign({ aud: a.aud });
      const [h, pl] = valid.split('.');
      const big = signJws(
        { alg: 'RS256', typ: 'JWT', kid: idp.kid },
        { sub: 'user-1', iss: idp.issuer, aud: a.aud, exp: now() + 300, pad: 'x'.repeat(6000) },
        newKeyPair('RS256').privateKey,
      );
      expect(big.length).toBeGreaterThan(8000);
      const garbage = [
        'a.b.c',
        'eyJ.eyJ.',
        '..',
        'a..',
        '.b.',
        `${randomB64url(30)}.${randomB64url(60)}.${randomB64url(40)}`,
        `${randomB64url(3000)}.${randomB64url(3000)}.${randomB64url(2200)}`,
        `${h}.${pl}`.concat('.'),
        `${h}..${randomB64url(256)}`,
        `${Buffer.from('null').toString('base64url')}.${pl}.x`,
        `${Buffer.from('[1,2]').toString('base64url')}.${pl}.x`,
        `${Buffer.from('"RS256"').toString('base64url')}.${pl}.x`,
        `${h}.${Buffer.from('not json').toString('base64url')}.${randomB64url(256)}`,
        `${h}.${Buffer.from('[]').toString('base64url')}.${randomB64url(256)}`,
        `${h}.${Buffer.from('12345').toString('base64url')}.${randomB64url(256)}`,
        big,
      ];
      for (const token of garbage) {
        const res = await initWithToken(p, a.slug, token);
        try {
          // JWT-shaped strings are rejected by the JWT verifier, others as unknown bearer tokens.
          expectBearerRefused(p, a.slug, res, /^bearer token (rejected: \S|is not valid)/);
        } catch (err) {
          throw new Error(`token ${token.slice(0, 60)}…: ${(err as Error).message}`);
        }
      }
    });

    it('a token for a tenant without an identity provider', async () => {
      const token = idp.sign({ aud: none.aud, scope: 'math:use' });
      const res = await initWithToken(p, none.slug, token);
      expectBearerRefused(p, none.slug, res, /identity provider/);
      // The tenant's metadata names no authorization server.
      const meta = await p
        .http()
        .get(`/.well-known/oauth-protected-resource/t/${none.slug}/mcp`)
        .expect(200);
      expect(meta.body.authorization_servers).toBeUndefined();
    });
  });

  describe('accepted tokens', () => {
    it('an audience array that contains the resource URL', async () => {
      const token = idp.sign({ aud: ['https://other.example/api', a.aud, 'x'] });
      expectAccepted(await initWithToken(p, a.slug, token));
    });

    it('a configured custom audience, next to the resource URL', async () => {
      const t = await tenantWithIdp(p, idp, { audience: 'api://mcp-platform' });
      expectAccepted(await initWithToken(p, t.slug, idp.sign({ aud: 'api://mcp-platform' })));
      expectAccepted(await initWithToken(p, t.slug, idp.sign({ aud: t.aud })));
      expectAccepted(
        await initWithToken(p, t.slug, idp.sign({ aud: ['x', 'api://mcp-platform'] })),
      );
      expectBearerRefused(
        p,
        t.slug,
        await initWithToken(p, t.slug, idp.sign({ aud: 'api://mcp-platform/' })),
        /audience must be .*api:\/\/mcp-platform/,
      );
      // The custom audience is this tenant's only: tenant A does not take it.
      expectBearerRefused(
        p,
        a.slug,
        await initWithToken(p, a.slug, idp.sign({ aud: 'api://mcp-platform' })),
        /audience/,
      );
    });

    it('scopes from an `scp` array; tools/list reflects them', async () => {
      const token = idp.sign({ aud: a.aud, scp: ['notes:read', 'notes:write', 42] });
      const client = await p.connect(a.slug, bearer(token));
      expect(await builtInToolNames(client)).toEqual(
        builtInToolsFor(['notes:read', 'notes:write']),
      );
      const who = await client.callTool({ name: 'whoami', arguments: {} });
      expect(who.structuredContent).toMatchObject({
        tenant: a.slug,
        kind: 'jwt',
        scopes: ['notes:read', 'notes:write'],
      });
    });

    it('a token without scopes sees only the tools that need none', async () => {
      const client = await p.connect(a.slug, bearer(idp.sign({ aud: a.aud })));
      expect(await builtInToolNames(client)).toEqual(builtInToolsFor([]));
      const res = await client.callTool({ name: 'add', arguments: { a: 1, b: 2 } }).then(
        (r) => r,
        (e: Error) => e,
      );
      expect(res instanceof Error || (res as { isError?: boolean }).isError).toBeTruthy();
    });

    it('scopes from a nested claim (`realm_access.roles`, as Keycloak issues them)', async () => {
      const t = await tenantWithIdp(p, idp, { scopesClaim: 'realm_access.roles' });
      const token = idp.sign({
        aud: t.aud,
        realm_access: { roles: ['math:use', 'offline_access'] },
        scope: 'notes:read',
      });
      const client = await p.connect(t.slug, bearer(token));
      expect(await builtInToolNames(client)).toEqual(builtInToolsFor(['math:use']));
      const who = await client.callTool({ name: 'whoami', arguments: {} });
      expect(who.structuredContent).toMatchObject({ scopes: ['math:use', 'offline_access'] });
    });

    it('scopes from a custom scopesClaim (`permissions`), ignoring `scope`', async () => {
      const t = await tenantWithIdp(p, idp, { scopesClaim: 'permissions' });
      const token = idp.sign({ aud: t.aud, permissions: ['math:use'], scope: 'notes:write' });
      const client = await p.connect(t.slug, bearer(token));
      expect(await builtInToolNames(client)).toEqual(builtInToolsFor(['math:use']));
      const who = await client.callTool({ name: 'whoami', arguments: {} });
      expect(who.structuredContent).toMatchObject({ scopes: ['math:use'] });
      // A space-separated string in the custom claim works too.
      const client2 = await p.connect(
        t.slug,
        bearer(idp.sign({ aud: t.aud, permissions: 'notes:read  math:use' })),
      );
      expect(await builtInToolNames(client2)).toEqual(builtInToolsFor(['notes:read', 'math:use']));
    });

    it('an ES256 identity provider; its `algorithms` allow-list is enforced', async () => {
      const es = await startIdp('ES256', 'ec-key-1');
      const t = await tenantWithIdp(p, es);
      const client = await p.connect(t.slug, bearer(es.sign({ aud: t.aud, scope: 'math:use' })));
      const sum = await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } });
      expect(JSON.stringify(sum.content)).toContain('42');
      const who = await client.callTool({ name: 'whoami', arguments: {} });
      expect(who.structuredContent).toMatchObject({ kind: 'jwt', id: `${es.issuer}#user-1` });
      // Restricted to RS256, the same provider's ES256 tokens are refused.
      const rsOnly = await tenantWithIdp(p, es, { algorithms: ['RS256'] });
      expectBearerRefused(
        p,
        rsOnly.slug,
        await initWithToken(p, rsOnly.slug, es.sign({ aud: rsOnly.aud })),
        /algorithm ES256/,
      );
      // An EC-signed token claiming RS256 is not verified as RSA.
      const lying = signJws(
        { alg: 'RS256', typ: 'JWT', kid: es.kid },
        { sub: 'u', iss: es.issuer, aud: t.aud, iat: now(), exp: now() + 300 },
        newKeyPair('RS256').privateKey,
      );
      expectBearerRefused(p, t.slug, await initWithToken(p, t.slug, lying), /./);
    });
  });

  describe('a token with tenant:admin', () => {
    it('administers its own tenant: auth settings and keys', async () => {
      const token = idp.sign({ aud: a.aud, scope: 'tenant:admin' });
      const auth = await p
        .http()
        .get(`/admin/tenants/${a.slug}/auth`)
        .set(bearer(token))
        .expect(200);
      expect(auth.body).toEqual({ jwt: { issuer: idp.issuer, jwksUri: idp.jwksUri } });
      const put = await p
        .http()
        .put(`/admin/tenants/${a.slug}/auth`)
        .set(bearer(token))
        .send({ jwt: { issuer: idp.issuer, jwksUri: idp.jwksUri, scopesClaim: 'scope' } })
        .expect(200);
      expect(put.body.jwt.scopesClaim).toBe('scope');
      await p
        .http()
        .put(`/admin/tenants/${a.slug}/auth`)
        .set(bearer(token))
        .send({ jwt: { issuer: idp.issuer, jwksUri: idp.jwksUri } })
        .expect(200);
      const created = await p
        .http()
        .post(`/admin/tenants/${a.slug}/keys`)
        .set(bearer(token))
        .send({ name: 'made by a jwt admin', scopes: ['math:use'] })
        .expect(201);
      expect(created.body.secret).toMatch(/^mcp_/);
      const list = await p
        .http()
        .get(`/admin/tenants/${a.slug}/keys`)
        .set(bearer(token))
        .expect(200);
      expect(list.body.items.map((k: { id: string }) => k.id)).toContain(created.body.id);
      await p
        .http()
        .patch(`/admin/tenants/${a.slug}/keys/${created.body.id}`)
        .set(bearer(token))
        .send({ name: 'renamed' })
        .expect(200);
      await p.http().get(`/admin/tenants/${a.slug}`).set(bearer(token)).expect(200);
    });

    it('is refused (never 2xx or 5xx) on other tenants’ routes, which stay untouched', async () => {
      const token = idp.sign({ aud: a.aud, scope: 'tenant:admin' });
      const bKey = await p.admin.createKey(b.slug);
      const before = {
        bAuth: (await p.http().get(`/admin/tenants/${b.slug}/auth`).set(ADMIN)).body,
        bKeys: (await p.http().get(`/admin/tenants/${b.slug}/keys`).set(ADMIN)).body.items.length,
        noneKeys: (await p.http().get(`/admin/tenants/${none.slug}/keys`).set(ADMIN)).body.items
          .length,
      };
      for (const other of [b.slug, none.slug]) {
        const attempts: Array<[string, () => Test]> = [
          ['GET tenant', () => p.http().get(`/admin/tenants/${other}`)],
          ['GET auth', () => p.http().get(`/admin/tenants/${other}/auth`)],
          ['PUT auth', () => p.http().put(`/admin/tenants/${other}/auth`).send({ jwt: null })],
          ['GET keys', () => p.http().get(`/admin/tenants/${other}/keys`)],
          [
            'POST keys',
            () =>
              p
                .http()
                .post(`/admin/tenants/${other}/keys`)
                .send({ name: 'x', scopes: ['tenant:admin'] }),
          ],
          ['GET key', () => p.http().get(`/admin/tenants/${other}/keys/${bKey.id}`)],
          ['revoke key', () => p.http().post(`/admin/tenants/${other}/keys/${bKey.id}/revoke`)],
          ['GET tools', () => p.http().get(`/admin/tenants/${other}/tools`)],
          [
            'PUT tool',
            () => p.http().put(`/admin/tenants/${other}/tools/echo`).send({ enabled: false }),
          ],
        ];
        for (const [what, attempt] of attempts) {
          const res = await attempt().set(bearer(token));
          expect({
            on: other,
            what,
            status: res.status,
            refused: [401, 403].includes(res.status),
          }).toEqual({ on: other, what, status: res.status, refused: true });
          expectErrorBody(res.status, res.body, `${what} on ${other}`);
        }
      }
      expect((await p.http().get(`/admin/tenants/${b.slug}/auth`).set(ADMIN)).body).toEqual(
        before.bAuth,
      );
      const bKeys = (await p.http().get(`/admin/tenants/${b.slug}/keys`).set(ADMIN)).body.items;
      expect(bKeys.length).toBe(before.bKeys);
      expect(bKeys.find((k: { id: string }) => k.id === bKey.id).revokedAt).toBeNull();
      expect(
        (await p.http().get(`/admin/tenants/${none.slug}/keys`).set(ADMIN)).body.items.length,
      ).toBe(before.noneKeys);
      const tools = (await p.http().get(`/admin/tenants/${b.slug}/tools`).set(ADMIN)).body.items;
      expect(tools.find((t: { name: string }) => t.name === 'echo').enabled).toBe(true);
    });

    it('cannot list, create, change or delete tenants', async () => {
      const token = idp.sign({ aud: a.aud, scope: 'tenant:admin' });
      const list = await p.http().get('/admin/tenants').set(bearer(token));
      // The tenant list names no tenant, so no identity provider can vouch for the token there.
      expect(list.status).toBe(401);
      expectErrorBody(401, list.body);
      expect(list.headers['www-authenticate']).toMatch(/^Bearer/);
      const create = await p
        .http()
        .post('/admin/tenants')
        .set(bearer(token))
        .send({ slug: 'made-by-jwt', name: 'x' });
      expect(create.status).toBe(401);
      expectErrorBody(401, create.body);
      for (const attempt of [
        p.http().patch(`/admin/tenants/${a.slug}`).send({ status: 'suspended' }),
        p.http().delete(`/admin/tenants/${a.slug}`),
      ]) {
        const res = await attempt.set(bearer(token));
        expect(res.status).toBe(403);
        expectErrorBody(403, res.body);
      }
      const tenant = await p.http().get(`/admin/tenants/${a.slug}`).set(ADMIN).expect(200);
      expect(tenant.body.status).toBe('active');
      await p.http().get('/admin/tenants/made-by-jwt').set(ADMIN).expect(404);
    });

    it('a token of the tenant without tenant:admin gets 403 on its admin routes', async () => {
      const token = idp.sign({ aud: a.aud, scope: 'math:use notes:write' });
      for (const attempt of [
        p.http().get(`/admin/tenants/${a.slug}/keys`),
        p.http().get(`/admin/tenants/${a.slug}/auth`),
        p.http().put(`/admin/tenants/${a.slug}/auth`).send({ jwt: null }),
      ]) {
        const res = await attempt.set(bearer(token));
        expect(res.status).toBe(403);
        expectErrorBody(403, res.body);
        expect(res.body.message).toMatch(/tenant:admin/);
      }
      expect(
        (await p.http().get(`/admin/tenants/${a.slug}/auth`).set(ADMIN)).body.jwt,
      ).not.toBeNull();
    });
  });

  describe('signing keys at the identity provider', () => {
    it('accepts a token signed with a rotated-in key (new kid) after the unknown-kid refetch', async () => {
      const rot = await startIdp('RS256', 'rot-1');
      const t = await tenantWithIdp(p, rot);
      expectAccepted(await initWithToken(p, t.slug, rot.sign({ aud: t.aud })));
      const fetchedBefore = rot.jwksRequests;
      expect(fetchedBefore).toBeGreaterThanOrEqual(1);

      const next = newKeyPair('RS256');
      rot.addPublicKey({
        ...next.publicKey.export({ format: 'jwk' }),
        kid: 'rot-2',
        alg: 'RS256',
        use: 'sig',
      });
      // Past the refetch rate limit (30 s after the last fetch), the unknown kid triggers a refetch.
      await withClockAhead(31_000, async () => {
        const rotated = rot.sign(
          { aud: t.aud, scope: 'math:use' },
          { kid: 'rot-2', key: next.privateKey },
        );
        expectAccepted(await initWithToken(p, t.slug, rotated));
        expect(rot.jwksRequests).toBe(fetchedBefore + 1);
        // Both keys now work, without further fetches.
        expectAccepted(await initWithToken(p, t.slug, rotated));
        expectAccepted(await initWithToken(p, t.slug, rot.sign({ aud: t.aud })));
        expect(rot.jwksRequests).toBe(fetchedBefore + 1);
      });
    });

    it('rate-limits the unknown-kid refetch: a flood of random kids costs at most a couple of fetches', async () => {
      const rl = await startIdp('RS256', 'rl-1');
      const t = await tenantWithIdp(p, rl);
      expectAccepted(await initWithToken(p, t.slug, rl.sign({ aud: t.aud })));
      const base = rl.jwksRequests;
      const flood = () =>
        Promise.all(
          Array.from({ length: 25 }, () =>
            initWithToken(p, t.slug, rl.sign({ aud: t.aud }, { kid: `kid-${randomB64url(9)}` })),
          ),
        );
      for (const res of await flood())
        expectBearerRefused(p, t.slug, res, /no signing key with kid/);
      for (let i = 0; i < 10; i++) {
        const res = await initWithToken(p, t.slug, rl.sign({ aud: t.aud }, { kid: `seq-${i}` }));
        expectBearerRefused(p, t.slug, res, /no signing key with kid/);
      }
      expect(rl.jwksRequests - base).toBeLessThanOrEqual(1);
      // Once the window has passed another flood costs at most one more fetch, not 25.
      await withClockAhead(31_000, async () => {
        for (const res of await flood()) {
          expectBearerRefused(p, t.slug, res, /no signing key with kid/);
        }
      });
      expect(rl.jwksRequests - base).toBeLessThanOrEqual(2);
      // The known key was never locked out by all that.
      expectAccepted(await initWithToken(p, t.slug, rl.sign({ aud: t.aud })));
    });
  });

  describe('identity provider outages', () => {
    /** A tenant of a fresh identity provider in `mode`, and a fresh token's initialize there. */
    const provider = async (kid: string, mode: TestIdp['mode']) => {
      const idp = await startIdp('RS256', kid);
      idp.mode = mode;
      const t = await tenantWithIdp(p, idp);
      const init = () => initWithToken(p, t.slug, idp.sign({ aud: t.aud }));
      const expectRefused = (res: RawResponse) =>
        expectBearerRefused(p, t.slug, res, /could not be fetched/);
      return { idp, init, expectRefused };
    };
    /** Back up, and past the 30 s the failure is remembered for: its tokens are accepted. */
    const acceptedOnceBack = async (x: { idp: TestIdp; init: () => Promise<RawResponse> }) => {
      x.idp.mode = 'up';
      await withClockAhead(31_000, async () => expectAccepted(await x.init()));
    };

    it('keeps accepting tokens from cached keys when the provider goes down, even once they are stale', async () => {
      const flaky = await provider('flaky-1', 'up');
      expectAccepted(await flaky.init());
      flaky.idp.mode = 'down';
      expectAccepted(await flaky.init());
      const before = flaky.idp.jwksRequests;
      // Eleven minutes later the cached keys are due for a refresh, which fails: they are still used.
      await withClockAhead(11 * 60_000, async () => expectAccepted(await flaky.init()));
      expect(flaky.idp.jwksRequests).toBeGreaterThan(before);
    });

    it('refuses promptly with 401 when the provider is down and nothing is cached, and recovers', async () => {
      const down = await provider('down-1', 'down');
      const started = Date.now();
      const res = await down.init();
      expect(Date.now() - started).toBeLessThan(3000);
      down.expectRefused(res);
      expect(down.idp.jwksRequests).toBe(1);
      // Back up: the failure is remembered for a few seconds (no fetch, the same refusal), then
      // the next token is accepted.
      down.idp.mode = 'up';
      down.expectRefused(await down.init());
      expect(down.idp.jwksRequests).toBe(1);
      await acceptedOnceBack(down);
      expect(down.idp.jwksRequests).toBe(2);
    });

    it('fetches a failing JWKS once for a burst of tokens, not once per request', async () => {
      const down = await provider('burst-1', 'down');
      for (let round = 0; round < 4; round++) {
        const answers = await Promise.all(Array.from({ length: 25 }, () => down.init()));
        for (const res of answers) down.expectRefused(res);
      }
      expect(down.idp.jwksRequests).toBe(1);
      // The provider's keys still come in once it is back and the window has passed.
      await acceptedOnceBack(down);
      expect(down.idp.jwksRequests).toBe(2);
    });

    it('refuses with 401 within the fetch timeout when the provider hangs and nothing is cached', async () => {
      const hang = await provider('hang-1', 'hang');
      const started = Date.now();
      const res = await hang.init();
      const elapsed = Date.now() - started;
      hang.expectRefused(res);
      expect(elapsed).toBeLessThan(10_000);
      // Other tenants are served meanwhile and afterwards.
      expectAccepted(await initWithToken(p, a.slug, idp.sign({ aud: a.aud })));
      // A timed-out fetch is a failure like any other: not retried per request.
      hang.expectRefused(await hang.init());
      expect(hang.idp.jwksRequests).toBe(1);
      await acceptedOnceBack(hang);
    });
  });

  describe('PUT /admin/tenants/:tenant/auth validation', () => {
    let v: { slug: string; id: string; aud: string };
    let current: unknown;
    const put = (body: unknown) =>
      p
        .http()
        .put(`/admin/tenants/${v.slug}/auth`)
        .set(ADMIN)
        .set('Content-Type', 'application/json')
        .send(JSON.stringify(body));

    beforeAll(async () => {
      v = await tenantWithIdp(p, idp, {}, 'jwtv');
      current = (await p.http().get(`/admin/tenants/${v.slug}/auth`).set(ADMIN).expect(200)).body;
    });

    const good = () => ({ issuer: idp.issuer, jwksUri: idp.jwksUri });
    const bad: Array<[string, () => unknown]> = [
      ['http issuer', () => ({ jwt: { ...good(), issuer: 'http://idp.example.com' } })],
      ['http jwksUri', () => ({ jwt: { ...good(), jwksUri: 'http://idp.example.com/jwks.json' } })],
      [
        'http on a look-alike of localhost',
        () => ({ jwt: { ...good(), jwksUri: 'http://localhost.evil.example/jwks' } }),
      ],
      [
        'http on 127.0.0.1 as a subdomain',
        () => ({ jwt: { ...good(), jwksUri: 'http://127.0.0.1.nip.io/jwks' } }),
      ],
      ['ftp jwksUri', () => ({ jwt: { ...good(), jwksUri: 'ftp://idp.example.com/jwks' } })],
      ['file jwksUri', () => ({ jwt: { ...good(), jwksUri: 'file:///etc/passwd' } })],
      ['javascript issuer', () => ({ jwt: { ...good(), issuer: 'javascript:alert(1)' } })],
      [
        'data jwksUri',
        () => ({ jwt: { ...good(), jwksUri: 'data:application/json,{"keys":[]}' } }),
      ],
      ['non-URL issuer', () => ({ jwt: { ...good(), issuer: 'not a url' } })],
      ['non-URL jwksUri', () => ({ jwt: { ...good(), jwksUri: 'idp.example.com/jwks' } })],
      ['empty issuer', () => ({ jwt: { ...good(), issuer: '' } })],
      ['issuer whose host is not a name', () => ({ jwt: { ...good(), issuer: 'https:&' } })],
      [
        'jwksUri with a host of symbols',
        () => ({ jwt: { ...good(), jwksUri: 'https://a+b!/jwks' } }),
      ],
      [
        'jwksUri with credentials',
        () => ({ jwt: { ...good(), jwksUri: 'https://user:pw@idp.example.com/jwks' } }),
      ],
      ['numeric issuer', () => ({ jwt: { ...good(), issuer: 42 } })],
      ['missing jwksUri', () => ({ jwt: { issuer: idp.issuer } })],
      ['missing issuer', () => ({ jwt: { jwksUri: idp.jwksUri } })],
      ['unknown field in jwt', () => ({ jwt: { ...good(), clientSecret: 's3cret' } })],
      ['unknown top-level field', () => ({ jwt: good(), oauth: {} })],
      ['no jwt field', () => ({})],
      ['jwt as a string', () => ({ jwt: 'https://idp.example.com' })],
      ['jwt as an array', () => ({ jwt: [good()] })],
      ['algorithms HS256', () => ({ jwt: { ...good(), algorithms: ['HS256'] } })],
      ['algorithms none', () => ({ jwt: { ...good(), algorithms: ['none'] } })],
      ['algorithms RS256 + HS256', () => ({ jwt: { ...good(), algorithms: ['RS256', 'HS256'] } })],
      ['algorithms lowercase', () => ({ jwt: { ...good(), algorithms: ['rs256'] } })],
      ['algorithms empty', () => ({ jwt: { ...good(), algorithms: [] } })],
      ['algorithms as a string', () => ({ jwt: { ...good(), algorithms: 'RS256' } })],
      ['empty audience', () => ({ jwt: { ...good(), audience: '' } })],
      ['numeric audience', () => ({ jwt: { ...good(), audience: 1 } })],
      ['huge audience', () => ({ jwt: { ...good(), audience: 'a'.repeat(10_000) } })],
      ['scopesClaim with spaces', () => ({ jwt: { ...good(), scopesClaim: 'my scopes' } })],
      ['scopesClaim empty', () => ({ jwt: { ...good(), scopesClaim: '' } })],
      [
        'huge issuer',
        () => ({ jwt: { ...good(), issuer: `https://idp.example.com/${'a'.repeat(5000)}` } }),
      ],
    ];

    it.each(bad)(
      'refuses %s with 400 and leaves the settings as they were',
      async (_what, body) => {
        const res = await put(body());
        expect(res.status).toBe(400);
        expectErrorBody(400, res.body);
        expect(res.body.error).toBe('Bad Request');
        expect((await p.http().get(`/admin/tenants/${v.slug}/auth`).set(ADMIN)).body).toEqual(
          current,
        );
      },
    );

    it.each([
      ['audience', () => ({ jwt: { ...good(), audience: 'api://mcp\u0000platform' } })],
      [
        'issuer path',
        () => ({ jwt: { ...good(), issuer: 'https://idp.example.com/realm\u0000' } }),
      ],
      [
        'jwksUri query',
        () => ({ jwt: { ...good(), jwksUri: 'https://idp.example.com/jwks?x=\u0000' } }),
      ],
    ])(
      'a NUL byte in the %s is refused with 4xx or stored as sent, never a 5xx',
      async (_what, body) => {
        const sent = body();
        const res = await put(sent);
        expect([200, 400]).toContain(res.status);
        const stored = (await p.http().get(`/admin/tenants/${v.slug}/auth`).set(ADMIN)).body;
        // Accepted: answered and stored exactly as sent. Refused: the error body, nothing stored.
        const accepted = res.status === 200;
        const refusal = {
          statusCode: 400,
          error: 'Bad Request',
          message: expect.stringMatching(/./),
        };
        expect(res.body).toEqual(accepted ? sent : refusal);
        expect(stored).toEqual(accepted ? sent : current);
        await put(current).expect(200);
      },
    );

    it('allows http only for loopback hosts, and https anywhere', async () => {
      for (const jwt of [
        { issuer: 'http://localhost:8080', jwksUri: 'http://localhost:8080/jwks.json' },
        { issuer: 'http://127.0.0.1:9', jwksUri: 'http://127.0.0.1:9/.well-known/jwks.json' },
        { issuer: 'http://[::1]:9', jwksUri: 'http://[::1]:9/jwks' },
        {
          issuer: 'https://idp.example.com/realms/x',
          jwksUri: 'https://idp.example.com/realms/x/certs',
        },
      ]) {
        const res = await put({ jwt });
        expect(res.status).toBe(200);
        expect(res.body).toEqual({ jwt });
        expect((await p.http().get(`/admin/tenants/${v.slug}/auth`).set(ADMIN)).body).toEqual({
          jwt,
        });
      }
      await put(current).expect(200);
    });

    it('GET returns exactly what was set', async () => {
      const jwt = {
        issuer: idp.issuer,
        jwksUri: idp.jwksUri,
        audience: 'urn:mcp:tenant-v',
        scopesClaim: 'permissions',
        algorithms: ['RS256', 'ES256'],
      };
      const res = await put({ jwt }).expect(200);
      expect(res.body).toEqual({ jwt });
      expect(
        (await p.http().get(`/admin/tenants/${v.slug}/auth`).set(ADMIN).expect(200)).body,
      ).toEqual({
        jwt,
      });
      await put(current).expect(200);
    });

    it('{jwt: null} removes the identity provider: its tokens get 401, the metadata names no issuer', async () => {
      const token = idp.sign({ aud: v.aud });
      expectAccepted(await initWithToken(p, v.slug, token));
      const meta = `/.well-known/oauth-protected-resource/t/${v.slug}/mcp`;
      expect((await p.http().get(meta).expect(200)).body.authorization_servers).toEqual([
        idp.issuer,
      ]);

      const removed = await put({ jwt: null }).expect(200);
      expect(removed.body).toEqual({ jwt: null });
      expect((await p.http().get(`/admin/tenants/${v.slug}/auth`).set(ADMIN)).body).toEqual({
        jwt: null,
      });
      expectBearerRefused(p, v.slug, await initWithToken(p, v.slug, token), /identity provider/);
      const after = (await p.http().get(meta).expect(200)).body;
      expect(after).not.toHaveProperty('authorization_servers');
      expect(after.resource).toBe(v.aud);

      // Setting it again lets the same token in again.
      await put(current).expect(200);
      expectAccepted(await initWithToken(p, v.slug, token));
    });

    it('answers 404 for an unknown tenant, with a valid body', async () => {
      const res = await p
        .http()
        .put('/admin/tenants/no-such-tenant-jwt/auth')
        .set(ADMIN)
        .send({ jwt: good() });
      expect(res.status).toBe(404);
      expectErrorBody(404, res.body);
    });
  });
});
