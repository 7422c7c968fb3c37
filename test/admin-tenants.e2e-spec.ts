import { DataSource } from 'typeorm';
import { ADMIN, uniqueSlug, usePlatform } from './support/platform';

describe('admin API: tenants', () => {
  const p = usePlatform();

  const create = (body: unknown) =>
    p
      .http()
      .post('/admin/tenants')
      .set(ADMIN)
      .send(body as object);
  const patch = (slug: string, body: unknown) =>
    p
      .http()
      .patch(`/admin/tenants/${slug}`)
      .set(ADMIN)
      .send(body as object);

  it('sets the protocol posture on create and on update, and shows it', async () => {
    const slug = uniqueSlug('posture');
    const res = await create({ slug, name: 'P', protocol: 'modern-only' }).expect(201);
    expect(res.body).toMatchObject({ protocol: 'modern-only' });
    const patched = await p
      .http()
      .patch(`/admin/tenants/${slug}`)
      .set(ADMIN)
      .send({ protocol: 'legacy-only' })
      .expect(200);
    expect(patched.body).toMatchObject({ protocol: 'legacy-only', name: 'P' });
    const got = await p.http().get(`/admin/tenants/${slug}`).set(ADMIN).expect(200);
    expect(got.body).toMatchObject({ protocol: 'legacy-only' });
    const bad = await create({ slug: uniqueSlug('posture'), name: 'P', protocol: 'both' });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('protocol');
  });

  it('creates a tenant and reads it back by slug', async () => {
    const slug = uniqueSlug('acme');
    const res = await create({ slug, name: 'Acme Corp' }).expect(201);
    expect(res.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      slug,
      name: 'Acme Corp',
      status: 'active',
      allowedOrigins: [],
      rateLimits: {},
      protocol: 'dual',
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    const got = await p.http().get(`/admin/tenants/${slug}`).set(ADMIN).expect(200);
    expect(got.body).toEqual(res.body);
  });

  it('refuses a duplicate slug with 409', async () => {
    const slug = uniqueSlug('dup');
    await create({ slug, name: 'One' }).expect(201);
    const res = await create({ slug, name: 'Two' }).expect(409);
    expect(res.body).toEqual({
      statusCode: 409,
      error: 'Conflict',
      message: `a tenant with slug "${slug}" already exists`,
    });
  });

  it.each([
    [{ slug: 'Bad_Slug', name: 'x' }, /slug: must be 1-63 lowercase/],
    [{ slug: '-leading', name: 'x' }, /slug/],
    [{ slug: 'trailing-', name: 'x' }, /slug/],
    [{ slug: 'a'.repeat(64), name: 'x' }, /slug/],
    [{ slug: "x'; drop table tenants;--", name: 'x' }, /slug/],
    [{ slug: 'ok', name: '' }, /name: must not be empty/],
    [{ slug: 'ok', name: 'a'.repeat(201) }, /name: must be at most 200 characters/],
    [{ slug: 'ok', name: 'nul\u0000byte' }, /name: must be valid Unicode text without NUL/],
    [{ slug: 'ok', name: 'bell\u0007' }, /name: must not contain control characters/],
    [{ slug: 'ok', name: 'x', plan: 'gold' }, /Unrecognized key: "plan"/],
    [{ slug: 42, name: 'x' }, /slug: Invalid input: expected string/],
    [{}, /slug.*name/],
    [[], /expected object/],
  ])('rejects %j with 400', async (body, message) => {
    const res = await create(body).expect(400);
    expect(res.body.statusCode).toBe(400);
    expect(res.body.error).toBe('Bad Request');
    expect(res.body.message).toMatch(message);
  });

  it('rejects a body that is not JSON with 400', async () => {
    const res = await p
      .http()
      .post('/admin/tenants')
      .set(ADMIN)
      .set('Content-Type', 'application/json')
      .send('{"slug": "x",')
      .expect(400);
    expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
  });

  it('rejects a body over 1 MiB with 413', async () => {
    const res = await create({ slug: 'big', name: 'x'.repeat(1_100_000) }).expect(413);
    expect(res.body).toEqual({
      statusCode: 413,
      error: 'Payload Too Large',
      message: 'request body is larger than the 1 MiB limit',
    });
  });

  it('pages through tenants with a cursor, oldest first, without repeats', async () => {
    const slugs = [
      uniqueSlug('page'),
      uniqueSlug('page'),
      uniqueSlug('page'),
      uniqueSlug('page'),
      uniqueSlug('page'),
    ];
    for (const slug of slugs) await create({ slug, name: slug }).expect(201);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: { body: { items: { slug: string }[]; nextCursor: string | null } } = await p
        .http()
        .get('/admin/tenants')
        .query(cursor ? { limit: 2, cursor } : { limit: 2 })
        .set(ADMIN)
        .expect(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items.map((t) => t.slug));
      cursor = res.body.nextCursor;
      pages += 1;
    } while (cursor && pages < 100);
    expect(new Set(seen).size).toBe(seen.length);
    const ours = seen.filter((s) => slugs.includes(s));
    expect(ours).toEqual(slugs);
  });

  it.each([['limit=0'], ['limit=201'], ['limit=abc'], ['cursor=nonsense'], ['bogus=1']])(
    'rejects the list query %s with 400',
    async (qs) => {
      const res = await p.http().get(`/admin/tenants?${qs}`).set(ADMIN).expect(400);
      expect(res.body.statusCode).toBe(400);
      expect(typeof res.body.message).toBe('string');
    },
  );

  it('renames and suspends a tenant, and reactivates it', async () => {
    const slug = uniqueSlug('patch');
    await create({ slug, name: 'Before' }).expect(201);
    const renamed = await patch(slug, { name: 'After' }).expect(200);
    expect(renamed.body).toMatchObject({ slug, name: 'After', status: 'active' });
    const suspended = await patch(slug, { status: 'suspended' }).expect(200);
    expect(suspended.body.status).toBe('suspended');
    const again = await p.http().get(`/admin/tenants/${slug}`).set(ADMIN).expect(200);
    expect(again.body).toMatchObject({ name: 'After', status: 'suspended' });
    const reactivated = await patch(slug, { status: 'active' }).expect(200);
    expect(reactivated.body).toMatchObject({ name: 'After', status: 'active' });
  });

  it.each([[{ status: 'deleted' }], [{ slug: 'new-slug' }], [{}], [{ name: null }]])(
    'rejects the patch %j with 400',
    async (body) => {
      const slug = uniqueSlug('badpatch');
      await create({ slug, name: 'x' }).expect(201);
      await patch(slug, body).expect(400);
    },
  );

  it('answers 404 for an unknown tenant on every route', async () => {
    const missing = uniqueSlug('missing');
    for (const [method, path] of [
      ['get', `/admin/tenants/${missing}`],
      ['patch', `/admin/tenants/${missing}`],
      ['delete', `/admin/tenants/${missing}`],
      ['get', `/admin/tenants/${missing}/keys`],
      ['post', `/admin/tenants/${missing}/keys`],
      ['get', '/admin/tenants/NOT%20A%20SLUG'],
      ['get', '/admin/tenants/nul%00byte'],
    ] as const) {
      const body =
        method === 'patch'
          ? { name: 'x' }
          : method === 'post'
            ? { name: 'k', scopes: [] }
            : undefined;
      const res = await p.http()[method](path).set(ADMIN).send(body);
      expect({ path, status: res.status }).toEqual({ path, status: 404 });
      expect(res.body).toMatchObject({ statusCode: 404, error: 'Not Found' });
    }
  });

  it('deletes a tenant with everything it owns', async () => {
    const slug = uniqueSlug('gone');
    await create({ slug, name: 'Doomed' }).expect(201);
    const key = await p.admin.createKey(slug, { scopes: ['tenant:admin'] });
    await p.http().get(`/admin/tenants/${slug}/keys`).set('X-API-Key', key.secret).expect(200);

    await p.http().delete(`/admin/tenants/${slug}`).set(ADMIN).expect(204);

    await p.http().get(`/admin/tenants/${slug}`).set(ADMIN).expect(404);
    await p.http().get(`/admin/tenants/${slug}/keys`).set('X-API-Key', key.secret).expect(401);
    const db = p.app.get(DataSource);
    const [{ count }] = await db.query(
      'SELECT count(*)::int AS count FROM api_keys WHERE id = $1',
      [key.id],
    );
    expect(count).toBe(0);
    // The slug is free again.
    await create({ slug, name: 'Reborn' }).expect(201);
  });
});
