import fc from 'fast-check';
import type { Response } from 'supertest';
import { JWT_ALGORITHMS } from '@app/auth';
import { bearer } from './support/admin';
import { http } from './support/http';
import { expectErrorBody, isClientError } from './support/hostile';
import {
  hostileBody,
  hostileSegment,
  hostileString,
  LONE_SURROGATES,
  SQL_STRINGS,
  UNICODE_STRINGS,
} from './support/hostile-arbitraries';
import { ADMIN, usePlatform } from './support/platform';

/** Runs per property: enough to cover every generator branch, small enough for a quick file. */
const RUNS = 60;
const PROPERTY_TIMEOUT = 120_000;

const SLUG_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const SCOPE_PATTERN = /^[a-z][a-z0-9_-]{0,31}:[a-z][a-z0-9_-]{0,31}$/;
const SCOPES = ['math:use', 'notes:read', 'notes:write', 'tenant:admin'];
const TOOLS = ['whoami', 'echo', 'add', 'subtract', 'notes_create', 'notes_get', 'notes_list'];

const NO_BODY = Symbol('no body');
type Payload = unknown;

const omitSecret = (b: object) => {
  const { secret: _secret, ...rest } = b as Record<string, unknown>;
  return rest;
};

const describePayload = (payload: Payload) => {
  if (payload === NO_BODY) return '(no body)';
  const text = JSON.stringify(payload) ?? String(payload);
  return text.length > 400 ? `${text.slice(0, 400)}… (${text.length} chars)` : text;
};

// Valid values for each field; the arbitraries mix them with hostile ones.
const validSlug = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}[a-z0-9]$/);
const validName = fc.oneof(
  fc.string({ minLength: 1, maxLength: 60 }),
  fc.constantFrom(...SQL_STRINGS, ...UNICODE_STRINGS),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }),
);
const validOrigins = fc.uniqueArray(
  fc.constantFrom('https://app.example.com', 'http://localhost:5173', 'https://a.b.example:8443'),
  { maxLength: 3 },
);
const validScopes = fc.subarray(SCOPES);
const validTools = fc.oneof(fc.constant(null), fc.subarray(TOOLS));
const validExpiry = fc.oneof(
  fc.constant(null),
  fc
    .date({
      min: new Date(Date.now() + 7 * 86_400_000),
      max: new Date('9999-12-31T00:00:00Z'),
      noInvalidDate: true,
    })
    .map((d) => d.toISOString()),
);
const perMinute = fc.integer({ min: 0, max: 1_000_000 });
const validUrl = fc.constantFrom(
  'https://idp.example.com',
  'https://login.example.org/realms/acme',
  'http://127.0.0.1:9',
  'http://localhost:8080/jwks.json',
  'https://idp.example.com/.well-known/jwks.json',
);

/** An answer as the battery reads it, from supertest or from a raw request. */
interface Answer {
  status: number;
  text: string;
  body: unknown;
}

describe('admin API: property-based hostile battery', () => {
  const p = usePlatform();
  /** A tenant and key no property targets; checked for corruption at the end. */
  let known: { slug: string; key: string; keyId: string; tenantView: unknown; keyView: unknown };
  let createdTenants = 0;

  const send = async (method: string, path: string, payload: Payload): Promise<Response> => {
    const req = (p.http() as unknown as Record<string, (path: string) => import('supertest').Test>)
      [method.toLowerCase()](path)
      .set(ADMIN);
    if (payload === NO_BODY) return req;
    return req.set('Content-Type', 'application/json').send(JSON.stringify(payload) ?? 'null');
  };

  /**
   * Never a 5xx; a refusal is a 4xx with `{statusCode, error, message}`. The one exception is a
   * documented 502 (`unreachable`): the input names a server the platform must read before saving
   * and that server could not be read; it is still an error body, and nothing was saved.
   */
  const expectHandled = (res: Answer, what: string, payload: Payload, unreachable?: RegExp) => {
    if (res.status === 502 && unreachable) {
      expectErrorBody(502, res.body, what);
      expect((res.body as { message: string }).message).toMatch(unreachable);
      return;
    }
    if (res.status >= 500 || res.status < 200) {
      throw new Error(
        `${what} answered ${res.status} ${res.text.slice(0, 200)} for ${describePayload(payload)}`,
      );
    }
    if (res.status >= 300) {
      expect(isClientError(res.status)).toBe(true);
      expectErrorBody(res.status, res.body, what);
    }
  };

  /**
   * Sends every generated input with `send`. Never a 5xx, a refusal is a 4xx with the error body;
   * an acceptance (`accepted`) passes `check` and reads back (`readBack`) as acknowledged (less
   * the secret). At least one input (the examples make sure) must be accepted: the checks of an
   * acceptance are not allowed to go unrun. Returns how many were.
   */
  async function battery<T>(
    what: string,
    input: fc.Arbitrary<T>,
    opts: {
      send: (input: T) => Promise<Answer>;
      accepted: number;
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      check: (body: any, input: T) => void;
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      readBack: (body: any, input: T) => Promise<unknown>;
      examples: T[];
      /** For an input that makes the platform read a server first: the 502 message it may get. */
      unreachable?: (input: T) => RegExp | undefined;
    },
  ): Promise<number> {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(input, async (value) => {
        const res = await opts.send(value);
        expectHandled(res, what, value, opts.unreachable?.(value));
        if (res.status !== opts.accepted) return;
        accepted += 1;
        opts.check(res.body, value);
        expect(await opts.readBack(res.body, value)).toEqual(omitSecret(res.body as object));
      }),
      { numRuns: RUNS, examples: opts.examples.map((e) => [e]) },
    );
    expect({ what, accepted: accepted > 0 }).toEqual({ what, accepted: true });
    return accepted;
  }

  /** GET `path` as the admin; fails unless 200. */
  const read = async (path: string) =>
    (await p.http().get(path).set(ADMIN).expect(200)).body as unknown;

  beforeAll(async () => {
    const t = await p.admin.createTenant('known');
    const k = await p.admin.createKey(t.slug, { scopes: ['math:use'], name: 'known key' });
    known = {
      slug: t.slug,
      key: k.secret,
      keyId: k.id,
      tenantView: (await p.http().get(`/admin/tenants/${t.slug}`).set(ADMIN).expect(200)).body,
      keyView: (await p.http().get(`/admin/tenants/${t.slug}/keys/${k.id}`).set(ADMIN).expect(200))
        .body,
    };
  });

  describe('hostile bodies on every write route', () => {
    it(
      'POST /admin/tenants',
      async () => {
        const body = hostileBody({
          slug: validSlug,
          name: validName,
          allowedOrigins: validOrigins,
        });
        createdTenants += await battery('POST /admin/tenants', body, {
          send: (payload) => send('POST', '/admin/tenants', payload),
          accepted: 201,
          check: (res, payload) => {
            const sent = payload as { slug: string; name: string };
            expect(res.slug).toBe(sent.slug);
            expect(res.name).toBe(sent.name.trim());
          },
          readBack: (res) => read(`/admin/tenants/${res.slug}`),
          examples: [
            { slug: 'sql-name', name: "'; DROP TABLE tenants;--" },
            { slug: "x'; DROP TABLE tenants;--", name: 'x' },
            { slug: 'nul-name', name: 'a\u0000b' },
            { slug: 'huge-name', name: 'x'.repeat(100_000) },
            { slug: 'a'.repeat(64), name: 'x' },
            [{ slug: 'in-array', name: 'x' }],
            JSON.parse('{"slug":"proto","name":"x","__proto__":{"admin":true}}'),
            { slug: 'nested', name: { a: { b: { c: 'x' } } } },
          ],
        });
      },
      PROPERTY_TIMEOUT,
    );

    it(
      'PATCH /admin/tenants/:tenant',
      async () => {
        const victim = await p.admin.createTenant('patchme');
        const body = hostileBody({
          name: validName,
          status: fc.constantFrom('active', 'suspended'),
          allowedOrigins: validOrigins,
          rateLimits: fc.record(
            { keyPerMinute: perMinute, tenantPerMinute: perMinute },
            { requiredKeys: [] },
          ),
        });
        /** The tenant as the last accepted change left it. */
        let last: Record<string, unknown> = { ...victim };
        await battery('PATCH /admin/tenants/:tenant', body, {
          send: (payload) => send('PATCH', `/admin/tenants/${victim.slug}`, payload),
          accepted: 200,
          check: (res, payload) => {
            const sent = payload as { name?: string; status?: string };
            expect(res.name).toBe(typeof sent.name === 'string' ? sent.name.trim() : last.name);
            expect(res.status).toBe(sent.status ?? last.status);
            expect(res.slug).toBe(victim.slug);
            last = res;
          },
          readBack: () => read(`/admin/tenants/${victim.slug}`),
          examples: [
            { status: 'deleted' },
            { status: "active'; DROP TABLE tenants;--" },
            { name: '\u0000' },
            { name: '   ' },
            { slug: 'renamed' },
            { id: '00000000-0000-4000-8000-000000000000' },
            { allowedOrigins: ['https://a.example/path'] },
            { allowedOrigins: 'https://a.example' },
            {},
            { name: "'; DROP TABLE tenants;--", status: 'suspended' },
          ],
        });
      },
      PROPERTY_TIMEOUT,
    );

    it(
      'POST /admin/tenants/:tenant/keys',
      async () => {
        const owner = await p.admin.createTenant('keysme');
        const body = hostileBody({
          name: validName,
          scopes: validScopes,
          tools: validTools,
          expiresAt: validExpiry,
          rateLimitPerMinute: fc.oneof(fc.constant(null), perMinute),
        });
        await battery('POST keys', body, {
          send: (payload) => send('POST', `/admin/tenants/${owner.slug}/keys`, payload),
          accepted: 201,
          check: (res, payload) => {
            const sent = payload as { name: string; scopes: string[] };
            expect(res.secret).toMatch(/^mcp_/);
            expect(res.name).toBe(sent.name.trim());
            expect(res.scopes).toEqual([...new Set(sent.scopes)]);
          },
          readBack: (res) => read(`/admin/tenants/${owner.slug}/keys/${res.id}`),
          examples: [
            { name: 'k', scopes: ["'; DROP TABLE api_keys;--"] },
            { name: 'k', scopes: ['tenant:admin', 'tenant:admin'] },
            { name: 'k', scopes: [], tools: ['echo\u0000'] },
            { name: 'k', scopes: [], expiresAt: '1970-01-01T00:00:00Z' },
            { name: 'k', scopes: [], expiresAt: '+275760-09-13T00:00:00Z' },
            { name: 'k', scopes: [], expiresAt: 4102444800 },
            { name: 'k', scopes: 'tenant:admin' },
            { name: 'k', scopes: [], secret: 'mcp_chosen_by_the_caller' },
            { name: 'k', scopes: [], tenantId: '00000000-0000-4000-8000-000000000000' },
            { name: 'x'.repeat(201), scopes: [] },
          ],
        });
      },
      PROPERTY_TIMEOUT,
    );

    it(
      'PATCH /admin/tenants/:tenant/keys/:id',
      async () => {
        const owner = await p.admin.createTenant('patchkey');
        const key = await p.admin.createKey(owner.slug);
        const body = hostileBody({
          name: validName,
          scopes: validScopes,
          tools: validTools,
          expiresAt: validExpiry,
          rateLimitPerMinute: fc.oneof(fc.constant(null), perMinute),
        });
        /** The key as the last accepted change left it. */
        let last: Record<string, unknown> = omitSecret(key);
        await battery('PATCH key', body, {
          send: (payload) => send('PATCH', `/admin/tenants/${owner.slug}/keys/${key.id}`, payload),
          accepted: 200,
          check: (res, payload) => {
            const sent = payload as { name?: string; scopes?: string[] };
            expect(res.name).toBe(typeof sent.name === 'string' ? sent.name.trim() : last.name);
            expect(res.scopes).toEqual(sent.scopes ? [...new Set(sent.scopes)] : last.scopes);
            expect(res.id).toBe(key.id);
            expect(res).not.toHaveProperty('secret');
            last = res;
          },
          readBack: () => read(`/admin/tenants/${owner.slug}/keys/${key.id}`),
          examples: [
            { revokedAt: null },
            { id: '00000000-0000-4000-8000-000000000000' },
            { scopes: null },
            { name: null },
            { expiresAt: 'tomorrow' },
            { tools: [] },
            {},
            { name: "'; DROP TABLE api_keys;--", scopes: ['notes:read', 'notes:read'] },
          ],
        });
      },
      PROPERTY_TIMEOUT,
    );

    it(
      'POST /admin/tenants/:tenant/keys/:id/rotate',
      async () => {
        const owner = await p.admin.createTenant('rotateme');
        const key = await p.admin.createKey(owner.slug);
        const body = fc.oneof(
          { weight: 1, arbitrary: fc.constant<Payload>(NO_BODY) },
          {
            weight: 9,
            arbitrary: hostileBody({ graceSeconds: fc.integer({ min: 0, max: 30 * 24 * 3600 }) }),
          },
        );
        await battery('POST rotate', body, {
          send: (payload) =>
            send('POST', `/admin/tenants/${owner.slug}/keys/${key.id}/rotate`, payload),
          accepted: 201,
          check: (res) => {
            expect(res.id).toBe(key.id);
            expect(res.secret).toMatch(/^mcp_/);
          },
          readBack: () => read(`/admin/tenants/${owner.slug}/keys/${key.id}`),
          examples: [
            { graceSeconds: -1 },
            { graceSeconds: 1e308 },
            { graceSeconds: 2 ** 53 + 2 },
            { graceSeconds: '60' },
            { graceSeconds: 30 * 24 * 3600 + 1 },
            { graceSeconds: 1.5 },
            { graceSeconds: 0, secret: 'mine' },
            {},
            NO_BODY,
          ],
        });
      },
      PROPERTY_TIMEOUT,
    );

    it(
      'PUT /admin/tenants/:tenant/tools/:name',
      async () => {
        const owner = await p.admin.createTenant('toolsme');
        const input = fc.record({
          name: fc.oneof(
            { weight: 4, arbitrary: fc.constantFrom(...TOOLS) },
            { weight: 1, arbitrary: hostileSegment },
          ),
          payload: hostileBody({ enabled: fc.boolean() }),
        });
        await battery('PUT tool', input, {
          send: async ({ name, payload }) => {
            const res = await http(p.url, {
              method: 'PUT',
              path: `/admin/tenants/${owner.slug}/tools/${name}`,
              headers: { ...ADMIN, 'Content-Type': 'application/json' },
              body: JSON.stringify(payload) ?? 'null',
            });
            return { ...res, body: res.json };
          },
          accepted: 200,
          check: (view, { payload }) => {
            expect(view.enabled).toBe((payload as { enabled: boolean }).enabled);
          },
          readBack: async (view: { name: string }) =>
            (
              (await read(`/admin/tenants/${owner.slug}/tools`)) as { items: { name: string }[] }
            ).items.find((t) => t.name === view.name),
          examples: [
            { name: 'echo', payload: { enabled: 'false' } },
            { name: 'echo', payload: { enabled: 0 } },
            { name: 'echo', payload: { enabled: null } },
            { name: 'echo', payload: { enabled: true, requiredScopes: [] } },
            { name: '__proto__', payload: { enabled: true } },
            { name: 'constructor', payload: { enabled: true } },
            { name: '%00', payload: { enabled: true } },
            { name: 'echo', payload: { enabled: false } },
          ],
        });
      },
      PROPERTY_TIMEOUT,
    );

    it(
      'PUT /admin/tenants/:tenant/auth',
      async () => {
        const owner = await p.admin.createTenant('authme');
        const jwt = fc.oneof(
          { weight: 1, arbitrary: fc.constant(null) },
          {
            weight: 6,
            arbitrary: hostileBody({
              issuer: validUrl,
              jwksUri: validUrl,
              audience: fc.oneof(fc.string({ minLength: 1, maxLength: 80 }), hostileString),
              scopesClaim: fc.constantFrom(
                'scp',
                'scope',
                'permissions',
                'roles',
                'realm_access.roles',
              ),
              algorithms: fc.subarray([...JWT_ALGORITHMS], { minLength: 1 }),
            }),
          },
        );
        const body = fc.oneof(
          { weight: 6, arbitrary: fc.record({ jwt }) },
          { weight: 2, arbitrary: hostileBody({ jwt }) },
        );
        const idp = { issuer: 'https://idp.example.com', jwksUri: 'https://idp.example.com/jwks' };
        await battery('PUT auth', body, {
          send: (payload) => send('PUT', `/admin/tenants/${owner.slug}/auth`, payload),
          accepted: 200,
          check: (res, payload) => {
            expect(res).toEqual({ jwt: (payload as { jwt: unknown }).jwt });
          },
          readBack: () => read(`/admin/tenants/${owner.slug}/auth`),
          // An issuer without jwksUri is discovered before saving; none of these answers.
          unreachable: (payload) => {
            const jwt = (payload as { jwt?: { issuer?: unknown; jwksUri?: unknown } } | null)?.jwt;
            return typeof jwt?.issuer === 'string' && jwt.jwksUri === undefined
              ? /^jwt\.issuer: .*could not be read|^jwt\.issuer: .*did not resolve/
              : undefined;
          },
          examples: [
            { jwt: { issuer: 'http://127.0.0.1:9' } },
            { jwt: { ...idp, audience: "'; DROP TABLE tenants;--" } },
            { jwt: { ...idp, audience: 'a\u0000b' } },
            { jwt: { issuer: 'https://idp.example.com/\u0000', jwksUri: idp.jwksUri } },
            { jwt: { ...idp, algorithms: ['none'] } },
            { jwt: { ...idp, scopesClaim: '__proto__' } },
            {
              jwt: {
                issuer: 'http://169.254.169.254',
                jwksUri: 'http://169.254.169.254/latest/meta-data',
              },
            },
            { jwt: {} },
            { jwt: [] },
            {},
          ],
        });
      },
      PROPERTY_TIMEOUT,
    );
  });

  describe('hostile path parameters', () => {
    it(
      'slugs, key ids and tool names with SQL, NUL, unicode or 500 characters: 4xx, never 5xx',
      async () => {
        const owner = await p.admin.createTenant('pathme');
        const key = await p.admin.createKey(owner.slug);
        const routes: Array<{
          method: string;
          path: (s: string, id: string, tool: string) => string;
          body?: unknown;
        }> = [
          { method: 'GET', path: (s) => `/admin/tenants/${s}` },
          {
            method: 'PATCH',
            path: (s) => `/admin/tenants/${s}`,
            body: { name: 'renamed by a path' },
          },
          { method: 'GET', path: (s) => `/admin/tenants/${s}/keys` },
          {
            method: 'POST',
            path: (s) => `/admin/tenants/${s}/keys`,
            body: { name: 'k', scopes: [] },
          },
          { method: 'GET', path: (s, id) => `/admin/tenants/${s}/keys/${id}` },
          {
            method: 'PATCH',
            path: (s, id) => `/admin/tenants/${s}/keys/${id}`,
            body: { name: 'k2' },
          },
          { method: 'POST', path: (s, id) => `/admin/tenants/${s}/keys/${id}/rotate`, body: {} },
          { method: 'POST', path: (s, id) => `/admin/tenants/${s}/keys/${id}/revoke` },
          { method: 'GET', path: (s) => `/admin/tenants/${s}/tools` },
          {
            method: 'PUT',
            path: (s, _id, tool) => `/admin/tenants/${s}/tools/${tool}`,
            body: { enabled: true },
          },
          { method: 'GET', path: (s) => `/admin/tenants/${s}/auth` },
          { method: 'PUT', path: (s) => `/admin/tenants/${s}/auth`, body: { jwt: null } },
          { method: 'GET', path: (s) => `/admin/tenants/${s}/sources` },
          { method: 'GET', path: (s, id) => `/admin/tenants/${s}/sources/${id}` },
          {
            method: 'PATCH',
            path: (s, id) => `/admin/tenants/${s}/sources/${id}`,
            body: { enabled: true },
          },
          { method: 'POST', path: (s, id) => `/admin/tenants/${s}/sources/${id}/refresh` },
          { method: 'DELETE', path: (s, id) => `/admin/tenants/${s}/sources/${id}` },
        ];
        const input = fc.record({
          route: fc.constantFrom(...routes),
          slug: fc.oneof(
            { weight: 1, arbitrary: fc.constant(owner.slug) },
            { weight: 3, arbitrary: hostileSegment },
          ),
          id: fc.oneof(
            { weight: 1, arbitrary: fc.constant(key.id) },
            { weight: 3, arbitrary: hostileSegment },
          ),
          tool: fc.oneof(
            { weight: 1, arbitrary: fc.constant('echo') },
            { weight: 3, arbitrary: hostileSegment },
          ),
        });
        await fc.assert(
          fc.asyncProperty(input, async ({ route, slug, id, tool }) => {
            const path = route.path(slug, id, tool);
            const res = await http(p.url, {
              method: route.method,
              path,
              headers: { ...ADMIN, ...(route.body ? { 'Content-Type': 'application/json' } : {}) },
              body: route.body ? JSON.stringify(route.body) : undefined,
            });
            const what = `${route.method} ${path.slice(0, 120)}`;
            if (res.status >= 500)
              throw new Error(`${what} answered ${res.status}: ${res.text.slice(0, 200)}`);
            expect(res.headers.get('set-cookie')).toBeNull();
            if (res.status >= 300) {
              expect(isClientError(res.status)).toBe(true);
              expectErrorBody(res.status, res.json, what);
            } else {
              expect(typeof res.json).toBe('object');
            }
          }),
          { numRuns: RUNS * 2 },
        );
      },
      PROPERTY_TIMEOUT,
    );
  });

  describe('strings Postgres cannot store as sent', () => {
    it('NUL bytes in any string field are refused with 400, never a 5xx', async () => {
      const owner = await p.admin.createTenant('nulls');
      const key = await p.admin.createKey(owner.slug);
      const good = { issuer: 'https://idp.example.com', jwksUri: 'https://idp.example.com/jwks' };
      const attempts: Array<[string, string, unknown]> = [
        ['POST', '/admin/tenants', { slug: 'nul-tenant', name: 'a\u0000b' }],
        ['PATCH', `/admin/tenants/${owner.slug}`, { name: 'a\u0000b' }],
        ['PATCH', `/admin/tenants/${owner.slug}`, { allowedOrigins: ['https://a\u0000.example'] }],
        ['POST', `/admin/tenants/${owner.slug}/keys`, { name: 'a\u0000b', scopes: [] }],
        ['POST', `/admin/tenants/${owner.slug}/keys`, { name: 'k', scopes: ['math:use\u0000'] }],
        ['PATCH', `/admin/tenants/${owner.slug}/keys/${key.id}`, { name: '\u0000' }],
        [
          'PUT',
          `/admin/tenants/${owner.slug}/auth`,
          { jwt: { ...good, audience: 'api://a\u0000b' } },
        ],
        [
          'PUT',
          `/admin/tenants/${owner.slug}/auth`,
          { jwt: { ...good, issuer: 'https://idp.example.com/\u0000' } },
        ],
        [
          'PUT',
          `/admin/tenants/${owner.slug}/auth`,
          { jwt: { ...good, jwksUri: 'https://idp.example.com/jwks#\u0000' } },
        ],
        [
          'PUT',
          `/admin/tenants/${owner.slug}/auth`,
          { jwt: { ...good, scopesClaim: 'scp\u0000' } },
        ],
      ];
      const failures: string[] = [];
      for (const [method, path, payload] of attempts) {
        const res = await send(method, path, payload);
        if (res.status !== 400) {
          failures.push(
            `${method} ${path} ${describePayload(payload)} → ${res.status} ${res.text.slice(0, 120)}`,
          );
        } else {
          expectErrorBody(400, res.body);
        }
      }
      expect(failures).toEqual([]);
    });

    it('unpaired UTF-16 surrogates are refused with 400, or stored exactly as acknowledged', async () => {
      const owner = await p.admin.createTenant('surrogates');
      const key = await p.admin.createKey(owner.slug);
      const good = { issuer: 'https://idp.example.com', jwksUri: 'https://idp.example.com/jwks' };
      const failures: string[] = [];
      const check = async (
        what: string,
        res: Response,
        readBack: () => Promise<Record<string, unknown>>,
        pick: (b: Record<string, unknown>) => unknown,
      ) => {
        if (res.status >= 500) {
          failures.push(`${what}: ${res.status}`);
          return;
        }
        if (res.status >= 400) return expectErrorBody(res.status, res.body);
        const acknowledged = pick(res.body);
        const stored = pick(await readBack());
        if (JSON.stringify(stored) !== JSON.stringify(acknowledged)) {
          failures.push(
            `${what}: acknowledged ${JSON.stringify(acknowledged)}, stored ${JSON.stringify(stored)}`,
          );
        }
      };
      for (const [i, s] of LONE_SURROGATES.entries()) {
        const slug = `surrogate-${i}-${Date.now().toString(36)}`;
        await check(
          `POST tenant name ${JSON.stringify(s)}`,
          await send('POST', '/admin/tenants', { slug, name: s }),
          async () => (await p.http().get(`/admin/tenants/${slug}`).set(ADMIN)).body,
          (b) => b.name,
        );
        await check(
          `PATCH tenant name ${JSON.stringify(s)}`,
          await send('PATCH', `/admin/tenants/${owner.slug}`, { name: s }),
          async () => (await p.http().get(`/admin/tenants/${owner.slug}`).set(ADMIN)).body,
          (b) => b.name,
        );
        const created = await send('POST', `/admin/tenants/${owner.slug}/keys`, {
          name: s,
          scopes: [],
        });
        await check(
          `POST key name ${JSON.stringify(s)}`,
          created,
          async () =>
            (await p.http().get(`/admin/tenants/${owner.slug}/keys/${created.body.id}`).set(ADMIN))
              .body,
          (b) => b.name,
        );
        await check(
          `PATCH key name ${JSON.stringify(s)}`,
          await send('PATCH', `/admin/tenants/${owner.slug}/keys/${key.id}`, { name: s }),
          async () =>
            (await p.http().get(`/admin/tenants/${owner.slug}/keys/${key.id}`).set(ADMIN)).body,
          (b) => b.name,
        );
        await check(
          `PUT auth audience ${JSON.stringify(s)}`,
          await send('PUT', `/admin/tenants/${owner.slug}/auth`, { jwt: { ...good, audience: s } }),
          async () => (await p.http().get(`/admin/tenants/${owner.slug}/auth`).set(ADMIN)).body,
          (b) => (b.jwt as { audience?: string } | null)?.audience,
        );
      }
      expect(failures).toEqual([]);
    });
  });

  describe('deep nesting', () => {
    it('bodies nested 10 000 and 100 000 levels deep (under 1 MiB) are a 4xx on every write route', async () => {
      const owner = await p.admin.createTenant('deep');
      const key = await p.admin.createKey(owner.slug);
      const routes: Array<[string, string, string]> = [
        ['POST', '/admin/tenants', 'name'],
        ['PATCH', `/admin/tenants/${owner.slug}`, 'name'],
        ['POST', `/admin/tenants/${owner.slug}/keys`, 'scopes'],
        ['PATCH', `/admin/tenants/${owner.slug}/keys/${key.id}`, 'tools'],
        ['POST', `/admin/tenants/${owner.slug}/keys/${key.id}/rotate`, 'graceSeconds'],
        ['PUT', `/admin/tenants/${owner.slug}/tools/echo`, 'enabled'],
        ['PUT', `/admin/tenants/${owner.slug}/auth`, 'jwt'],
        ['POST', `/admin/tenants/${owner.slug}/sources`, 'document'],
        ['PATCH', `/admin/tenants/${owner.slug}/sources/${key.id}`, 'headers'],
      ];
      const nested = (depth: number, arrays: boolean) =>
        arrays
          ? `${'['.repeat(depth)}1${']'.repeat(depth)}`
          : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
      const failures: string[] = [];
      for (const depth of [10_000, 100_000]) {
        for (const arrays of [true, false]) {
          const value = nested(depth, arrays);
          for (const [method, path, field] of routes) {
            for (const body of [`{"${field}":${value}}`, value]) {
              const res = await http(p.url, {
                method,
                path,
                headers: { ...ADMIN, 'Content-Type': 'application/json' },
                body,
              });
              const what = `${method} ${path} with ${depth} levels of ${arrays ? 'arrays' : 'objects'}${body === value ? ' as the body' : ` in ${field}`}`;
              if (!isClientError(res.status))
                failures.push(`${what} → ${res.status} ${res.text.slice(0, 100)}`);
              else expectErrorBody(res.status, res.json, what);
            }
          }
        }
      }
      expect(
        failures.length > 8
          ? [...failures.slice(0, 8), `… and ${failures.length - 8} more`]
          : failures,
      ).toEqual([]);
      // The server is still fine.
      await p.http().get(`/admin/tenants/${owner.slug}`).set(ADMIN).expect(200);
    }, 60_000);
  });

  describe('after the battery', () => {
    it('the database still answers and nothing stored breaks the rules', async () => {
      await p.http().get('/readyz').expect(200);
      let cursor: string | null = null;
      let tenants = 0;
      do {
        const page: Response = await p
          .http()
          .get('/admin/tenants')
          .query({ limit: 200, ...(cursor ? { cursor } : {}) })
          .set(ADMIN)
          .expect(200);
        for (const t of page.body.items as Array<{ slug: string; name: string }>) {
          expect(t.slug).toMatch(SLUG_PATTERN);
          expect(typeof t.name).toBe('string');
          expect(t.name.trim()).toBe(t.name);
          expect(t.name.length).toBeGreaterThan(0);
          expect(t.name.length).toBeLessThanOrEqual(200);
          expect([...t.name].some((c) => c.charCodeAt(0) < 0x20 || c === '\u007f')).toBe(false);
        }
        tenants += page.body.items.length;
        cursor = page.body.nextCursor;
      } while (cursor);
      // The known tenant, the properties' own tenants, and whatever valid ones were generated.
      expect(tenants).toBeGreaterThanOrEqual(1 + 7 + createdTenants);
      expect(tenants).toBeLessThan(1 + 20 + createdTenants);
    });

    it('the known tenant and key are exactly as they were, and the key still works', async () => {
      expect(
        (await p.http().get(`/admin/tenants/${known.slug}`).set(ADMIN).expect(200)).body,
      ).toEqual(known.tenantView);
      const keyNow = (
        await p
          .http()
          .get(`/admin/tenants/${known.slug}/keys/${known.keyId}`)
          .set(ADMIN)
          .expect(200)
      ).body;
      expect(keyNow).toEqual(known.keyView);
      for (const item of (
        await p.http().get(`/admin/tenants/${known.slug}/keys`).set(ADMIN).expect(200)
      ).body.items as Array<{ scopes: string[] }>) {
        for (const s of item.scopes) expect(s).toMatch(SCOPE_PATTERN);
      }
      const client = await p.connect(known.slug, bearer(known.key));
      const sum = await client.callTool({ name: 'add', arguments: { a: 20, b: 22 } });
      expect(JSON.stringify(sum.content)).toContain('42');
    });
  });
});
