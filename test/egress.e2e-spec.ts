import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { adminClient, bearer } from './support/admin';
import { freePort } from './support/http';
import { type PetApi, startPetApi } from './support/pet-api';
import { usePlatform } from './support/platform';
import { startUpstreamMcp, type UpstreamMcp } from './support/upstream-mcp';

type CallResult = { content: { type: string; text?: string }[]; isError?: boolean };
const textOf = (r: unknown) => (r as CallResult).content.map((c) => c.text ?? '').join('');
/** The message of an error answer of the admin API. */
const messageOf = (res: { json: unknown }) => String((res.json as { message?: unknown }).message);
const HINT = 'the operator can allow such ranges with EGRESS_ALLOW';

interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

/** A plain HTTP server on `host` that records every request and answers with `handle`. */
async function listen(
  host: string,
  handle: (path: string) => Answer,
): Promise<{ url: string; port: number; paths: string[]; server: Server }> {
  const paths: string[] = [];
  const server = createServer((req, res) => {
    paths.push(req.url ?? '/');
    const answer = handle(req.url ?? '/');
    res.writeHead(answer.status, answer.headers).end(answer.body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return { url: `http://${host}:${port}`, port, paths, server };
}
const close = (s: Server) =>
  new Promise<void>((resolve) => {
    s.close(() => resolve());
    s.closeAllConnections();
  });

/** A minimal OpenAPI document with one GET operation at `path`. */
const oneOperation = (baseUrl: string, path = '/go') => ({
  openapi: '3.1.0',
  info: { title: 'one', version: '1' },
  servers: [{ url: baseUrl }],
  paths: {
    [path]: { get: { operationId: 'go', responses: { '200': { description: 'ok' } } } },
  },
});

describe('egress: the strict policy (EGRESS_ALLOW empty)', () => {
  const p = usePlatform({ EGRESS_ALLOW: '' });
  const admin = () => adminClient(p);
  let upstream: UpstreamMcp;
  let api: PetApi;
  let slug: string;
  beforeAll(async () => {
    upstream = await startUpstreamMcp('stateless-2025');
    api = await startPetApi();
    slug = (await admin().createTenant('egress')).slug;
  });
  afterAll(async () => {
    await upstream?.stop();
    await api?.stop();
  });
  const post = (body: Record<string, unknown>) =>
    admin().request('POST', `/admin/tenants/${slug}/sources`, body);
  const mcpSource = (url: string) => post({ name: 'up', kind: 'mcp', url });

  it('allows nothing beyond global unicast', () => {
    expect(p.config.egressAllow).toEqual([]);
  });

  it('refuses an MCP source on loopback before connecting, whether or not something listens', async () => {
    const closed = await freePort();

    const running = await mcpSource(upstream.url);
    const nothing = await mcpSource(`http://127.0.0.1:${closed}/mcp`);

    expect(running.status).toBe(400);
    expect(messageOf(running)).toBe(
      `url: ${upstream.url} is not allowed: its host resolves to 127.0.0.1, a loopback address; ${HINT}`,
    );
    expect(nothing.status).toBe(400);
    // Nothing tells a listening port from a closed one.
    expect(messageOf(nothing).replace(`:${closed}/`, ':PORT/')).toBe(
      messageOf(running).replace(`:${upstream.port}/`, ':PORT/'),
    );
    expect(upstream.requests).toEqual([]);
    expect(upstream.calls).toEqual([]);
  });

  it('refuses every loopback, private, link-local, metadata and reserved address, however written', async () => {
    const port = upstream.port;
    const cases: [string, RegExp][] = [
      [
        `http://localhost:${port}/mcp`,
        /its host resolves to (127\.0\.0\.1|::1), a loopback address/,
      ],
      [`http://127.1:${port}/mcp`, /127\.0\.0\.1, a loopback address/],
      [`http://2130706433:${port}/mcp`, /127\.0\.0\.1, a loopback address/],
      [`http://0x7f.0.0.1:${port}/mcp`, /127\.0\.0\.1, a loopback address/],
      [`http://127.42.0.9:${port}/mcp`, /127\.42\.0\.9, a loopback address/],
      [`http://[::1]:${port}/mcp`, /::1, a loopback address/],
      [`http://[::ffff:127.0.0.1]:${port}/mcp`, /a loopback address/],
      ['http://169.254.169.254/latest/meta-data/', /169\.254\.169\.254, a link-local address/],
      ['http://[fd00:ec2::254]/latest/meta-data/', /a unique-local address/],
      ['http://10.0.0.1/', /10\.0\.0\.1, a private address/],
      ['http://172.16.5.4/mcp', /a private address/],
      ['http://192.168.1.1/mcp', /a private address/],
      ['http://100.64.0.1/mcp', /a carrier-grade NAT address/],
      [`http://0.0.0.0:${port}/mcp`, /0\.0\.0\.0, an unspecified address/],
      ['http://[::]/mcp', /an unspecified address/],
      ['http://[fe80::1]/mcp', /a link-local address/],
      ['https://203.0.113.7/mcp', /203\.0\.113\.7, a documentation address/],
      ['http://224.0.0.1/mcp', /a multicast address/],
    ];
    for (const [url, why] of cases) {
      const res = await mcpSource(url);
      expect([url, res.status, messageOf(res)]).toEqual([url, 400, expect.stringMatching(why)]);
      expect(messageOf(res)).toContain(HINT);
      expect(messageOf(res)).toContain(' is not allowed: ');
    }
    expect(upstream.requests).toEqual([]);
    const list = await admin().request('GET', `/admin/tenants/${slug}/sources`);
    expect((list.json as { items: unknown[] }).items).toEqual([]);
  });

  it('checks every URL of an OpenAPI source: base, document and token endpoint', async () => {
    // A public address literal: checked without DNS, and never connected to here.
    const publicBase = 'https://1.1.1.1/v1';
    const before = api.requests.length;
    const doc = oneOperation(publicBase);

    const cases: [Record<string, unknown>, string][] = [
      [{ documentUrl: api.documentUrl, baseUrl: publicBase }, `documentUrl: ${api.documentUrl}`],
      [{ document: doc, baseUrl: api.url }, `baseUrl: ${api.url}/`],
      [
        {
          document: doc,
          baseUrl: publicBase,
          credential: { tokenUrl: `${api.url}/oauth/token`, clientId: 'c', clientSecret: 's' },
        },
        `credential.tokenUrl: ${api.url}/oauth/token`,
      ],
    ];
    for (const [body, refusedUrl] of cases) {
      const res = await post({ name: 'oas', kind: 'openapi', ...body });
      expect([res.status, messageOf(res)]).toEqual([
        400,
        `${refusedUrl} is not allowed: its host resolves to 127.0.0.1, a loopback address; ${HINT}`,
      ]);
    }
    expect(api.requests).toHaveLength(before);
  });

  it('refuses a change of an OpenAPI source to a loopback URL, and keeps the source as it was', async () => {
    const created = await post({
      name: 'public',
      kind: 'openapi',
      document: oneOperation('https://1.1.1.1/'),
      baseUrl: 'https://1.1.1.1/',
    });
    expect(created.status).toBe(201);
    const id = (created.json as { id: string }).id;
    const path = `/admin/tenants/${slug}/sources/${id}`;

    const changes: Record<string, unknown>[] = [
      { baseUrl: api.url },
      { documentUrl: api.documentUrl },
      { credential: { tokenUrl: `${api.url}/oauth/token`, clientId: 'c', clientSecret: 's' } },
    ];
    for (const change of changes) {
      const res = await admin().request('PATCH', path, change);
      expect([res.status, messageOf(res)]).toEqual([
        400,
        expect.stringMatching(/127\.0\.0\.1, a loopback address; .*EGRESS_ALLOW/),
      ]);
    }
    const view = (await admin().request('GET', path)).json as { openapi: Record<string, unknown> };
    expect(view.openapi).toMatchObject({
      baseUrl: 'https://1.1.1.1/',
      documentUrl: null,
      credential: null,
    });
    expect(api.requests).toEqual([]);
  });

  it('refuses a tenant JWT issuer whose jwksUri the policy refuses, naming the field', async () => {
    const cases = [
      `http://127.0.0.1:${upstream.port}/jwks`,
      'http://localhost/jwks',
      'https://10.1.2.3/.well-known/jwks.json',
      'https://169.254.169.254/jwks',
    ];
    for (const jwksUri of cases) {
      const res = await admin().request('PUT', `/admin/tenants/${slug}/auth`, {
        jwt: { issuer: 'https://idp.example.com/', jwksUri },
      });
      expect([jwksUri, res.status, messageOf(res)]).toEqual([
        jwksUri,
        400,
        expect.stringMatching(/^jwt\.jwksUri: .* is not allowed: .*address.*EGRESS_ALLOW/),
      ]);
    }
    const auth = await admin().request('GET', `/admin/tenants/${slug}/auth`);
    expect((auth.json as { jwt: unknown }).jwt).toBeNull();
  });

  it('accepts a jwksUri whose host does not resolve yet: it is checked again when fetched', async () => {
    const { slug: other } = await admin().createTenant('egress');
    const jwt = {
      issuer: 'https://idp.example.invalid/',
      jwksUri: 'https://idp.example.invalid/jwks',
    };
    const res = await admin().request('PUT', `/admin/tenants/${other}/auth`, { jwt });

    expect([res.status, res.json]).toEqual([200, { jwt }]);
  });
});

describe('egress: EGRESS_ALLOW=127.0.0.1/32', () => {
  const p = usePlatform({ EGRESS_ALLOW: '127.0.0.1/32' });
  const admin = () => adminClient(p);
  let upstream: UpstreamMcp;
  let api: PetApi;
  /** Outside 127.0.0.1/32 but on this machine: a connection to it would be seen. */
  let elsewhere: Awaited<ReturnType<typeof listen>>;
  let redirector: Awaited<ReturnType<typeof listen>>;
  beforeAll(async () => {
    upstream = await startUpstreamMcp('stateless-2025');
    api = await startPetApi();
    elsewhere = await listen('127.0.0.2', () => ({
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(oneOperation('http://127.0.0.2/')),
    }));
    redirector = await listen('127.0.0.1', (path): Answer =>
      path === '/openapi.json'
        ? {
            status: 200,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(oneOperation(redirector.url)),
          }
        : { status: 302, headers: { location: `${elsewhere.url}/openapi.json` } },
    );
  });
  afterAll(async () => {
    await upstream?.stop();
    await api?.stop();
    if (elsewhere) await close(elsewhere.server);
    if (redirector) await close(redirector.server);
  });

  it('allows exactly that address', () => {
    expect(p.config.egressAllow).toEqual(['127.0.0.1/32']);
  });

  it('registers and calls an MCP source on 127.0.0.1', async () => {
    const { slug } = await admin().createTenant('egress');
    const res = await admin().request('POST', `/admin/tenants/${slug}/sources`, {
      name: 'local',
      kind: 'mcp',
      url: upstream.url,
    });
    expect(res.status).toBe(201);
    const client = await p.connect(slug, bearer((await admin().createKey(slug)).secret));

    const echoed = await client.callTool({ name: 'local_echo', arguments: { text: 'allowed' } });

    expect(textOf(echoed)).toBe('echo: allowed');
    expect(upstream.calls.map((c) => c.tool)).toEqual(['echo']);
  });

  it('registers and calls an OpenAPI source on 127.0.0.1, OAuth token included', async () => {
    const { slug } = await admin().createTenant('egress');
    const res = await admin().request('POST', `/admin/tenants/${slug}/sources`, {
      name: 'pets',
      kind: 'openapi',
      documentUrl: api.documentUrl,
      baseUrl: api.url,
      credential: {
        tokenUrl: `${api.url}/oauth/token`,
        clientId: 'pet-client',
        clientSecret: 'pet-secret',
      },
    });
    expect([res.status, res.text]).toEqual([201, expect.any(String)]);
    const client = await p.connect(slug, bearer((await admin().createKey(slug)).secret));

    const pet = (await client.callTool({ name: 'pets_getPet', arguments: { petId: 1 } })) as {
      structuredContent?: unknown;
    };

    expect(pet.structuredContent).toEqual({ id: 1, name: 'Rex', tag: 'dog' });
    expect(api.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /openapi.json',
      'POST /oauth/token',
      'GET /pets/1',
    ]);
  });

  it('still refuses the rest of 127.0.0.0/8 and ::1', async () => {
    const { slug } = await admin().createTenant('egress');
    for (const url of [`${elsewhere.url}/mcp`, `http://[::1]:${upstream.port}/mcp`]) {
      const res = await admin().request('POST', `/admin/tenants/${slug}/sources`, {
        name: 'other',
        kind: 'mcp',
        url,
      });
      expect([url, res.status, messageOf(res)]).toEqual([
        url,
        400,
        expect.stringMatching(/a loopback address; .*EGRESS_ALLOW/),
      ]);
    }
    expect(elsewhere.paths).toEqual([]);
  });

  it('refuses a document URL that redirects to a refused address, without following it', async () => {
    const { slug } = await admin().createTenant('egress');

    const res = await admin().request('POST', `/admin/tenants/${slug}/sources`, {
      name: 'redirected',
      kind: 'openapi',
      documentUrl: `${redirector.url}/moved`,
      baseUrl: redirector.url,
    });

    expect(res.status).toBe(400);
    expect(messageOf(res)).toBe(
      `${redirector.url}/moved redirected to ${elsewhere.url}/openapi.json, which is not allowed: its host resolves to 127.0.0.2, a loopback address; ${HINT}`,
    );
    expect(redirector.paths).toEqual(['/moved']);
    expect(elsewhere.paths).toEqual([]);
  });

  it('an API call answered with a redirect is the API’s answer: the target is not fetched', async () => {
    const { slug } = await admin().createTenant('egress');
    const created = await admin().request('POST', `/admin/tenants/${slug}/sources`, {
      name: 'hop',
      kind: 'openapi',
      documentUrl: `${redirector.url}/openapi.json`,
      baseUrl: redirector.url,
    });
    expect(created.status).toBe(201);
    const client = await p.connect(slug, bearer((await admin().createKey(slug)).secret));

    const answer = (await client.callTool({ name: 'hop_go', arguments: {} })) as CallResult;

    expect(answer.isError).toBe(true);
    expect(textOf(answer)).toMatch(/^302 Found/);
    expect(redirector.paths.at(-1)).toBe('/go');
    expect(elsewhere.paths).toEqual([]);
  });

  it('accepts a tenant JWT jwksUri on 127.0.0.1', async () => {
    const { slug } = await admin().createTenant('egress');
    const jwksUri = `http://127.0.0.1:${upstream.port}/jwks`;

    const res = await admin().request('PUT', `/admin/tenants/${slug}/auth`, {
      jwt: { issuer: 'https://idp.example.com/', jwksUri },
    });

    expect(res.status).toBe(200);
    expect((res.json as { jwt: { jwksUri: string } }).jwt.jwksUri).toBe(jwksUri);
  });
});
