import { createHash, randomUUID } from 'node:crypto';
import { formatApiKey, KeyUsageRecorder } from '@app/tenancy';
import type { Response } from 'supertest';
import { bearer, KeyBody } from './support/admin';
import { ADMIN, usePlatform } from './support/platform';

const KEY_SHAPE = /^mcp_[0-9A-Za-z]{12}_[0-9A-Za-z]{38}$/;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** Everything that would give a key away: the whole key, its secret part, and that part's hash. */
function leaks(secret: string): string[] {
  const part = secret.slice(17, 49);
  const hash = createHash('sha256').update(part).digest();
  return [
    secret,
    part,
    hash.toString('hex'),
    hash.toString('base64'),
    'secretHash',
    'secret_hash',
    'previousSecretHash',
    'previous_secret_hash',
  ];
}

/** The response gives away neither this key nor any stored hash. */
function expectNoSecret(text: string, secret: string): void {
  for (const leak of leaks(secret)) expect(text).not.toContain(leak);
}

/** A response that is not allowed to carry any secret at all. */
function expectNoSecretField(text: string): void {
  expect(text).not.toContain('"secret"');
  expect(text).not.toMatch(/mcp_[0-9A-Za-z]{12}_[0-9A-Za-z]{38}/);
}

/** A response that carries no secret at all, neither these keys nor any other. */
function expectNoSecrets(res: { text: string }, ...secrets: string[]): void {
  for (const secret of secrets) expectNoSecret(res.text, secret);
  expectNoSecretField(res.text);
}

/** A well-formed key (valid checksum) with the right key id and a secret that is not the key's. */
function wrongSecret(secret: string): string {
  const keyId = secret.slice(4, 16);
  const part = secret.slice(17, 49);
  const other = part.slice(1) + (part[0] === 'a' ? 'b' : 'a');
  const forged = formatApiKey(keyId, other);
  expect(forged).toMatch(KEY_SHAPE);
  expect(forged).not.toBe(secret);
  return forged;
}

/** A 400 with the standard error body, its message naming what was wrong. */
function expectBadRequest(res: Response, message: RegExp): void {
  expect(res.status).toBe(400);
  expect(res.body).toEqual({ statusCode: 400, error: 'Bad Request', message: expect.any(String) });
  expect(res.body.message).toMatch(message);
}

describe('admin API: keys', () => {
  const p = usePlatform();
  let slug: string;
  beforeAll(async () => {
    slug = (await p.admin.createTenant('keys')).slug;
  });
  const createKey = (s: string, body?: Record<string, unknown>) => p.admin.createKey(s, body);
  const createTenant = async (prefix: string) => (await p.admin.createTenant(prefix)).slug;

  const keysUrl = (s = slug) => `/admin/tenants/${s}/keys`;
  const keyUrl = (id: string, s = slug) => `/admin/tenants/${s}/keys/${id}`;
  const getKey = (id: string) => p.http().get(keyUrl(id)).set(ADMIN);
  const patchKey = (id: string, body: object) => p.http().patch(keyUrl(id)).set(ADMIN).send(body);
  const revoke = (id: string) =>
    p
      .http()
      .post(`${keyUrl(id)}/revoke`)
      .set(ADMIN);
  const rotate = (id: string, body?: object) =>
    p
      .http()
      .post(`${keyUrl(id)}/rotate`)
      .set(ADMIN)
      .send(body);
  /** A request only a credential with tenant:admin on `slug` may make. */
  const useKey = (secret: string) => p.http().get(keysUrl()).set(bearer(secret));

  describe('create', () => {
    it('returns 201 with the whole key once, its prefix, deduplicated scopes and no tool limit', async () => {
      const res = await p
        .http()
        .post(keysUrl())
        .set(ADMIN)
        .send({ name: 'CI deploy', scopes: ['notes:read', 'notes:write', 'notes:read'] })
        .expect(201);
      expect(res.body).toEqual({
        id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
        tenant: slug,
        name: 'CI deploy',
        prefix: expect.any(String),
        scopes: ['notes:read', 'notes:write'],
        tools: null,
        resources: null,
        prompts: null,
        expiresAt: null,
        revokedAt: null,
        lastUsedAt: null,
        rotatedAt: null,
        rateLimitPerMinute: null,
        previousSecretValidUntil: null,
        createdAt: expect.stringMatching(ISO),
        secret: expect.stringMatching(KEY_SHAPE),
      });
      expect(res.body.prefix).toBe(res.body.secret.slice(0, 16));
      expect(res.body.prefix).toMatch(/^mcp_[0-9A-Za-z]{12}$/);
      expect(Math.abs(Date.parse(res.body.createdAt) - Date.now())).toBeLessThan(60_000);
      expect(res.body).not.toHaveProperty('secretHash');
    });

    it('issues a different secret and key id every time', async () => {
      const a = await createKey(slug);
      const b = await createKey(slug);
      expect(a.secret).not.toBe(b.secret);
      expect(a.prefix).not.toBe(b.prefix);
      expect(a.id).not.toBe(b.id);
    });

    it('keeps a tool limit (deduplicated) and an expiry', async () => {
      const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
      const key = await createKey(slug, {
        scopes: ['math:use'],
        tools: ['add', 'subtract', 'add'],
        expiresAt,
      });
      expect(key.tools).toEqual(['add', 'subtract']);
      expect(key.expiresAt).toBe(expiresAt);
      const got = await getKey(key.id).expect(200);
      expect(got.body).toMatchObject({ tools: ['add', 'subtract'], expiresAt });
    });

    it('accepts an expiry with a UTC offset and returns it in UTC', async () => {
      const at = new Date(Date.now() + 86_400_000);
      at.setUTCMilliseconds(0);
      // The same instant written in UTC+02:00.
      const local = new Date(at.getTime() + 2 * 3_600_000).toISOString();
      const withOffset = local.replace(/\.000Z$/, '+02:00');
      const key = await createKey(slug, { expiresAt: withOffset });
      expect(key.expiresAt).toBe(at.toISOString());
    });

    it('makes a key that works at once', async () => {
      const key = await createKey(slug, { scopes: ['tenant:admin'] });
      await useKey(key.secret).expect(200);
      await p.http().get(keysUrl()).set('X-API-Key', key.secret).expect(200);
    });
  });

  describe('the secret', () => {
    it('appears only in the create and rotate responses, never in list, get, patch or revoke', async () => {
      const created = await createKey(slug, { name: 'leak check', scopes: ['notes:read'] });
      const secret = created.secret;

      const list = await p.http().get(keysUrl()).query({ limit: 200 }).set(ADMIN).expect(200);
      expect(list.body.items.map((k: KeyBody) => k.id)).toContain(created.id);
      expectNoSecrets(list, secret);

      const got = await getKey(created.id).expect(200);
      expect(got.body.prefix).toBe(created.prefix);
      expectNoSecrets(got, secret);

      const patched = await patchKey(created.id, { name: 'renamed' }).expect(200);
      expectNoSecrets(patched, secret);

      const rotated = await rotate(created.id).expect(201);
      const newSecret: string = rotated.body.secret;
      expect(newSecret).toMatch(KEY_SHAPE);
      expect(newSecret).not.toBe(secret);
      expectNoSecret(rotated.text, secret);

      const gotAgain = await getKey(created.id).expect(200);
      expectNoSecrets(gotAgain, newSecret);
      const listAgain = await p.http().get(keysUrl()).query({ limit: 200 }).set(ADMIN).expect(200);
      expectNoSecrets(listAgain, newSecret);

      const revoked = await revoke(created.id).expect(200);
      expectNoSecrets(revoked, secret, newSecret);
    });
  });

  describe('list', () => {
    it('pages with limit=1 through three keys in creation order without repeats', async () => {
      const tenant = await createTenant('page');
      const ids: string[] = [];
      for (const name of ['first', 'second', 'third']) {
        ids.push((await createKey(tenant, { name })).id);
      }
      const seen: KeyBody[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res: { body: { items: KeyBody[]; nextCursor: string | null }; text: string } = await p
          .http()
          .get(keysUrl(tenant))
          .query(cursor ? { limit: 1, cursor } : { limit: 1 })
          .set(ADMIN)
          .expect(200);
        expect(res.body.items).toHaveLength(1);
        expectNoSecretField(res.text);
        expect(res.text).not.toMatch(/secretHash|secret_hash/);
        seen.push(...res.body.items);
        cursor = res.body.nextCursor;
        pages += 1;
      } while (cursor && pages < 10);
      expect(pages).toBe(3);
      expect(seen.map((k) => k.id)).toEqual(ids);
      expect(seen.map((k) => k.name)).toEqual(['first', 'second', 'third']);
      for (const k of seen) {
        expect(Object.keys(k).sort()).toEqual(
          [
            'createdAt',
            'expiresAt',
            'id',
            'lastUsedAt',
            'name',
            'prefix',
            'previousSecretValidUntil',
            'prompts',
            'rateLimitPerMinute',
            'resources',
            'revokedAt',
            'rotatedAt',
            'scopes',
            'tenant',
            'tools',
          ].sort(),
        );
      }
    });

    it('lists only the keys of the tenant asked about', async () => {
      const a = await createTenant('lista');
      const b = await createTenant('listb');
      const ka = await createKey(a, { name: 'of a' });
      const kb = await createKey(b, { name: 'of b' });
      const listA = await p.http().get(keysUrl(a)).set(ADMIN).expect(200);
      expect(listA.body).toEqual({
        items: [expect.objectContaining({ id: ka.id })],
        nextCursor: null,
      });
      const listB = await p.http().get(keysUrl(b)).set(ADMIN).expect(200);
      expect(listB.body.items.map((k: KeyBody) => k.id)).toEqual([kb.id]);
    });

    it('returns an empty page for a tenant without keys', async () => {
      const empty = await createTenant('empty');
      const res = await p.http().get(keysUrl(empty)).set(ADMIN).expect(200);
      expect(res.body).toEqual({ items: [], nextCursor: null });
    });

    it.each([['limit=0'], ['limit=201'], ['limit=1.5'], ['cursor=garbage'], ['secret=1']])(
      'rejects the query %s with 400',
      async (qs) => {
        expectBadRequest(await p.http().get(`${keysUrl()}?${qs}`).set(ADMIN).expect(400), /./);
      },
    );
  });

  describe('get', () => {
    it('returns the key as created, without its secret', async () => {
      const key = await createKey(slug, { name: 'readable', scopes: ['notes:read'] });
      const res = await getKey(key.id).expect(200);
      const view: Partial<KeyBody> = { ...key };
      delete view.secret;
      expect(res.body).toEqual(view);
    });
  });

  describe('patch', () => {
    it('renames, changes scopes and tools, and sets and clears the expiry', async () => {
      const key = await createKey(slug, { name: 'before', scopes: ['notes:read'] });

      const renamed = await patchKey(key.id, { name: '  after  ' }).expect(200);
      expect(renamed.body).toMatchObject({ id: key.id, name: 'after', scopes: ['notes:read'] });

      const rescoped = await patchKey(key.id, {
        scopes: ['notes:write', 'math:use', 'notes:write'],
      }).expect(200);
      expect(rescoped.body).toMatchObject({ name: 'after', scopes: ['notes:write', 'math:use'] });

      const limited = await patchKey(key.id, { tools: ['notes_create', 'echo'] }).expect(200);
      expect(limited.body.tools).toEqual(['notes_create', 'echo']);

      const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
      const expiring = await patchKey(key.id, { expiresAt }).expect(200);
      expect(expiring.body.expiresAt).toBe(expiresAt);

      const cleared = await patchKey(key.id, { expiresAt: null, tools: null }).expect(200);
      expect(cleared.body).toMatchObject({ expiresAt: null, tools: null });

      // The changes were stored, not just echoed.
      const got = await getKey(key.id).expect(200);
      expect(got.body).toMatchObject({
        name: 'after',
        scopes: ['notes:write', 'math:use'],
        tools: null,
        expiresAt: null,
        prefix: key.prefix,
        createdAt: key.createdAt,
      });
    });

    it('does not change the secret', async () => {
      const key = await createKey(slug, { scopes: ['tenant:admin'] });
      await patchKey(key.id, { name: 'still works' }).expect(200);
      await useKey(key.secret).expect(200);
    });

    it('takes a scope away at once', async () => {
      const key = await createKey(slug, { scopes: ['tenant:admin'] });
      await useKey(key.secret).expect(200);
      await patchKey(key.id, { scopes: ['notes:read'] }).expect(200);
      await useKey(key.secret).expect(403);
      await patchKey(key.id, { scopes: ['tenant:admin'] }).expect(200);
      await useKey(key.secret).expect(200);
    });
  });

  describe('invalid bodies', () => {
    const anHourAgo = () => new Date(Date.now() - 3_600_000).toISOString();

    it.each<[string, () => unknown, RegExp]>([
      [
        'an unknown field',
        () => ({ name: 'k', scopes: [], color: 'red' }),
        /Unrecognized key: "color"/,
      ],
      [
        'a secret of its own',
        () => ({ name: 'k', scopes: [], secret: 'mcp_x' }),
        /Unrecognized key: "secret"/,
      ],
      [
        'scope "admin"',
        () => ({ name: 'k', scopes: ['admin'] }),
        /scopes\.0: each scope must look like resource:action/,
      ],
      [
        'scope "Notes:Read"',
        () => ({ name: 'k', scopes: ['notes:read', 'Notes:Read'] }),
        /scopes\.1: .*resource:action/,
      ],
      ['scope "a:b:c"', () => ({ name: 'k', scopes: ['a:b:c'] }), /scopes\.0: .*resource:action/],
      ['an empty scope', () => ({ name: 'k', scopes: [''] }), /scopes\.0/],
      [
        'scopes as a string',
        () => ({ name: 'k', scopes: 'notes:read' }),
        /scopes: .*expected array/,
      ],
      [
        'a scope no tool uses',
        () => ({ name: 'k', scopes: ['notes:read', 'billing:read'] }),
        /scopes: unknown billing:read/,
      ],
      ['no scopes', () => ({ name: 'k' }), /scopes/],
      [
        'a tool that is not a name',
        () => ({ name: 'k', scopes: [], tools: ['rm -rf /'] }),
        /tools\.0: each tool must be a tool name/,
      ],
      [
        'tools as a string',
        () => ({ name: 'k', scopes: [], tools: 'echo' }),
        /tools: .*expected array/,
      ],
      [
        'a tool that does not exist',
        () => ({ name: 'k', scopes: [], tools: ['echo', 'no_such_tool'] }),
        /tools: unknown no_such_tool/,
      ],
      [
        'an expiry in the past',
        () => ({ name: 'k', scopes: [], expiresAt: anHourAgo() }),
        /expiresAt: must be in the future/,
      ],
      [
        'an expiry that is not ISO',
        () => ({ name: 'k', scopes: [], expiresAt: 'next tuesday' }),
        /expiresAt: must be an ISO 8601 date-time/,
      ],
      [
        'an expiry without a time',
        () => ({ name: 'k', scopes: [], expiresAt: '2099-01-01' }),
        /expiresAt: must be an ISO 8601/,
      ],
      [
        'an expiry as a number',
        () => ({ name: 'k', scopes: [], expiresAt: Date.now() + 3_600_000 }),
        /expiresAt/,
      ],
      ['no name', () => ({ scopes: [] }), /name/],
      ['an empty name', () => ({ name: '   ', scopes: [] }), /name: must not be empty/],
      [
        'a name with a control character',
        () => ({ name: 'bell\u0007', scopes: [] }),
        /name: must not contain control characters/,
      ],
      [
        'a name with a newline inside',
        () => ({ name: 'two\nlines', scopes: [] }),
        /name: must not contain control characters/,
      ],
      [
        'a name over 200 characters',
        () => ({ name: 'n'.repeat(201), scopes: [] }),
        /name: must be at most 200 characters/,
      ],
      ['an array body', () => [], /expected object/],
    ])('create with %s: 400 naming the field', async (_label, body, message) => {
      expectBadRequest(
        await p
          .http()
          .post(keysUrl())
          .set(ADMIN)
          .send(body() as object),
        message,
      );
    });

    it('create with invalid bodies makes no key', async () => {
      const tenant = await createTenant('nokey');
      await p
        .http()
        .post(keysUrl(tenant))
        .set(ADMIN)
        .send({ name: 'k', scopes: ['admin'] })
        .expect(400);
      const list = await p.http().get(keysUrl(tenant)).set(ADMIN).expect(200);
      expect(list.body.items).toEqual([]);
    });

    it.each<[string, () => unknown, RegExp]>([
      ['an empty patch', () => ({}), /nothing to change/],
      ['an unknown field', () => ({ revokedAt: null }), /Unrecognized key: "revokedAt"/],
      ['a new prefix', () => ({ prefix: 'mcp_AAAAAAAAAAAA' }), /Unrecognized key: "prefix"/],
      ['scope "admin"', () => ({ scopes: ['admin'] }), /scopes\.0: .*resource:action/],
      ['scope "Notes:Read"', () => ({ scopes: ['Notes:Read'] }), /scopes\.0: .*resource:action/],
      ['scope "a:b:c"', () => ({ scopes: ['a:b:c'] }), /scopes\.0: .*resource:action/],
      ['scopes as a string', () => ({ scopes: 'notes:read' }), /scopes: .*expected array/],
      ['scopes null', () => ({ scopes: null }), /scopes/],
      [
        'a tool that is not a name',
        () => ({ tools: ['two words'] }),
        /tools\.0: each tool must be a tool name/,
      ],
      [
        'a tool that does not exist',
        () => ({ tools: ['no_such_tool'] }),
        /tools: unknown no_such_tool/,
      ],
      [
        'a scope no tool uses',
        () => ({ scopes: ['billing:read'] }),
        /scopes: unknown billing:read/,
      ],
      [
        'an expiry in the past',
        () => ({ expiresAt: anHourAgo() }),
        /expiresAt: must be in the future/,
      ],
      [
        'an expiry that is not ISO',
        () => ({ expiresAt: '31/01/2099' }),
        /expiresAt: must be an ISO 8601/,
      ],
      [
        'a name with a control character',
        () => ({ name: 'tab\there' }),
        /name: must not contain control characters/,
      ],
      ['an empty name', () => ({ name: '' }), /name: must not be empty/],
      ['a null name', () => ({ name: null }), /name/],
    ])('patch with %s: 400 naming the field', async (_label, body, message) => {
      const key = await createKey(slug, { name: 'unchanged', scopes: ['notes:read'] });
      expectBadRequest(await patchKey(key.id, body() as object), message);
      const got = await getKey(key.id).expect(200);
      expect(got.body).toMatchObject({
        name: 'unchanged',
        scopes: ['notes:read'],
        expiresAt: null,
      });
    });
  });

  describe('unknown keys', () => {
    /** GET, PATCH (with `patch`), revoke and rotate (with `rotate`) of key `id` of `slug`, as the admin. */
    const everyKeyRoute = async (id: string, patch: object, rotate: object) => {
      const answers: Response[] = [];
      for (const [method, path, body] of [
        ['get', keyUrl(id), undefined],
        ['patch', keyUrl(id), patch],
        ['post', `${keyUrl(id)}/revoke`, undefined],
        ['post', `${keyUrl(id)}/rotate`, rotate],
      ] as const) {
        const res = await p.http()[method](path).set(ADMIN).send(body);
        expect({ method, path, status: res.status }).toEqual({ method, path, status: 404 });
        answers.push(res);
      }
      return answers;
    };

    it.each([
      ['a random uuid', () => randomUUID()],
      ['a non-uuid', () => 'xyz'],
      ['a key prefix', () => 'mcp_AAAAAAAAAAAA'],
    ])('answers 404 for %s on get, patch, revoke and rotate', async (_label, makeId) => {
      for (const res of await everyKeyRoute(makeId(), { name: 'x' }, { graceSeconds: 0 })) {
        expect(res.body).toEqual({
          statusCode: 404,
          error: 'Not Found',
          message: expect.any(String),
        });
      }
    });

    it('answers 404 for a key of another tenant, and leaves that key alone', async () => {
      const other = await createTenant('other');
      const theirs = await createKey(other, { name: 'theirs', scopes: ['tenant:admin'] });
      const hijack = { name: 'hijacked', scopes: ['tenant:admin', 'notes:write'] };
      for (const res of await everyKeyRoute(theirs.id, hijack, {})) {
        expect(res.text).not.toContain('hijacked');
      }
      const got = await p.http().get(keyUrl(theirs.id, other)).set(ADMIN).expect(200);
      expect(got.body).toMatchObject({
        name: 'theirs',
        scopes: ['tenant:admin'],
        revokedAt: null,
        rotatedAt: null,
      });
      await p.http().get(keysUrl(other)).set(bearer(theirs.secret)).expect(200);
    });
  });

  describe('revoke', () => {
    it('answers 200 with revokedAt, is idempotent, and the key stops working', async () => {
      const key = await createKey(slug, { scopes: ['tenant:admin'] });
      await useKey(key.secret).expect(200);

      const before = Date.now();
      const res = await revoke(key.id).expect(200);
      expect(res.body).toMatchObject({ id: key.id, revokedAt: expect.stringMatching(ISO) });
      const revokedAt = Date.parse(res.body.revokedAt);
      expect(revokedAt).toBeGreaterThanOrEqual(before - 5_000);
      expect(revokedAt).toBeLessThanOrEqual(Date.now() + 5_000);

      const again = await revoke(key.id).expect(200);
      expect(again.body.revokedAt).toBe(res.body.revokedAt);

      const denied = await useKey(key.secret).expect(401);
      expect(denied.body).toEqual({
        statusCode: 401,
        error: 'Unauthorized',
        message: expect.stringMatching(/revoked/),
      });
      await p.http().get(keysUrl()).set('X-API-Key', key.secret).expect(401);
      await p.http().get(`/admin/tenants/${slug}`).set(bearer(key.secret)).expect(401);

      const got = await getKey(key.id).expect(200);
      expect(got.body.revokedAt).toBe(res.body.revokedAt);
    });

    it('refuses to patch or rotate a revoked key with 409', async () => {
      const key = await createKey(slug, { name: 'dead', scopes: ['tenant:admin'] });
      await revoke(key.id).expect(200);

      const patch = await patchKey(key.id, { name: 'alive again' }).expect(409);
      expect(patch.body).toEqual({
        statusCode: 409,
        error: 'Conflict',
        message: expect.stringMatching(/revoked/),
      });

      const rotated = await rotate(key.id, {}).expect(409);
      expect(rotated.body).toMatchObject({ statusCode: 409, error: 'Conflict' });
      expect(rotated.text).not.toMatch(/mcp_[0-9A-Za-z]{12}_/);

      const got = await getKey(key.id).expect(200);
      expect(got.body).toMatchObject({ name: 'dead', rotatedAt: null });
      await useKey(key.secret).expect(401);
    });

    it('stops a rotated key, old and new secret alike, even inside the grace period', async () => {
      const key = await createKey(slug, { scopes: ['tenant:admin'] });
      const rotated = await rotate(key.id, { graceSeconds: 600 }).expect(201);
      await useKey(key.secret).expect(200);
      const revoked = await revoke(key.id).expect(200);
      expect(revoked.body.previousSecretValidUntil).toBeNull();
      await useKey(key.secret).expect(401);
      await useKey(rotated.body.secret).expect(401);
    });
  });

  describe('rotate', () => {
    it('issues a new secret with the same prefix; the old one stops at once by default', async () => {
      const key = await createKey(slug, { name: 'rotating', scopes: ['tenant:admin'] });
      await useKey(key.secret).expect(200);

      const res = await rotate(key.id).expect(201);
      expect(res.body).toMatchObject({
        id: key.id,
        name: 'rotating',
        prefix: key.prefix,
        scopes: ['tenant:admin'],
        revokedAt: null,
        rotatedAt: expect.stringMatching(ISO),
        previousSecretValidUntil: null,
        createdAt: key.createdAt,
        secret: expect.stringMatching(KEY_SHAPE),
      });
      expect(res.body.secret).not.toBe(key.secret);
      expect(res.body.secret.slice(0, 16)).toBe(key.prefix);

      await useKey(res.body.secret).expect(200);
      await p.http().get(keysUrl()).set('X-API-Key', res.body.secret).expect(200);
      const old = await useKey(key.secret).expect(401);
      expect(old.body.message).toEqual(expect.any(String));
      await p.http().get(keysUrl()).set('X-API-Key', key.secret).expect(401);
    });

    it('with graceSeconds: 60 keeps the old secret working for about a minute', async () => {
      const key = await createKey(slug, { scopes: ['tenant:admin'] });
      const before = Date.now();
      const res = await rotate(key.id, { graceSeconds: 60 }).expect(201);
      const until = Date.parse(res.body.previousSecretValidUntil);
      expect(until).toBeGreaterThanOrEqual(before + 55_000);
      expect(until).toBeLessThanOrEqual(Date.now() + 65_000);

      await useKey(key.secret).expect(200);
      await useKey(res.body.secret).expect(200);

      // Another rotation without grace ends the old secret's grace at once.
      const third = await rotate(key.id, {}).expect(201);
      expect(third.body.previousSecretValidUntil).toBeNull();
      await useKey(key.secret).expect(401);
      await useKey(res.body.secret).expect(401);
      await useKey(third.body.secret).expect(200);
    });

    it('accepts graceSeconds of exactly 30 days', async () => {
      const key = await createKey(slug);
      const res = await rotate(key.id, { graceSeconds: 30 * 24 * 3600 }).expect(201);
      const until = Date.parse(res.body.previousSecretValidUntil);
      expect(Math.abs(until - (Date.now() + 30 * 24 * 3600 * 1000))).toBeLessThan(60_000);
    });

    it.each<[string, unknown, RegExp]>([
      ['-1', { graceSeconds: -1 }, /graceSeconds/],
      ['1.5', { graceSeconds: 1.5 }, /graceSeconds/],
      ['"10"', { graceSeconds: '10' }, /graceSeconds/],
      [
        'over 30 days',
        { graceSeconds: 30 * 24 * 3600 + 1 },
        /graceSeconds: must be at most 2592000/,
      ],
      ['null', { graceSeconds: null }, /graceSeconds/],
      ['an unknown field', { grace: 10 }, /Unrecognized key: "grace"/],
    ])('refuses graceSeconds %s with 400 and keeps the secret', async (_label, body, message) => {
      const key = await createKey(slug, { scopes: ['tenant:admin'] });
      expectBadRequest(await rotate(key.id, body as object), message);
      await useKey(key.secret).expect(200);
      const got = await getKey(key.id).expect(200);
      expect(got.body.rotatedAt).toBeNull();
    });
  });

  describe('expiry', () => {
    it('a key works until its expiresAt, then gets 401 saying it expired', async () => {
      const expiresAt = new Date(Date.now() + 2_000).toISOString();
      const key = await createKey(slug, { scopes: ['tenant:admin'], expiresAt });
      await useKey(key.secret).expect(200);

      const wait = Date.parse(expiresAt) - Date.now() + 150;
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));

      const res = await useKey(key.secret).expect(401);
      expect(res.body).toEqual({
        statusCode: 401,
        error: 'Unauthorized',
        message: expect.stringMatching(/expired/i),
      });
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      await p.http().get(keysUrl()).set('X-API-Key', key.secret).expect(401);
    });

    it('extending the expiry of a key takes effect at once', async () => {
      const key = await createKey(slug, {
        scopes: ['tenant:admin'],
        expiresAt: new Date(Date.now() + 1_500).toISOString(),
      });
      await useKey(key.secret).expect(200);
      await patchKey(key.id, { expiresAt: null }).expect(200);
      await new Promise((r) => setTimeout(r, 1_700));
      await useKey(key.secret).expect(200);
    });
  });

  describe('wrong secrets', () => {
    it('refuses a key whose id is right but whose secret is not', async () => {
      const key = await createKey(slug, { scopes: ['tenant:admin'] });
      const res = await useKey(wrongSecret(key.secret)).expect(401);
      expect(res.body).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
    });
  });

  describe('lastUsedAt', () => {
    it('is null until the key is used, then records when', async () => {
      const key = await createKey(slug, { scopes: ['tenant:admin'] });
      expect(key.lastUsedAt).toBeNull();
      const recorder = p.app.get(KeyUsageRecorder);
      await recorder.flush();
      const unused = await getKey(key.id).expect(200);
      expect(unused.body.lastUsedAt).toBeNull();

      const before = Date.now();
      await useKey(key.secret).expect(200);
      const after = Date.now();
      await recorder.flush();

      const used = await getKey(key.id).expect(200);
      expect(used.body.lastUsedAt).toMatch(ISO);
      const at = Date.parse(used.body.lastUsedAt);
      expect(at).toBeGreaterThanOrEqual(before - 1_000);
      expect(at).toBeLessThanOrEqual(after + 1_000);

      // A later use moves it forward.
      await new Promise((r) => setTimeout(r, 20));
      await p.http().get(keysUrl()).set('X-API-Key', key.secret).expect(200);
      await recorder.flush();
      const later = await getKey(key.id).expect(200);
      expect(Date.parse(later.body.lastUsedAt)).toBeGreaterThan(at);
      const listed = await p.http().get(keysUrl()).query({ limit: 200 }).set(ADMIN).expect(200);
      expect(listed.body.items.find((k: KeyBody) => k.id === key.id).lastUsedAt).toBe(
        later.body.lastUsedAt,
      );
    });

    it('is not set by a refused attempt', async () => {
      const key = await createKey(slug, { scopes: ['tenant:admin'] });
      await useKey(wrongSecret(key.secret)).expect(401);
      await p.app.get(KeyUsageRecorder).flush();
      const got = await getKey(key.id).expect(200);
      expect(got.body.lastUsedAt).toBeNull();
    });
  });
});
