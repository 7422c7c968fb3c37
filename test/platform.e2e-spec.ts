import { createHash } from 'node:crypto';
import type { Test } from 'supertest';
import { DataSource } from 'typeorm';
import { AdminTokenService, issueAdminToken } from '@app/auth';
import { PlatformSetting } from '@app/tenancy';
import { bearer } from './support/admin';
import {
  ADMIN,
  launchPlatform,
  persistentStorage,
  PersistentStorage,
  RunningPlatform,
  usePlatform,
} from './support/platform';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

describe('platform', () => {
  const p = usePlatform();

  describe('health', () => {
    it('GET /healthz answers 200 {status: "ok"} without credentials', async () => {
      const res = await p.http().get('/healthz').expect(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body).toEqual({ status: 'ok' });
    });

    it('GET /readyz answers 200 while the database is up, without credentials', async () => {
      const res = await p.http().get('/readyz').expect(200);
      expect(res.body).toMatchObject({ status: 'ok', info: { database: { status: 'up' } } });
    });

    it('health routes ignore a bad credential rather than refusing it', async () => {
      await p.http().get('/healthz').set(bearer('garbage')).expect(200);
      await p.http().get('/readyz').set('X-API-Key', 'mcp_nonsense').expect(200);
    });
  });

  describe('OpenAPI', () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    let doc: any;
    beforeAll(async () => {
      const res = await p.http().get('/docs-json').expect(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      doc = res.body;
    });

    it('is a public OpenAPI 3 document', () => {
      expect(doc.openapi).toMatch(/^3\./);
      expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    });

    it.each([
      ['/admin/tenants', ['get', 'post']],
      ['/admin/tenants/{tenant}', ['delete', 'get', 'patch']],
      ['/admin/tenants/{tenant}/keys', ['get', 'post']],
      ['/admin/tenants/{tenant}/keys/{id}', ['get', 'patch']],
      ['/admin/tenants/{tenant}/keys/{id}/revoke', ['post']],
      ['/admin/tenants/{tenant}/keys/{id}/rotate', ['post']],
      ['/admin/tenants/{tenant}/sources', ['get', 'post']],
      ['/admin/tenants/{tenant}/sources/{id}', ['delete', 'get', 'patch']],
      ['/admin/tenants/{tenant}/sources/{id}/refresh', ['post']],
      ['/admin/tenants/{tenant}/audit', ['get']],
      ['/admin/tenants/{tenant}/audit/hourly', ['get']],
    ])('documents %s with %j, behind the bearer scheme', (path, methods) => {
      expect(doc.paths).toHaveProperty([path]);
      const ops = doc.paths[path];
      const documented = Object.keys(ops).filter((m) =>
        ['get', 'post', 'put', 'patch', 'delete'].includes(m),
      );
      expect(documented.sort()).toEqual([...methods].sort());
      for (const m of methods) {
        expect(ops[m].security).toEqual(expect.arrayContaining([{ bearer: [] }]));
      }
    });

    it('declares a bearer security scheme', () => {
      expect(doc.components.securitySchemes.bearer).toMatchObject({
        type: 'http',
        scheme: 'bearer',
      });
    });

    it('has component schemas Tenant, ApiKey, IssuedApiKey, CreateTenant and CreateApiKey', () => {
      const schemas = doc.components.schemas;
      for (const name of ['Tenant', 'ApiKey', 'IssuedApiKey', 'CreateTenant', 'CreateApiKey']) {
        expect(schemas).toHaveProperty([name]);
      }
      expect(schemas.CreateTenant).toMatchObject({
        type: 'object',
        additionalProperties: false,
        required: expect.arrayContaining(['slug', 'name']),
      });
      expect(schemas.CreateApiKey).toMatchObject({
        type: 'object',
        additionalProperties: false,
        required: expect.arrayContaining(['name', 'scopes']),
      });
      // The protocol posture: settable on create and update, shown on the tenant, as one enum.
      const postures = ['dual', 'modern-only', 'legacy-only'];
      for (const name of ['CreateTenant', 'UpdateTenant', 'Tenant']) {
        expect({ name, protocol: schemas[name].properties.protocol }).toMatchObject({
          name,
          protocol: { enum: postures },
        });
      }
      expect(Object.keys(schemas.IssuedApiKey.properties)).toContain('secret');
      expect(Object.keys(schemas.ApiKey.properties)).not.toContain('secret');
      for (const schema of Object.values(schemas)) {
        expect(JSON.stringify(schema)).not.toMatch(/secretHash|secret_hash/);
      }
    });

    it('refers to the schemas from the operations that use them', () => {
      const create = doc.paths['/admin/tenants'].post;
      expect(JSON.stringify(create.requestBody)).toContain('#/components/schemas/CreateTenant');
      expect(JSON.stringify(create.responses['201'])).toContain('#/components/schemas/Tenant');
      const createKey = doc.paths['/admin/tenants/{tenant}/keys'].post;
      expect(JSON.stringify(createKey.requestBody)).toContain('#/components/schemas/CreateApiKey');
      expect(JSON.stringify(createKey.responses['201'])).toContain(
        '#/components/schemas/IssuedApiKey',
      );
      const getKey = doc.paths['/admin/tenants/{tenant}/keys/{id}'].get;
      expect(JSON.stringify(getKey.responses['200'])).toContain('#/components/schemas/ApiKey"');
    });

    it('documents tool sources with write-only secrets: in the bodies, never in the answers', () => {
      const schemas = doc.components.schemas;
      const create = doc.paths['/admin/tenants/{tenant}/sources'].post;
      expect(JSON.stringify(create.requestBody)).toContain('#/components/schemas/CreateToolSource');
      expect(JSON.stringify(create.responses['201'])).toContain('#/components/schemas/ToolSource"');
      expect(JSON.stringify(schemas.CreateToolSource)).toMatch(/clientSecret/);
      expect(JSON.stringify(schemas.ToolSource)).not.toMatch(/clientSecret|"value"/);
      expect(JSON.stringify(schemas.ToolSource)).toContain('breaker');
    });

    it('GET /docs serves the browsable HTML without credentials', async () => {
      const res = await p.http().get('/docs').redirects(2).expect(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.text).toMatch(/<html/i);
    });
  });

  describe('X-Request-Id', () => {
    const tooBig = { slug: 'big', name: 'x'.repeat(1_100_000) };
    it.each<[string, () => Test, number]>([
      ['GET /healthz', () => p.http().get('/healthz'), 200],
      ['GET /readyz', () => p.http().get('/readyz'), 200],
      ['GET /admin/tenants as admin', () => p.http().get('/admin/tenants').set(ADMIN), 200],
      ['GET /admin/tenants anonymously (401)', () => p.http().get('/admin/tenants'), 401],
      [
        'POST /admin/tenants with an invalid body (400)',
        () => p.http().post('/admin/tenants').set(ADMIN).send({ slug: 'Bad Slug' }),
        400,
      ],
      ['an unknown route (404)', () => p.http().get('/no/such/route'), 404],
      ['GET /docs-json', () => p.http().get('/docs-json'), 200],
      ['GET /docs', () => p.http().get('/docs'), 200],
      [
        'a body that is not JSON (400)',
        () =>
          p
            .http()
            .post('/admin/tenants')
            .set(ADMIN)
            .set('Content-Type', 'application/json')
            .send('{"slug":'),
        400,
      ],
      [
        'a body over 1 MiB (413)',
        () => p.http().post('/admin/tenants').set(ADMIN).send(tooBig),
        413,
      ],
    ])('is set on %s', async (_label, send, status) => {
      const res = await send();
      expect(res.status).toBe(status);
      expect(res.headers['x-request-id']).toMatch(REQUEST_ID);
    });

    it('is different for every request', async () => {
      const a = await p.http().get('/healthz');
      const b = await p.http().get('/healthz');
      expect(a.headers['x-request-id']).toMatch(REQUEST_ID);
      expect(a.headers['x-request-id']).not.toBe(b.headers['x-request-id']);
    });

    it.each([['req-123'], ['trace.abc:DEF_9'], ['a'.repeat(64)]])(
      'echoes a valid incoming id %s',
      async (id) => {
        const ok = await p.http().get('/healthz').set('X-Request-Id', id).expect(200);
        expect(ok.headers['x-request-id']).toBe(id);
        const refused = await p.http().get('/admin/tenants').set('X-Request-Id', id).expect(401);
        expect(refused.headers['x-request-id']).toBe(id);
      },
    );

    it.each([['has spaces'], ['a'.repeat(65)], ['<script>'], ['new\\nline']])(
      'replaces an invalid incoming id %j with its own',
      async (id) => {
        const res = await p.http().get('/healthz').set('X-Request-Id', id).expect(200);
        expect(res.headers['x-request-id']).toMatch(REQUEST_ID);
        expect(res.headers['x-request-id']).not.toBe(id);
      },
    );
  });

  describe('unknown routes', () => {
    it.each([
      ['get', '/no/such/route'],
      ['post', '/nope'],
      ['get', '/admin'],
      ['delete', '/admin/tenants'],
    ] as const)('%s %s answers a JSON 404', async (method, path) => {
      const res = await p.http()[method](path).set(ADMIN);
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body).toEqual({
        statusCode: 404,
        error: 'Not Found',
        message: expect.any(String),
      });
    });
  });
});

/** What `fn` wrote to stdout (kept off the test output), and what it returned. */
async function printedDuring<T>(fn: () => Promise<T>): Promise<{ value: T; printed: string }> {
  const chunks: string[] = [];
  const write = jest
    .spyOn(process.stdout, 'write')
    .mockImplementation((chunk: string | Uint8Array) => {
      chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return true;
    });
  try {
    return { value: await fn(), printed: chunks.join('') };
  } finally {
    write.mockRestore();
  }
}

describe('platform: restarts', () => {
  let storage: PersistentStorage;
  let running: RunningPlatform | undefined;
  beforeEach(async () => {
    storage = await persistentStorage();
  });
  afterEach(async () => {
    await running?.close();
    running = undefined;
    await storage.dispose();
  });

  async function start(env: Record<string, string> = {}): Promise<RunningPlatform> {
    running = await launchPlatform({ ...storage.env, ...env });
    return running;
  }
  async function stop(): Promise<void> {
    await running?.close();
    running = undefined;
  }

  it('keeps tenants and keys across a restart on the same storage', async () => {
    const first = await start();
    const tenant = await first.admin.createTenant('persist', { name: 'Survivor' });
    const { slug } = tenant;
    const key = await first.admin.createKey(slug, { scopes: ['tenant:admin'] });
    await stop();

    const second = await start();
    const got = await second.http().get(`/admin/tenants/${slug}`).set(ADMIN).expect(200);
    expect(got.body).toEqual(tenant);
    const keys = await second.http().get(`/admin/tenants/${slug}/keys`).set(ADMIN).expect(200);
    expect(keys.body.items.map((k: { id: string }) => k.id)).toEqual([key.id]);
    await second.http().get(`/admin/tenants/${slug}/keys`).set(bearer(key.secret)).expect(200);
  });

  it('generates an admin token when none is set, prints it once, and stores only its hash', async () => {
    const { value: first, printed } = await printedDuring(() => start({ ADMIN_TOKEN: '' }));
    const tokens = printed.match(/mcpadm_[A-Za-z0-9_-]+/g) ?? [];
    expect(tokens).toHaveLength(1);
    const token = tokens[0]!;
    expect(token.length).toBeGreaterThanOrEqual(32 + 'mcpadm_'.length);

    await first.http().get('/admin/tenants').set(bearer(token)).expect(200);
    await first.http().get('/admin/tenants').expect(401);
    await first.http().get('/admin/tenants').set(ADMIN).expect(401);
    await first
      .http()
      .get('/admin/tenants')
      .set(bearer(`${token}x`))
      .expect(401);

    const db = first.app.get(DataSource);
    const rows: { key: string; value: string }[] = await db.query(
      `SELECT key, value #>> '{}' AS value, value::text AS raw FROM platform_settings`,
    );
    expect(JSON.stringify(rows)).not.toContain(token);
    expect(JSON.stringify(rows)).not.toContain(token.slice('mcpadm_'.length));
    const hashes = rows.filter((r) => /^[0-9a-f]{64}$/.test(r.value));
    expect(hashes).toHaveLength(1);
    expect(hashes[0].value).toBe(createHash('sha256').update(token).digest('hex'));
    await stop();

    const { value: second, printed: again } = await printedDuring(() => start({ ADMIN_TOKEN: '' }));
    expect(again).not.toMatch(/mcpadm_/);
    await second.http().get('/admin/tenants').set(bearer(token)).expect(200);
    await second.http().get('/admin/tenants').set(ADMIN).expect(401);
  });

  it('a rotation reaches a running platform without a restart', async () => {
    const { value: running, printed } = await printedDuring(() => start({ ADMIN_TOKEN: '' }));
    // What `npm run admin-token:rotate` does, here against the running platform's database.
    const rotated = await issueAdminToken(
      running.app.get(DataSource).getRepository(PlatformSetting),
    );
    const original = printed.match(/mcpadm_[A-Za-z0-9_-]+/)?.[0];
    expect(original).toBeDefined();
    expect(rotated).not.toBe(original);

    // Each process reads the stored hash again every ADMIN_TOKEN_REFRESH_MS; this is that read.
    await running.app.get(AdminTokenService).refresh();
    await running.http().get('/admin/tenants').set(bearer(rotated)).expect(200);
    await running.http().get('/admin/tenants').set(bearer(original!)).expect(401);
  });

  it('an ADMIN_TOKEN in the environment takes over from a generated one', async () => {
    const { printed } = await printedDuring(() => start({ ADMIN_TOKEN: '' }));
    const generated = printed.match(/mcpadm_[A-Za-z0-9_-]+/)?.[0];
    expect(generated).toBeDefined();
    await stop();

    const withEnv = await start();
    await withEnv.http().get('/admin/tenants').set(ADMIN).expect(200);
    await withEnv.http().get('/admin/tenants').set(bearer(generated!)).expect(401);
  });
});
