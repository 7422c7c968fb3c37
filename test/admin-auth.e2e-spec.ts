import { randomUUID } from 'node:crypto';
import type { Response, Test } from 'supertest';
import { formatApiKey } from '@app/tenancy';
import { bearer, IssuedKey, KeyBody } from './support/admin';
import { ADMIN, ADMIN_TOKEN, usePlatform } from './support/platform';

type Method = 'get' | 'post' | 'patch' | 'delete';
interface Route {
  method: Method;
  path: string;
  body?: object;
}

/** Every admin route libs/admin implements (CONTRACT "Tenants and keys"), for tenant `t` and key `id`. */
function adminRoutes(t: string, id: string): Route[] {
  return [
    { method: 'post', path: '/admin/tenants', body: { slug: `${t}-new`, name: 'New' } },
    { method: 'get', path: '/admin/tenants' },
    { method: 'get', path: `/admin/tenants/${t}` },
    { method: 'patch', path: `/admin/tenants/${t}`, body: { name: 'Renamed' } },
    { method: 'delete', path: `/admin/tenants/${t}` },
    { method: 'post', path: `/admin/tenants/${t}/keys`, body: { name: 'k', scopes: [] } },
    { method: 'get', path: `/admin/tenants/${t}/keys` },
    { method: 'get', path: `/admin/tenants/${t}/keys/${id}` },
    { method: 'patch', path: `/admin/tenants/${t}/keys/${id}`, body: { name: 'Renamed' } },
    { method: 'post', path: `/admin/tenants/${t}/keys/${id}/revoke` },
    { method: 'post', path: `/admin/tenants/${t}/keys/${id}/rotate`, body: { graceSeconds: 0 } },
  ];
}

const label = (r: Route) => `${r.method.toUpperCase()} ${r.path}`;

/** One character of the key changed: the checksum no longer matches. */
function corrupt(secret: string, at: number): string {
  const c = secret[at] === 'a' ? 'b' : 'a';
  return secret.slice(0, at) + c + secret.slice(at + 1);
}

describe('admin API: authentication and authorization', () => {
  const p = usePlatform();
  const createTenant = async (prefix: string) => (await p.admin.createTenant(prefix)).slug;
  const createKey = (slug: string, body?: Record<string, unknown>) => p.admin.createKey(slug, body);

  /** What the admin API holds at `path` (as the platform admin); fails unless 200. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const read = async (path: string): Promise<any> =>
    (await p.http().get(path).set(ADMIN).expect(200)).body;

  const send = (r: Route, headers: Record<string, string> = {}): Test => {
    const req = p.http()[r.method](r.path).set(headers);
    return r.body ? req.send(r.body) : req;
  };

  /** Sends every route with `headers`; each must be answered with `status` (or its own one). */
  async function sendAll(
    routes: Route[],
    headers: Record<string, string>,
    status: number | ((r: Route) => number),
  ): Promise<Response[]> {
    const answers: Response[] = [];
    for (const r of routes) {
      const res = await send(r, headers);
      const want = typeof status === 'number' ? status : status(r);
      expect({ route: label(r), status: res.status }).toEqual({ route: label(r), status: want });
      answers.push(res);
    }
    return answers;
  }

  function expect401(res: { status: number; body: unknown; headers: Record<string, string> }) {
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer\b/);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toEqual({
      statusCode: 401,
      error: 'Unauthorized',
      message: expect.any(String),
    });
  }

  describe('the guard', () => {
    let slug: string;
    let admin: IssuedKey;
    beforeAll(async () => {
      slug = await createTenant('guard');
      admin = await createKey(slug, { name: 'admin', scopes: ['tenant:admin'] });
    });

    it('answers 401 with WWW-Authenticate and a JSON error when there is no Authorization', async () => {
      const res = await p.http().get('/admin/tenants');
      expect401(res);
      expect(res.body.message).toMatch(/Authorization|X-API-Key/);
    });

    it('refuses a wrong admin token', async () => {
      expect401(
        await p
          .http()
          .get('/admin/tenants')
          .set(bearer(`${ADMIN_TOKEN}x`)),
      );
      expect401(
        await p
          .http()
          .get('/admin/tenants')
          .set(bearer(ADMIN_TOKEN.slice(0, -1))),
      );
      expect401(
        await p
          .http()
          .get('/admin/tenants')
          .set(bearer('a'.repeat(40))),
      );
    });

    it('refuses the admin token in the X-API-Key header or without the Bearer scheme', async () => {
      expect401(await p.http().get('/admin/tenants').set('X-API-Key', ADMIN_TOKEN));
      expect401(await p.http().get('/admin/tenants').set('Authorization', ADMIN_TOKEN));
    });

    it('refuses Basic authorization', async () => {
      const basic = Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64');
      expect401(await p.http().get('/admin/tenants').set('Authorization', `Basic ${basic}`));
      expect401(
        await p
          .http()
          .get(`/admin/tenants/${slug}/keys`)
          .set('Authorization', `Basic ${Buffer.from(`x:${admin.secret}`).toString('base64')}`),
      );
    });

    it.each([['Bearer'], ['Bearer '], ['Bearer    '], ['bearer']])(
      'refuses "%s" with no token',
      async (header) => {
        expect401(await p.http().get('/admin/tenants').set('Authorization', header));
      },
    );

    it('refuses a JWT-shaped bearer token on the admin API', async () => {
      const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
      expect401(await p.http().get(`/admin/tenants/${slug}/keys`).set(bearer(jwt)));
    });

    it.each([['api_key'], ['apikey'], ['access_token'], ['token']])(
      'refuses a key in the query string (?%s=) with a message to use a header',
      async (param) => {
        const res = await p
          .http()
          .get(`/admin/tenants/${slug}/keys`)
          .query({ [param]: admin.secret });
        expect401(res);
        expect(res.body.message).toMatch(/header/i);
        expect(res.text).not.toContain(admin.secret);
      },
    );

    it('refuses a query-string key even when a valid header is sent too', async () => {
      const res = await p
        .http()
        .get(`/admin/tenants/${slug}/keys`)
        .query({ api_key: admin.secret })
        .set(bearer(admin.secret));
      expect401(res);
      expect(res.body.message).toMatch(/header/i);
      const asAdmin = await p.http().get('/admin/tenants').query({ token: ADMIN_TOKEN }).set(ADMIN);
      expect401(asAdmin);
    });

    it('refuses a malformed key (one character changed, bad checksum)', async () => {
      // The key works as it is...
      await p.http().get(`/admin/tenants/${slug}/keys`).set(bearer(admin.secret)).expect(200);
      // ...and not with one character changed in its id, its secret or its checksum.
      for (const at of [6, 25, admin.secret.length - 1]) {
        const bad = corrupt(admin.secret, at);
        for (const headers of [bearer(bad), { 'X-API-Key': bad }]) {
          const res = await p.http().get(`/admin/tenants/${slug}/keys`).set(headers);
          expect401(res);
          expect(res.body.message).toMatch(/malformed/);
        }
      }
    });

    it.each([
      ['truncated', (s: string) => s.slice(0, -1)],
      ['with a character added', (s: string) => `${s}a`],
      ['with a wrong prefix', (s: string) => `mcx_${s.slice(4)}`],
      ['just the prefix', (s: string) => s.slice(0, 16)],
    ])('refuses a key %s', async (_label, mangle) => {
      expect401(
        await p
          .http()
          .get(`/admin/tenants/${slug}/keys`)
          .set(bearer(mangle(admin.secret))),
      );
    });

    it('refuses a well-formed key that was never issued', async () => {
      const forged = formatApiKey('AAAAAAAAAAAA', 'B'.repeat(32));
      const res = await p.http().get(`/admin/tenants/${slug}/keys`).set(bearer(forged));
      expect401(res);
      expect(res.body.message).not.toMatch(/malformed/);
    });

    it('refuses a well-formed key with a real key id and a made-up secret', async () => {
      const forged = formatApiKey(admin.prefix.slice(4), 'C'.repeat(32));
      expect401(await p.http().get(`/admin/tenants/${slug}/keys`).set('X-API-Key', forged));
    });

    it('refuses anonymous callers with 401 on every admin route', async () => {
      const key = await createKey(slug, { name: 'target' });
      const missing = `${slug}-nope`;
      const routes = [
        ...adminRoutes(slug, key.id),
        // An unknown tenant or key must not turn a 401 into a 404.
        ...adminRoutes(missing, randomUUID()),
      ];
      for (const res of await sendAll(routes, {}, 401)) expect401(res);
      // Nothing was changed.
      expect((await read(`/admin/tenants/${slug}`)).name).not.toBe('Renamed');
      expect(await read(`/admin/tenants/${slug}/keys/${key.id}`)).toMatchObject({
        name: 'target',
        revokedAt: null,
        rotatedAt: null,
      });
      await p.http().get(`/admin/tenants/${slug}-new`).set(ADMIN).expect(404);
    });

    it('refuses a wrong admin token with 401 on every admin route', async () => {
      const key = await createKey(slug, { name: 'target' });
      const wrong = bearer('not-the-admin-token-but-long-enough-0123');
      await sendAll(adminRoutes(slug, key.id), wrong, 401);
      await p.http().get(`/admin/tenants/${slug}`).set(ADMIN).expect(200);
    });
  });

  describe('tenant admin keys', () => {
    let a: string;
    let b: string;
    let adminA: IssuedKey;
    let plainA: IssuedKey;
    let keyB: IssuedKey;
    beforeAll(async () => {
      a = await createTenant('ta');
      b = await createTenant('tb');
      adminA = await createKey(a, { name: 'admin of a', scopes: ['tenant:admin'] });
      plainA = await createKey(a, {
        name: 'plain of a',
        scopes: ['notes:read', 'notes:write', 'math:use'],
      });
      keyB = await createKey(b, { name: 'admin of b', scopes: ['tenant:admin'] });
    });

    describe.each([
      ['Authorization: Bearer', (k: string) => bearer(k)],
      ['X-API-Key', (k: string) => ({ 'X-API-Key': k })],
    ])('sent as %s', (_how, as) => {
      it('manages the keys of its own tenant: list, create, get, patch, rotate, revoke', async () => {
        const h = as(adminA.secret);
        const list = await p.http().get(`/admin/tenants/${a}/keys`).set(h).expect(200);
        const ids = list.body.items.map((k: KeyBody) => k.id);
        expect(ids).toEqual(expect.arrayContaining([adminA.id, plainA.id]));
        expect(ids).not.toContain(keyB.id);

        const created = await p
          .http()
          .post(`/admin/tenants/${a}/keys`)
          .set(h)
          .send({ name: 'made by tenant admin', scopes: ['notes:read'] })
          .expect(201);
        expect(created.body).toMatchObject({ tenant: a, secret: expect.any(String) });
        const id = created.body.id;

        const got = await p.http().get(`/admin/tenants/${a}/keys/${id}`).set(h).expect(200);
        expect(got.body.name).toBe('made by tenant admin');

        const patched = await p
          .http()
          .patch(`/admin/tenants/${a}/keys/${id}`)
          .set(h)
          .send({ name: 'renamed by tenant admin' })
          .expect(200);
        expect(patched.body.name).toBe('renamed by tenant admin');

        const rotated = await p
          .http()
          .post(`/admin/tenants/${a}/keys/${id}/rotate`)
          .set(h)
          .send({})
          .expect(201);
        expect(rotated.body.secret).not.toBe(created.body.secret);

        const revoked = await p
          .http()
          .post(`/admin/tenants/${a}/keys/${id}/revoke`)
          .set(h)
          .expect(200);
        expect(revoked.body.revokedAt).toEqual(expect.any(String));

        // The platform admin sees the same changes.
        expect(await read(`/admin/tenants/${a}/keys/${id}`)).toMatchObject({
          name: 'renamed by tenant admin',
          revokedAt: revoked.body.revokedAt,
        });
      });

      it('reads its own tenant', async () => {
        const res = await p.http().get(`/admin/tenants/${a}`).set(as(adminA.secret)).expect(200);
        expect(res.body).toMatchObject({ slug: a, status: 'active' });
      });

      it.each<[string, (a: string) => Route]>([
        ['list tenants', () => ({ method: 'get', path: '/admin/tenants' })],
        [
          'create a tenant',
          (t) => ({ method: 'post', path: '/admin/tenants', body: { slug: `${t}-x`, name: 'x' } }),
        ],
        [
          'rename its tenant',
          (t) => ({ method: 'patch', path: `/admin/tenants/${t}`, body: { name: 'Mine now' } }),
        ],
        [
          'suspend or reactivate its tenant',
          (t) => ({ method: 'patch', path: `/admin/tenants/${t}`, body: { status: 'suspended' } }),
        ],
        ['delete its tenant', (t) => ({ method: 'delete', path: `/admin/tenants/${t}` })],
      ])('gets 403 trying to %s', async (_what, route) => {
        const [res] = await sendAll([route(a)], as(adminA.secret), 403);
        expect(res.body).toEqual({
          statusCode: 403,
          error: 'Forbidden',
          message: expect.any(String),
        });
        // Nothing happened.
        expect(await read(`/admin/tenants/${a}`)).toMatchObject({ name: a, status: 'active' });
        await p.http().get(`/admin/tenants/${a}-x`).set(ADMIN).expect(404);
      });

      it('gets 403 on every route of another tenant, which stays untouched', async () => {
        const ofB = adminRoutes(b, keyB.id).filter((r) => r.path.startsWith(`/admin/tenants/${b}`));
        for (const res of await sendAll(ofB, as(adminA.secret), 403)) {
          expect(res.body).toMatchObject({ statusCode: 403, error: 'Forbidden' });
          expect(res.text).not.toContain(keyB.id);
        }
        expect(await read(`/admin/tenants/${b}`)).toMatchObject({ name: b, status: 'active' });
        expect(await read(`/admin/tenants/${b}/keys/${keyB.id}`)).toMatchObject({
          name: 'admin of b',
          revokedAt: null,
          rotatedAt: null,
        });
        await p.http().get(`/admin/tenants/${b}/keys`).set(bearer(keyB.secret)).expect(200);
        expect((await read(`/admin/tenants/${b}/keys`)).items).toHaveLength(1);
      });

      it('gets 403 on another tenant even when naming its own key there', async () => {
        const res = await p
          .http()
          .get(`/admin/tenants/${b}/keys/${adminA.id}`)
          .set(as(adminA.secret));
        expect(res.status).toBe(403);
      });

      it('a key of the tenant without tenant:admin gets 403 on every key route and the tenant', async () => {
        const target = await createKey(a, { name: 'untouchable' });
        const routes = adminRoutes(a, target.id).filter(
          (r) =>
            r.path.startsWith(`/admin/tenants/${a}/keys`) ||
            (r.method === 'get' && r.path === `/admin/tenants/${a}`),
        );
        expect(routes).toHaveLength(7);
        for (const res of await sendAll(routes, as(plainA.secret), 403)) {
          expect(res.body.message).toMatch(/tenant:admin/);
        }
        expect(await read(`/admin/tenants/${a}/keys/${target.id}`)).toMatchObject({
          name: 'untouchable',
          revokedAt: null,
          rotatedAt: null,
        });
      });
    });

    it('a tenant admin key of a suspended tenant gets 403, and works again once reactivated', async () => {
      const t = await createTenant('susp');
      const key = await createKey(t, { scopes: ['tenant:admin'] });
      await p.http().get(`/admin/tenants/${t}/keys`).set(bearer(key.secret)).expect(200);

      await p.admin.patchTenant(t, { status: 'suspended' });
      const keyRoutes = adminRoutes(t, key.id).filter((r) =>
        r.path.startsWith(`/admin/tenants/${t}/keys`),
      );
      for (const res of await sendAll(keyRoutes, bearer(key.secret), 403)) {
        expect(res.body.message).toMatch(/suspended/);
      }
      const self = await p.http().get(`/admin/tenants/${t}`).set('X-API-Key', key.secret);
      expect(self.status).toBe(403);

      await p.http().patch(`/admin/tenants/${t}`).set(ADMIN).send({ status: 'active' }).expect(200);
      await p.http().get(`/admin/tenants/${t}/keys`).set(bearer(key.secret)).expect(200);
      expect(await read(`/admin/tenants/${t}/keys/${key.id}`)).toMatchObject({
        revokedAt: null,
        rotatedAt: null,
      });
    });

    it('a key granted tenant:admin later can manage keys at once', async () => {
      const key = await createKey(a, { scopes: ['notes:read'] });
      await p.http().get(`/admin/tenants/${a}/keys`).set(bearer(key.secret)).expect(403);
      await p.admin.patchKey(a, key.id, { scopes: ['notes:read', 'tenant:admin'] });
      await p.http().get(`/admin/tenants/${a}/keys`).set(bearer(key.secret)).expect(200);
    });

    it('a tenant admin that revokes its own key is locked out on the next request', async () => {
      const key = await createKey(a, { scopes: ['tenant:admin'] });
      await p
        .http()
        .post(`/admin/tenants/${a}/keys/${key.id}/revoke`)
        .set(bearer(key.secret))
        .expect(200);
      expect401(await p.http().get(`/admin/tenants/${a}/keys`).set(bearer(key.secret)));
    });

    it('a deleted tenant takes its admin keys with it', async () => {
      const t = await createTenant('del');
      const key = await createKey(t, { scopes: ['tenant:admin'] });
      await p.http().get(`/admin/tenants/${t}`).set(bearer(key.secret)).expect(200);
      await p.http().delete(`/admin/tenants/${t}`).set(ADMIN).expect(204);
      expect401(await p.http().get(`/admin/tenants/${t}`).set(bearer(key.secret)));
    });
  });

  describe('the platform admin', () => {
    it('can use every admin route', async () => {
      const t = await createTenant('root');
      const key = await createKey(t, { name: 'k' });
      const expected: Record<string, number> = {
        [`POST /admin/tenants`]: 201,
        [`GET /admin/tenants`]: 200,
        [`GET /admin/tenants/${t}`]: 200,
        [`PATCH /admin/tenants/${t}`]: 200,
        [`POST /admin/tenants/${t}/keys`]: 201,
        [`GET /admin/tenants/${t}/keys`]: 200,
        [`GET /admin/tenants/${t}/keys/${key.id}`]: 200,
        [`PATCH /admin/tenants/${t}/keys/${key.id}`]: 200,
        [`POST /admin/tenants/${t}/keys/${key.id}/rotate`]: 201,
        [`POST /admin/tenants/${t}/keys/${key.id}/revoke`]: 200,
        [`DELETE /admin/tenants/${t}`]: 204,
      };
      const routes = adminRoutes(t, key.id);
      // Rotate before revoke (a revoked key cannot be rotated), delete last.
      const order = [0, 1, 2, 3, 5, 6, 7, 8, 10, 9, 4];
      await sendAll(
        order.map((i) => routes[i]),
        ADMIN,
        (r) => expected[label(r)],
      );
      await p.http().get(`/admin/tenants/${t}`).set(ADMIN).expect(404);
      await p.http().get(`/admin/tenants/${t}-new`).set(ADMIN).expect(200);
    });

    it('is accepted with any case of the Bearer scheme', async () => {
      await p
        .http()
        .get('/admin/tenants')
        .set('Authorization', `bearer ${ADMIN_TOKEN}`)
        .expect(200);
      await p
        .http()
        .get('/admin/tenants')
        .set('Authorization', `BEARER ${ADMIN_TOKEN}`)
        .expect(200);
    });
  });
});
