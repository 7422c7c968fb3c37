import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { waitForAudit } from './support/audit';
import { adminClient, bearer } from './support/admin';
import { freePort, sleep } from './support/http';
import { rawCall, rawInitialize } from './support/mcp';
import { openModernClient } from './support/mcp-modern';
import { type PetApi, type PetApiRequest, startPetApi } from './support/pet-api';
import { usePlatform } from './support/platform';

type CallResult = {
  content: { type: string; text?: string }[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
};
type ListedTool = {
  name: string;
  inputSchema: Record<string, unknown>;
  annotations?: Record<string, unknown>;
};
type Caller = {
  listTools(): Promise<{ tools: ListedTool[] }>;
  callTool(req: { name: string; arguments: Record<string, unknown> }): Promise<unknown>;
};
type SourceBody = {
  id: string;
  name: string;
  kind: string;
  prefix: string;
  scopes: string[];
  tools: { name: string; upstreamName: string; requiredScopes: string[]; enabled: boolean }[];
  skipped: { name: string; reason: string }[];
  openapi: Record<string, unknown> | null;
  mcp: unknown;
};

const secret = () => `upstream-secret-${randomBytes(8).toString('hex')}`;
const textOf = (r: unknown) => (r as CallResult).content.map((c) => c.text ?? '').join('');
const names = async (c: Caller) => (await c.listTools()).tools.map((t) => t.name).sort();
const sourced = (all: string[], prefix: string) => all.filter((n) => n.startsWith(`${prefix}_`));
const call = async (c: Caller, name: string, args: Record<string, unknown> = {}) =>
  (await c.callTool({ name, arguments: args })) as CallResult;
/** The message of an error answer of the admin API. */
const messageOf = (res: { json: unknown }) => String((res.json as { message?: unknown }).message);
/** The requests the API got to its own routes (not the document, not the token endpoint). */
const apiCalls = (api: PetApi) =>
  api.requests.filter((r) => !r.path.startsWith('/openapi.') && r.path !== '/oauth/token');
const tokenRequests = (api: PetApi) =>
  api.requests.filter((r) => r.method === 'POST' && r.path === '/oauth/token');
const header = (r: PetApiRequest, name: string) => r.headers[name.toLowerCase()];

/** Every operation of the pet API, as the tool names (without the prefix) it becomes. */
const PET_TOOLS = [
  'bigPayload',
  'createPet',
  'deletePet',
  'failAlways',
  'getPet',
  'getPetNote',
  'listPets',
  'whoAmI',
];
const withPrefix = (prefix: string, tools: string[] = PET_TOOLS) =>
  tools.map((t) => `${prefix}_${t}`).sort();

describe('tool sources: OpenAPI services', () => {
  const p = usePlatform({ SOURCE_TIMEOUT: '5' });
  const admin = () => adminClient(p);
  const apis: PetApi[] = [];
  const modern: Awaited<ReturnType<typeof openModernClient>>[] = [];
  const petApi = async (opts?: Parameters<typeof startPetApi>[0]) => {
    const api = await startPetApi(opts);
    apis.push(api);
    return api;
  };
  afterAll(async () => {
    await Promise.all(modern.map((c) => c.close().catch(() => undefined)));
    await Promise.all(apis.map((a) => a.stop().catch(() => undefined)));
  });

  const addSource = async (slug: string, body: Record<string, unknown>) => {
    const res = await admin().request('POST', `/admin/tenants/${slug}/sources`, body);
    if (res.status !== 201) throw new Error(`create source: ${res.status} ${res.text}`);
    return res.json as SourceBody;
  };
  const getSource = async (slug: string, id: string) => {
    const res = await admin().request('GET', `/admin/tenants/${slug}/sources/${id}`);
    if (res.status !== 200) throw new Error(`get source: ${res.status} ${res.text}`);
    return res.json as SourceBody;
  };
  const patchSource = async (slug: string, id: string, body: Record<string, unknown>) => {
    const res = await admin().request('PATCH', `/admin/tenants/${slug}/sources/${id}`, body);
    if (res.status !== 200) throw new Error(`update source: ${res.status} ${res.text}`);
    return res.json as SourceBody;
  };
  const keyOf = async (slug: string, body: Record<string, unknown>) =>
    (await admin().createKey(slug, body)).secret;

  describe('an inline document, with an API key header as the credential', () => {
    let api: PetApi;
    let slug: string;
    let source: SourceBody;
    const apiKey = secret();

    beforeAll(async () => {
      api = await petApi({ apiKey });
      slug = (await admin().createTenant('oas')).slug;
      source = await addSource(slug, {
        name: 'pets',
        kind: 'openapi',
        document: api.document,
        baseUrl: api.url,
        credential: { header: 'X-Api-Key', value: apiKey },
        scopes: ['pets:use'],
      });
    });

    it('turns every operation into a tool under the prefix, with the source’s scopes', async () => {
      const view = await getSource(slug, source.id);

      expect(view.tools.map((t) => [t.name, t.upstreamName, t.requiredScopes, t.enabled])).toEqual(
        expect.arrayContaining(PET_TOOLS.map((t) => [`pets_${t}`, t, ['pets:use'], true] as const)),
      );
      expect(view.tools.map((t) => t.name).sort()).toEqual(withPrefix('pets'));
      expect(view.skipped).toEqual([]);
      expect(view).toMatchObject({ kind: 'openapi', prefix: 'pets', mcp: null });
      expect(view.openapi).toEqual({
        baseUrl: api.url,
        documentUrl: null,
        inlineDocument: true,
        operations: null,
        credential: { kind: 'header', header: 'X-Api-Key' },
      });
      // Reading an inline document reaches nothing.
      expect(api.requests).toEqual([]);
      const catalog = await admin().request('GET', `/admin/tenants/${slug}/tools`);
      expect((catalog.json as { items: { name: string; source: string | null }[] }).items).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ name: 'pets_getPet', source: 'pets' }),
          expect.objectContaining({ name: 'whoami', source: null }),
        ]),
      );
    });

    it('shows the tools only to a key with the scope, with input schemas made from the document', async () => {
      const without = await p.connect(slug, bearer(await keyOf(slug, {})));
      expect(sourced(await names(without), 'pets')).toEqual([]);

      const client = await p.connect(slug, bearer(await keyOf(slug, { scopes: ['pets:use'] })));
      const { tools } = await client.listTools();
      const byName = new Map(tools.map((t) => [t.name, t as ListedTool]));
      expect(sourced([...byName.keys()], 'pets').sort()).toEqual(withPrefix('pets'));
      expect(byName.get('pets_getPet')!.inputSchema).toMatchObject({
        type: 'object',
        properties: { petId: { type: 'integer', description: 'The id of the pet.' } },
        required: ['petId'],
        additionalProperties: false,
      });
      expect(byName.get('pets_listPets')!.inputSchema).toMatchObject({
        properties: { limit: { type: 'integer', minimum: 1 }, tag: { type: 'string' } },
      });
      expect(byName.get('pets_listPets')!.inputSchema.required).toBeUndefined();
      // The JSON request body is the `body` argument, with the (expanded) NewPet schema.
      expect(byName.get('pets_createPet')!.inputSchema).toMatchObject({
        type: 'object',
        properties: {
          body: {
            type: 'object',
            required: ['name'],
            properties: { name: { type: 'string' }, tag: { type: 'string' } },
          },
        },
        required: ['body'],
      });
      // The header parameter is an argument; the API key header, set by the platform, is not.
      expect(Object.keys(byName.get('pets_whoAmI')!.inputSchema.properties as object)).toEqual([
        'X-Trace-Id',
      ]);
      expect(byName.get('pets_getPet')!.annotations).toMatchObject({ readOnlyHint: true });
      expect(byName.get('pets_deletePet')!.annotations).toMatchObject({ destructiveHint: true });
    });

    it('calls an operation from a 2025 client: the answer as text and as structured content', async () => {
      const client = await p.connect(slug, bearer(await keyOf(slug, { scopes: ['pets:use'] })));

      const got = await call(client, 'pets_getPet', { petId: 1 });

      expect(got.isError).toBeFalsy();
      expect(got.structuredContent).toEqual({ id: 1, name: 'Rex', tag: 'dog' });
      expect(JSON.parse(textOf(got))).toEqual({ id: 1, name: 'Rex', tag: 'dog' });
      const seen = api.requests.at(-1)!;
      expect([seen.method, seen.path]).toEqual(['GET', '/pets/1']);
    });

    it('calls an operation from a 2026-07-28 client', async () => {
      const key = await keyOf(slug, { scopes: ['pets:use'] });
      const v2 = await openModernClient(p, slug, bearer(key));
      modern.push(v2);

      expect(sourced(await names(v2 as unknown as Caller), 'pets')).toEqual(withPrefix('pets'));
      const got = (await v2.callTool({
        name: 'pets_getPet',
        arguments: { petId: 2 },
      })) as CallResult;

      expect(got.isError).toBeFalsy();
      expect(got.structuredContent).toEqual({ id: 2, name: 'Tom', tag: 'cat' });
      expect(api.requests.at(-1)!.path).toBe('/pets/2');
    });

    it('sends query parameters, and wraps a JSON array answer as { result }', async () => {
      const client = await p.connect(slug, bearer(await keyOf(slug, { scopes: ['pets:use'] })));

      const got = await call(client, 'pets_listPets', { limit: 1, tag: 'cat' });

      expect(api.requests.at(-1)).toMatchObject({
        method: 'GET',
        path: '/pets',
        query: { limit: '1', tag: 'cat' },
      });
      expect(got.structuredContent).toEqual({ result: [{ id: 2, name: 'Tom', tag: 'cat' }] });
    });

    it('sends the body argument as JSON', async () => {
      const client = await p.connect(slug, bearer(await keyOf(slug, { scopes: ['pets:use'] })));

      const created = await call(client, 'pets_createPet', { body: { name: 'rex' } });

      expect(created.isError).toBeFalsy();
      expect(created.structuredContent).toMatchObject({ name: 'rex', id: expect.any(Number) });
      const seen = api.requests.at(-1)!;
      expect(seen).toMatchObject({ method: 'POST', path: '/pets', body: { name: 'rex' } });
      expect(header(seen, 'content-type')).toMatch(/^application\/json/);
      const id = created.structuredContent!.id as number;
      expect((await call(client, 'pets_getPet', { petId: id })).structuredContent).toEqual({
        id,
        name: 'rex',
      });
      // An empty 2xx answer says its status.
      const deleted = await call(client, 'pets_deletePet', { petId: id });
      expect(deleted.isError).toBeFalsy();
      expect(textOf(deleted)).toBe('204 No Content');
      expect(api.requests.at(-1)).toMatchObject({ method: 'DELETE', path: `/pets/${id}` });
      expect((await call(client, 'pets_getPet', { petId: id })).isError).toBe(true);
    });

    it('relays a text/plain answer as text only', async () => {
      const client = await p.connect(slug, bearer(await keyOf(slug, { scopes: ['pets:use'] })));

      const note = await call(client, 'pets_getPetNote', { petId: 1 });

      expect(note.isError).toBeFalsy();
      expect(textOf(note)).toBe('Rex is a good dog.');
      expect(note.structuredContent).toBeUndefined();
    });

    it('an API error answer is a tool error naming the status and quoting the API', async () => {
      const client = await p.connect(slug, bearer(await keyOf(slug, { scopes: ['pets:use'] })));

      const missing = await call(client, 'pets_getPet', { petId: 999 });
      expect(missing.isError).toBe(true);
      expect(textOf(missing)).toMatch(/^404 Not Found: .*no pet 999/);
      const failed = await call(client, 'pets_failAlways');
      expect(failed.isError).toBe(true);
      expect(textOf(failed)).toMatch(/^500 Internal Server Error: .*boom/);
      // The API's own failures do not pause the source: it still answers.
      expect((await call(client, 'pets_getPet', { petId: 1 })).isError).toBeFalsy();
    });

    it('an answer over 1 MiB is a tool error, not relayed', async () => {
      const client = await p.connect(slug, bearer(await keyOf(slug, { scopes: ['pets:use'] })));

      const big = await call(client, 'pets_bigPayload');

      expect(big.isError).toBe(true);
      expect(textOf(big)).toBe("the API's answer is larger than 1048576 bytes and was not relayed");
      expect(api.requests.at(-1)!.path).toBe('/big');
    });

    it('arguments that do not fit the schema are a tool error and never reach the API', async () => {
      const client = await p.connect(slug, bearer(await keyOf(slug, { scopes: ['pets:use'] })));
      const before = api.requests.length;

      const cases: [string, Record<string, unknown>][] = [
        ['pets_getPet', { petId: 'x' }],
        ['pets_getPet', {}],
        ['pets_getPet', { petId: 1, extra: true }],
        ['pets_listPets', { limit: 0 }],
        ['pets_createPet', { body: { tag: 'no name' } }],
        ['pets_createPet', {}],
        // Fits the schema, but would split the header: refused when the request is built.
        ['pets_whoAmI', { 'X-Trace-Id': 'a\r\nX-Injected: 1' }],
      ];
      for (const [name, args] of cases) {
        const bad = await call(client, name, args);
        expect([name, bad.isError, textOf(bad)]).toEqual([
          name,
          true,
          expect.stringMatching(new RegExp(`invalid arguments for ${name}`)),
        ]);
      }

      expect(api.requests.length).toBe(before);
    });

    it('the API sees the source’s credential, never the caller’s', async () => {
      const key = await keyOf(slug, { scopes: ['pets:use'] });
      const client = await p.connect(slug, bearer(key));

      const seen = await call(client, 'pets_whoAmI', { 'X-Trace-Id': 'trace-1' });

      expect(seen.structuredContent).toEqual({
        traceId: 'trace-1',
        authorization: null,
        apiKey,
      });
      const req = api.requests.at(-1)!;
      expect(header(req, 'x-api-key')).toBe(apiKey);
      expect(header(req, 'authorization')).toBeUndefined();
      expect(JSON.stringify(req.headers)).not.toContain(key);
      for (const r of api.requests) expect(JSON.stringify(r)).not.toContain(key);
    });

    it('audits an operation call under its catalog name, with the source', async () => {
      const key = await admin().createKey(slug, { scopes: ['pets:use'] });
      const client = await p.connect(slug, bearer(key.secret));
      await call(client, 'pets_getPet', { petId: 1 });

      const [event] = await waitForAudit(
        p,
        slug,
        (e) => e.tool === 'pets_getPet' && e.keyId === key.id,
      );
      expect(event).toMatchObject({
        action: 'tool.call',
        outcome: 'ok',
        detail: { source: 'pets' },
      });
    });
  });

  describe('a document URL (YAML), with OAuth client credentials', () => {
    let api: PetApi;
    let slug: string;
    let source: SourceBody;
    const clientSecret = secret();

    beforeAll(async () => {
      api = await petApi({ apiKey: secret(), clientId: 'platform', clientSecret });
      slug = (await admin().createTenant('oas')).slug;
      source = await addSource(slug, {
        name: 'oauth',
        kind: 'openapi',
        documentUrl: `${api.url}/openapi.yaml`,
        baseUrl: api.url,
        credential: { tokenUrl: `${api.url}/oauth/token`, clientId: 'platform', clientSecret },
      });
    });

    it('read the tools from the YAML document at the URL', () => {
      expect(source.tools.map((t) => t.name).sort()).toEqual(withPrefix('oauth'));
      expect(source.openapi).toEqual({
        baseUrl: api.url,
        documentUrl: `${api.url}/openapi.yaml`,
        inlineDocument: false,
        operations: null,
        credential: {
          kind: 'oauth',
          tokenUrl: `${api.url}/oauth/token`,
          clientId: 'platform',
          scope: null,
        },
      });
      // Saving read the document and tried the credential once.
      expect(api.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
        'GET /openapi.yaml',
        'POST /oauth/token',
      ]);
    });

    it('calls carry a bearer token from the token endpoint, fetched once and reused', async () => {
      const client = await p.connect(slug, bearer(await keyOf(slug, {})));

      const first = await call(client, 'oauth_whoAmI');
      const second = await call(client, 'oauth_whoAmI');
      const pet = await call(client, 'oauth_getPet', { petId: 1 });

      // The API only answers 200 to a token it issued.
      expect(first.isError).toBeFalsy();
      expect(pet.structuredContent).toEqual({ id: 1, name: 'Rex', tag: 'dog' });
      const token = first.structuredContent!.authorization as string;
      expect(token).toMatch(/^Bearer [A-Za-z0-9_-]{10,}$/);
      expect(second.structuredContent).toEqual({
        traceId: null,
        authorization: token,
        apiKey: null,
      });
      expect(header(api.requests.at(-1)!, 'authorization')).toBe(token);
      const grants = tokenRequests(api);
      expect(grants).toHaveLength(1);
      expect(grants[0].body).toEqual({ grant_type: 'client_credentials' });
      // The client authenticates with HTTP Basic (RFC 6749 §2.3.1).
      expect(header(grants[0], 'authorization')).toBe(
        `Basic ${Buffer.from(`platform:${clientSecret}`).toString('base64')}`,
      );
    });

    it('sends the configured scope with the token request, and a changed credential gets a new token', async () => {
      const client = await p.connect(slug, bearer(await keyOf(slug, {})));
      await call(client, 'oauth_whoAmI');
      const before = tokenRequests(api).length;

      await patchSource(slug, source.id, {
        credential: {
          tokenUrl: `${api.url}/oauth/token`,
          clientId: 'platform',
          clientSecret,
          scope: 'pets.read',
        },
      });
      const after = await call(client, 'oauth_whoAmI');

      expect(after.isError).toBeFalsy();
      const grants = tokenRequests(api);
      expect(grants).toHaveLength(before + 1);
      expect(grants.at(-1)!.body).toEqual({ grant_type: 'client_credentials', scope: 'pets.read' });
    });

    it('calls made at once by a fresh source reuse the token its save fetched: no request each', async () => {
      const fresh = (await admin().createTenant('oas')).slug;
      await addSource(fresh, {
        name: 'burst',
        kind: 'openapi',
        document: api.document,
        baseUrl: api.url,
        credential: { tokenUrl: `${api.url}/oauth/token`, clientId: 'platform', clientSecret },
      });
      const client = await p.connect(fresh, bearer(await keyOf(fresh, {})));
      const before = tokenRequests(api).length;

      const answers = await Promise.all(
        [1, 2, 1, 2, 1].map((petId) => call(client, 'burst_getPet', { petId })),
      );

      expect(answers.map((a) => a.structuredContent?.id)).toEqual([1, 2, 1, 2, 1]);
      expect(tokenRequests(api)).toHaveLength(before);
    });

    it('a wrong client secret is refused when the source is saved, naming the token endpoint’s 401', async () => {
      const bad = (await admin().createTenant('oas')).slug;
      const value = secret();
      const routesBefore = apiCalls(api).length;
      const res = await admin().request('POST', `/admin/tenants/${bad}/sources`, {
        name: 'badauth',
        kind: 'openapi',
        documentUrl: `${api.url}/openapi.json`,
        baseUrl: api.url,
        credential: {
          tokenUrl: `${api.url}/oauth/token`,
          clientId: 'platform',
          clientSecret: value,
        },
      });

      expect(res.status).toBe(400);
      expect((res.json as { message: string }).message).toBe(
        `credential: could not get a token from ${api.url}/oauth/token: it answered 401 (check clientId, clientSecret and scope); nothing was saved`,
      );
      expect(res.text).not.toContain(value);
      expect(apiCalls(api)).toHaveLength(routesBefore);
      const list = await admin().request('GET', `/admin/tenants/${bad}/sources`);
      expect((list.json as { items: unknown[] }).items).toEqual([]);
    });
  });

  describe('operation selection', () => {
    let api: PetApi;
    let slug: string;
    beforeAll(async () => {
      api = await petApi();
      slug = (await admin().createTenant('oas')).slug;
    });
    const base = () => ({ kind: 'openapi', document: api.document, baseUrl: api.url });

    it('by tag exposes only the operations with that tag', async () => {
      const source = await addSource(slug, {
        ...base(),
        name: 'dbg',
        operations: { tags: ['debug'] },
      });

      expect(source.tools.map((t) => t.name).sort()).toEqual(
        withPrefix('dbg', ['bigPayload', 'failAlways', 'whoAmI']),
      );
      expect(source.openapi!.operations).toEqual({ tags: ['debug'] });
      const client = await p.connect(slug, bearer(await keyOf(slug, {})));
      expect(sourced(await names(client), 'dbg')).toEqual(
        withPrefix('dbg', ['bigPayload', 'failAlways', 'whoAmI']),
      );
    });

    it('tags and operationIds together select the union', async () => {
      const source = await addSource(slug, {
        ...base(),
        name: 'mix',
        operations: { tags: ['admin'], operationIds: ['getPet'] },
      });

      expect(source.tools.map((t) => t.name).sort()).toEqual(
        withPrefix('mix', ['deletePet', 'getPet']),
      );
    });

    it('an unknown operationId or tag is a 400 naming it and what the document has', async () => {
      const ids = await admin().request('POST', `/admin/tenants/${slug}/sources`, {
        ...base(),
        name: 'nope',
        operations: { operationIds: ['getPet', 'nope'] },
      });
      expect(ids.status).toBe(400);
      expect(messageOf(ids)).toMatch(/operationIds: unknown nope \(known: listPets, createPet,/);
      for (const id of PET_TOOLS) expect(messageOf(ids)).toContain(id);
      // getPet is known: only nope is named as unknown.
      expect(messageOf(ids)).toMatch(/unknown nope \(/);

      const tags = await admin().request('POST', `/admin/tenants/${slug}/sources`, {
        ...base(),
        name: 'nope',
        operations: { tags: ['cats'] },
      });
      expect(tags.status).toBe(400);
      expect(messageOf(tags)).toMatch(/tags: unknown cats \(known: pets, admin, debug\)/);
      const list = await admin().request('GET', `/admin/tenants/${slug}/sources`);
      expect((list.json as { items: { name: string }[] }).items.map((s) => s.name)).not.toContain(
        'nope',
      );
    });
  });

  describe('scopes per tool, key allow-lists and the tenant’s switch', () => {
    let api: PetApi;
    let slug: string;
    beforeAll(async () => {
      api = await petApi();
      slug = (await admin().createTenant('oas')).slug;
      await addSource(slug, {
        name: 'shop',
        kind: 'openapi',
        document: api.document,
        baseUrl: api.url,
        scopes: ['shop:read'],
        toolScopes: { createPet: ['shop:write'], deletePet: ['shop:admin'] },
      });
    });

    it('a key sees the tools whose scopes it has', async () => {
      const reader = await p.connect(slug, bearer(await keyOf(slug, { scopes: ['shop:read'] })));
      expect(sourced(await names(reader), 'shop')).toEqual(
        withPrefix(
          'shop',
          PET_TOOLS.filter((t) => t !== 'createPet' && t !== 'deletePet'),
        ),
      );
      // toolScopes replace the source's scopes for that tool.
      const writer = await p.connect(slug, bearer(await keyOf(slug, { scopes: ['shop:write'] })));
      expect(sourced(await names(writer), 'shop')).toEqual(['shop_createPet']);
    });

    it('a scope shortfall is a 403 step-up challenge and the API is not called', async () => {
      const key = await keyOf(slug, { scopes: ['shop:read'] });
      const before = api.requests.length;

      const res = await rawCall(p, slug, 'shop_deletePet', { petId: 1 }, bearer(key));

      expect(res.status).toBe(403);
      expect(res.headers.get('www-authenticate')).toMatch(/insufficient_scope.*scope="shop:admin"/);
      expect(api.requests).toHaveLength(before);
    });

    it('an allow-list shows only the tools it names', async () => {
      const key = await keyOf(slug, {
        scopes: ['shop:read', 'shop:admin'],
        tools: ['shop_getPet', 'shop_deletePet'],
      });
      const client = await p.connect(slug, bearer(key));

      expect(await names(client)).toEqual(['shop_deletePet', 'shop_getPet']);
      const session = await rawInitialize(p, slug, bearer(key));
      const before = api.requests.length;
      const refused = await rawCall(p, slug, 'shop_listPets', {}, session.headers);
      expect(refused.status).toBe(200);
      expect(refused.text).toMatch(/unknown tool|not found/i);
      expect(api.requests).toHaveLength(before);
    });

    it('a tool the tenant switches off leaves an open session’s list, and comes back', async () => {
      const client = await p.connect(slug, bearer(await keyOf(slug, { scopes: ['shop:read'] })));
      expect(await names(client)).toContain('shop_getPet');

      const off = await admin().request('PUT', `/admin/tenants/${slug}/tools/shop_getPet`, {
        enabled: false,
      });
      expect(off.status).toBe(200);
      const listed = await names(client);
      expect(listed).not.toContain('shop_getPet');
      expect(listed).toContain('shop_listPets');
      const view = (await admin().request('GET', `/admin/tenants/${slug}/sources`)).json as {
        items: SourceBody[];
      };
      expect(view.items[0].tools.find((t) => t.name === 'shop_getPet')!.enabled).toBe(false);
      const before = api.requests.length;
      const session = await rawInitialize(
        p,
        slug,
        bearer(await keyOf(slug, { scopes: ['shop:read'] })),
      );
      const refused = await rawCall(p, slug, 'shop_getPet', { petId: 1 }, session.headers);
      expect(refused.text).toMatch(/unknown tool|not found|disabled/i);
      expect(api.requests).toHaveLength(before);

      await admin().request('PUT', `/admin/tenants/${slug}/tools/shop_getPet`, { enabled: true });
      expect(await names(client)).toContain('shop_getPet');
    });
  });

  describe('documents that cannot be used', () => {
    let api: PetApi;
    let slug: string;
    beforeAll(async () => {
      api = await petApi();
      slug = (await admin().createTenant('oas')).slug;
    });
    const post = (body: Record<string, unknown>) =>
      admin().request('POST', `/admin/tenants/${slug}/sources`, {
        name: 'bad',
        kind: 'openapi',
        baseUrl: api.url,
        ...body,
      });
    const withPetSchema = (schema: unknown) => {
      const doc = JSON.parse(JSON.stringify(api.document)) as {
        components: { schemas: Record<string, unknown> };
      };
      doc.components.schemas.Pet = schema;
      return doc;
    };

    it('are refused with a 400 that says what to fix, and nothing is saved', async () => {
      const closedPort = await freePort();
      const cases: [Record<string, unknown>, number, RegExp][] = [
        [
          { document: { hello: 'world' } },
          400,
          /^invalid OpenAPI document: not an OpenAPI 3\.x document: it has no "openapi" version field$/,
        ],
        [
          { document: { swagger: '2.0', info: { title: 'x', version: '1' }, paths: {} } },
          400,
          /Swagger 2\.0 is not supported; convert it to OpenAPI 3\.x first/,
        ],
        [
          { document: { openapi: '2.5.0', info: { title: 'x', version: '1' }, paths: {} } },
          400,
          /version "2\.5\.0" is not supported \(3\.0\.x and 3\.1\.x are\)/,
        ],
        [
          { document: withPetSchema({ $ref: 'https://example.com/pet.json' }) },
          400,
          /components\.schemas\.Pet: \$ref "https:\/\/example\.com\/pet\.json" points outside the document; .*inline or bundle/,
        ],
        [
          { document: withPetSchema({ $ref: './pet.yaml#/Pet' }) },
          400,
          /\$ref "\.\/pet\.yaml#\/Pet" points outside the document/,
        ],
        [
          { document: withPetSchema({ $ref: '#/components/schemas/Nope' }) },
          400,
          /components\.schemas\.Pet: \$ref "#\/components\/schemas\/Nope" does not resolve/,
        ],
        [{ document: 'openapi: [3.1' }, 400, /document: not valid YAML/],
        [{ document: '{"openapi": ' }, 400, /document: not valid JSON/],
        [
          { document: { openapi: '3.1.0', paths: {} } },
          400,
          /invalid OpenAPI document: document: .*missing property info/,
        ],
        [
          { document: api.document, documentUrl: api.documentUrl },
          400,
          /send either document or documentUrl/,
        ],
        [{}, 400, /send either document or documentUrl/],
        [{ document: api.document, baseUrl: 'ftp://example.com/' }, 400, /baseUrl must be an http/],
        [
          { document: api.document, credential: { header: 'X-Api-Key' } },
          400,
          /^invalid request body: credential: credential must be \{header, value\} or \{tokenUrl/,
        ],
        [
          { document: api.document, toolScopes: { nope: ['a:b'] } },
          400,
          /toolScopes: unknown tool nope \(the source has: listPets, createPet/,
        ],
        [
          { documentUrl: `${api.url}/nope.json` },
          502,
          /^could not fetch http:\/\/127\.0\.0\.1:\d+\/nope\.json: it answered 404; nothing was saved$/,
        ],
        // Valid JSON, but not a document: the API's own pet list.
        [
          { documentUrl: `${api.url}/pets` },
          400,
          /^invalid OpenAPI document: not an OpenAPI 3\.x document: it is not a JSON object$/,
        ],
        [
          { documentUrl: `http://127.0.0.1:${closedPort}/openapi.json` },
          502,
          new RegExp(
            `^could not fetch http://127\\.0\\.0\\.1:${closedPort}/openapi\\.json: connection refused; nothing was saved$`,
          ),
        ],
      ];
      for (const [body, status, message] of cases) {
        const res = await post(body);
        expect([JSON.stringify(body).slice(0, 80), res.status, messageOf(res)]).toEqual([
          JSON.stringify(body).slice(0, 80),
          status,
          expect.stringMatching(message),
        ]);
      }
      const list = await admin().request('GET', `/admin/tenants/${slug}/sources`);
      expect((list.json as { items: unknown[] }).items).toEqual([]);
    });

    it('an operation that cannot be a tool is skipped with the reason, the others kept', async () => {
      const doc = JSON.parse(JSON.stringify(api.document)) as {
        paths: Record<string, Record<string, unknown>>;
      };
      doc.paths['/upload'] = {
        post: {
          operationId: 'upload',
          requestBody: {
            required: true,
            content: { 'application/octet-stream': { schema: { type: 'string' } } },
          },
          responses: { '204': { description: 'ok' } },
        },
      };

      const source = await addSource(slug, {
        name: 'skips',
        kind: 'openapi',
        document: doc,
        baseUrl: api.url,
      });

      expect(source.tools.map((t) => t.name).sort()).toEqual(withPrefix('skips'));
      expect(source.skipped).toEqual([
        {
          name: 'upload',
          reason: expect.stringMatching(/application\/octet-stream is not supported/),
        },
      ]);
    });

    it('takes the document as JSON text and as YAML text too', async () => {
      const json = await addSource(slug, {
        name: 'jsontext',
        kind: 'openapi',
        document: JSON.stringify(api.document),
        baseUrl: api.url,
      });
      const yaml = await addSource(slug, {
        name: 'yamltext',
        kind: 'openapi',
        document: api.yaml,
        baseUrl: api.url,
      });

      expect(json.tools.map((t) => t.upstreamName).sort()).toEqual(PET_TOOLS);
      expect(yaml.tools.map((t) => t.upstreamName).sort()).toEqual(PET_TOOLS);
      const client = await p.connect(slug, bearer(await keyOf(slug, {})));
      expect((await call(client, 'yamltext_getPet', { petId: 2 })).structuredContent).toMatchObject(
        { name: 'Tom' },
      );
    });
  });

  it('never writes the API’s credentials to an admin answer, an audit event or the log', async () => {
    const apiKey = secret();
    const clientSecret = secret();
    const api = await petApi({ apiKey, clientSecret });
    const { slug } = await admin().createTenant('oas');
    const keyed = await admin().request('POST', `/admin/tenants/${slug}/sources`, {
      name: 'keyed',
      kind: 'openapi',
      document: api.document,
      baseUrl: api.url,
      credential: { header: 'X-Api-Key', value: apiKey },
    });
    const oauth = await admin().request('POST', `/admin/tenants/${slug}/sources`, {
      name: 'oauthed',
      kind: 'openapi',
      documentUrl: api.documentUrl,
      baseUrl: api.url,
      credential: { tokenUrl: `${api.url}/oauth/token`, clientId: 'pet-client', clientSecret },
    });
    expect([keyed.status, oauth.status]).toEqual([201, 201]);
    const client = await p.connect(slug, bearer(await keyOf(slug, {})));
    expect((await call(client, 'keyed_whoAmI')).isError).toBeFalsy();
    expect((await call(client, 'oauthed_whoAmI')).isError).toBeFalsy();
    const keyedId = (keyed.json as { id: string }).id;
    const oauthId = (oauth.json as { id: string }).id;
    const patched = await admin().request('PATCH', `/admin/tenants/${slug}/sources/${keyedId}`, {
      credential: { header: 'X-Api-Key', value: apiKey },
      scopes: ['keyed:use'],
    });
    expect(patched.status).toBe(200);
    const refreshed = await admin().request(
      'POST',
      `/admin/tenants/${slug}/sources/${oauthId}/refresh`,
    );
    expect(refreshed.status).toBe(200);
    // A refused credential's error must not carry it either.
    const failing = await admin().request('POST', `/admin/tenants/${slug}/sources`, {
      name: 'failing',
      kind: 'openapi',
      document: api.document,
      baseUrl: api.url,
      credential: {
        tokenUrl: `${api.url}/oauth/token`,
        clientId: 'pet-client',
        clientSecret: apiKey,
      },
    });
    expect(failing.status).toBe(400);
    await waitForAudit(p, slug, (e) => e.action === 'source.refresh');

    const answers = [
      keyed.text,
      oauth.text,
      patched.text,
      refreshed.text,
      failing.text,
      (await admin().request('GET', `/admin/tenants/${slug}/sources`)).text,
      (await admin().request('GET', `/admin/tenants/${slug}/sources/${keyedId}`)).text,
      (await admin().request('GET', `/admin/tenants/${slug}/sources/${oauthId}`)).text,
      (await admin().request('GET', `/admin/tenants/${slug}/tools`)).text,
      (await admin().request('GET', `/admin/tenants/${slug}/audit?limit=200`)).text,
    ];
    for (const text of answers) {
      expect(text).not.toContain(apiKey);
      expect(text).not.toContain(clientSecret);
    }
    expect(p.config.logFile).toBeDefined();
    await sleep(300);
    const log = await readFile(p.config.logFile!, 'utf8');
    // The log is written: the calls above are in it.
    expect(log).toContain(slug);
    expect(log).not.toContain(apiKey);
    expect(log).not.toContain(clientSecret);
  });

  describe('changing a source', () => {
    let api: PetApi;
    let slug: string;
    const apiKey = secret();
    beforeAll(async () => {
      api = await petApi({ apiKey });
      slug = (await admin().createTenant('oas')).slug;
    });

    it('a new credential is used by the next call; credential: null removes it', async () => {
      const wrong = secret();
      const source = await addSource(slug, {
        name: 'cred',
        kind: 'openapi',
        document: api.document,
        baseUrl: api.url,
        credential: { header: 'X-Api-Key', value: wrong },
      });
      const client = await p.connect(slug, bearer(await keyOf(slug, {})));

      const refused = await call(client, 'cred_whoAmI');
      expect(refused.isError).toBe(true);
      expect(textOf(refused)).toMatch(/^401 Unauthorized/);
      expect(header(api.requests.at(-1)!, 'x-api-key')).toBe(wrong);

      const fixed = await patchSource(slug, source.id, {
        credential: { header: 'X-Api-Key', value: apiKey },
      });
      expect(fixed.openapi!.credential).toEqual({ kind: 'header', header: 'X-Api-Key' });
      const ok = await call(client, 'cred_whoAmI');
      expect(ok.structuredContent).toEqual({ traceId: null, authorization: null, apiKey });

      // Another change leaves the credential as it is.
      await patchSource(slug, source.id, { scopes: [] });
      expect((await call(client, 'cred_whoAmI')).structuredContent).toMatchObject({ apiKey });

      const removed = await patchSource(slug, source.id, { credential: null });
      expect(removed.openapi!.credential).toBeNull();
      const anonymous = await call(client, 'cred_whoAmI');
      expect(anonymous.isError).toBe(true);
      expect(textOf(anonymous)).toMatch(/^401 Unauthorized: .*missing or bad api key/);
      expect(header(api.requests.at(-1)!, 'x-api-key')).toBeUndefined();
    });

    it('a header parameter named like the credential’s header is not the caller’s to set', async () => {
      // A document that declares the key as a plain header parameter, not as a security scheme.
      const doc = JSON.parse(JSON.stringify(api.document)) as {
        paths: Record<string, { get: { parameters: unknown[] } }>;
        components: Record<string, unknown>;
      };
      delete doc.components.securitySchemes;
      delete (doc as Record<string, unknown>).security;
      doc.paths['/whoami'].get.parameters.push({
        name: 'x-api-key',
        in: 'header',
        required: false,
        schema: { type: 'string' },
      });
      await addSource(slug, {
        name: 'clash',
        kind: 'openapi',
        document: doc,
        baseUrl: api.url,
        credential: { header: 'X-Api-Key', value: apiKey },
      });
      const client = await p.connect(slug, bearer(await keyOf(slug, {})));
      const whoAmI = (await client.listTools()).tools.find((t) => t.name === 'clash_whoAmI')!;

      expect(Object.keys(whoAmI.inputSchema.properties as object)).toEqual(['X-Trace-Id']);
      const sent = await call(client, 'clash_whoAmI', { 'x-api-key': 'chosen-by-caller' });
      expect(sent.isError).toBe(true);
      expect(textOf(sent)).toMatch(/invalid arguments for clash_whoAmI/);
      const ok = await call(client, 'clash_whoAmI');
      expect(ok.structuredContent).toMatchObject({ apiKey });
      for (const r of api.requests) expect(JSON.stringify(r)).not.toContain('chosen-by-caller');
    });

    it('a new baseUrl sends the calls there', async () => {
      const other = await petApi();
      const source = await addSource(slug, {
        name: 'moved',
        kind: 'openapi',
        document: api.document,
        baseUrl: api.url,
        credential: { header: 'X-Api-Key', value: apiKey },
      });
      const client = await p.connect(slug, bearer(await keyOf(slug, {})));
      await patchSource(slug, source.id, { baseUrl: other.url });

      const got = await call(client, 'moved_getPet', { petId: 1 });

      expect(got.structuredContent).toMatchObject({ id: 1 });
      expect(other.requests.map((r) => r.path)).toEqual(['/pets/1']);
    });

    it('refresh reads the document URL again and brings the new operations', async () => {
      const live = await petApi();
      const source = await addSource(slug, {
        name: 'live',
        kind: 'openapi',
        documentUrl: live.documentUrl,
        baseUrl: live.url,
      });
      expect(source.tools.map((t) => t.upstreamName).sort()).toEqual(PET_TOOLS);
      const same = await admin().request(
        'POST',
        `/admin/tenants/${slug}/sources/${source.id}/refresh`,
      );
      expect(same.status).toBe(200);
      expect((same.json as SourceBody).tools.map((t) => t.upstreamName).sort()).toEqual(PET_TOOLS);
      const reads = () => live.requests.filter((r) => r.path === '/openapi.json').length;
      expect(reads()).toBe(2);

      // The fixture serves its document object as it is at the time of the request.
      const paths = live.document.paths as Record<string, unknown>;
      const getPet = (paths['/pets/{petId}'] as { get: Record<string, unknown> }).get;
      paths['/pets/{petId}/again'] = {
        get: { ...JSON.parse(JSON.stringify(getPet)), operationId: 'getPetAgain' },
      };
      const client = await p.connect(slug, bearer(await keyOf(slug, {})));
      expect(await names(client)).not.toContain('live_getPetAgain');
      const grown = await admin().request(
        'POST',
        `/admin/tenants/${slug}/sources/${source.id}/refresh`,
      );

      expect(grown.status).toBe(200);
      expect((grown.json as SourceBody).tools.map((t) => t.name)).toContain('live_getPetAgain');
      expect(reads()).toBe(3);
      expect(await names(client)).toContain('live_getPetAgain');
    });

    it('a refresh whose document URL fails keeps the tools and says why', async () => {
      const gone = await petApi();
      const source = await addSource(slug, {
        name: 'gone',
        kind: 'openapi',
        documentUrl: gone.documentUrl,
        baseUrl: gone.url,
      });
      await gone.stop();

      const res = await admin().request(
        'POST',
        `/admin/tenants/${slug}/sources/${source.id}/refresh`,
      );

      expect(res.status).toBe(502);
      expect(messageOf(res)).toMatch(/could not fetch .*openapi\.json: connection refused/);
      const view = await getSource(slug, source.id);
      expect(view.tools.map((t) => t.upstreamName).sort()).toEqual(PET_TOOLS);
      expect((view as unknown as { health: { lastError: string } }).health.lastError).toMatch(
        /connection refused/,
      );
    });
  });

  it('keeps tenants apart: another tenant neither sees, reaches nor manages a source', async () => {
    const api = await petApi();
    const a = await admin().createTenant('oas');
    const b = await admin().createTenant('oas');
    const source = await addSource(a.slug, {
      name: 'mine',
      kind: 'openapi',
      document: api.document,
      baseUrl: api.url,
    });
    const bKey = await keyOf(b.slug, {});

    const client = await p.connect(b.slug, bearer(bKey));
    expect(sourced(await names(client), 'mine')).toEqual([]);
    const session = await rawInitialize(p, b.slug, bearer(bKey));
    const refused = await rawCall(p, b.slug, 'mine_getPet', { petId: 1 }, session.headers);
    expect(refused.text).toMatch(/unknown tool|not found/i);
    const path = `/admin/tenants/${b.slug}/sources/${source.id}`;
    expect((await admin().request('GET', path)).status).toBe(404);
    expect((await admin().request('PATCH', path, { enabled: false })).status).toBe(404);
    expect((await admin().request('POST', `${path}/refresh`)).status).toBe(404);
    expect((await admin().request('DELETE', path)).status).toBe(404);
    const bList = await admin().request('GET', `/admin/tenants/${b.slug}/sources`);
    expect((bList.json as { items: unknown[] }).items).toEqual([]);
    // b's tenant admin key cannot reach a's sources either.
    const bAdmin = bearer(await keyOf(b.slug, { scopes: ['tenant:admin'] }));
    expect(
      (
        await admin().request(
          'GET',
          `/admin/tenants/${a.slug}/sources/${source.id}`,
          undefined,
          bAdmin,
        )
      ).status,
    ).toBe(403);
    expect(api.requests).toEqual([]);
    // Still there and working for its own tenant.
    const aClient = await p.connect(a.slug, bearer(await keyOf(a.slug, {})));
    expect((await call(aClient, 'mine_getPet', { petId: 1 })).structuredContent).toMatchObject({
      id: 1,
    });
  });
});
