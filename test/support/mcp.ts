import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ADMIN, TestPlatform, uniqueSlug } from './platform';

export interface TenantWithKey {
  slug: string;
  id: string;
  key: string;
  keyId: string;
}

export async function createTenant(
  p: TestPlatform,
  prefix = 'mcp',
): Promise<{ slug: string; id: string }> {
  const slug = uniqueSlug(prefix);
  const res = await p
    .http()
    .post('/admin/tenants')
    .set(ADMIN)
    .send({ slug, name: slug })
    .expect(201);
  return { slug, id: res.body.id };
}

export async function createKey(
  p: TestPlatform,
  slug: string,
  body: { scopes: string[]; tools?: string[]; expiresAt?: string; name?: string },
): Promise<{ key: string; id: string }> {
  const res = await p
    .http()
    .post(`/admin/tenants/${slug}/keys`)
    .set(ADMIN)
    .send({ name: 'test key', ...body })
    .expect(201);
  return { key: res.body.secret, id: res.body.id };
}

export async function tenantWithKey(
  p: TestPlatform,
  scopes: string[],
  tools?: string[],
): Promise<TenantWithKey> {
  const t = await createTenant(p);
  const k = await createKey(p, t.slug, { scopes, tools });
  return { slug: t.slug, id: t.id, key: k.key, keyId: k.id };
}

export type TransportKind = 'streamable' | 'sse';

/** A real MCP SDK client connected to a tenant's endpoint with the given headers. */
export async function connect(
  p: TestPlatform,
  slug: string,
  headers: Record<string, string>,
  kind: TransportKind = 'streamable',
): Promise<Client> {
  const client = new Client({ name: 'e2e', version: '1.0.0' });
  const transport =
    kind === 'streamable'
      ? new StreamableHTTPClientTransport(new URL(`${p.url}/t/${slug}/mcp`), {
          requestInit: { headers },
        })
      : new SSEClientTransport(new URL(`${p.url}/t/${slug}/sse`), {
          requestInit: { headers },
          eventSourceInit: {
            fetch: (url, init) =>
              fetch(url, {
                ...init,
                headers: { ...(init?.headers as Record<string, string>), ...headers },
              }),
          },
        });
  await client.connect(transport);
  return client;
}

export const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

export async function toolNames(client: Client): Promise<string[]> {
  const { tools } = await client.listTools();
  return tools.map((t) => t.name).sort();
}
