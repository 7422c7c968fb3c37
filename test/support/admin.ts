import { http, RawResponse } from './http';

/** The platform admin token of every app the suites start; test/global-teardown.js looks for it. */
export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdefghijkl';
export const ADMIN = { Authorization: `Bearer ${ADMIN_TOKEN}` };

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/** Where a platform answers: its base URL, or anything that has one (an app, a process). */
export type Target = string | { url: string };
export const baseUrl = (target: Target) => (typeof target === 'string' ? target : target.url);

let slugs = 0;
/** A slug no other test in this run uses. */
export function uniqueSlug(prefix = 't'): string {
  slugs += 1;
  return `${prefix}-${Date.now().toString(36)}-${process.pid}-${slugs}`;
}

/** A tenant as the admin API returns it. */
export interface TenantBody {
  id: string;
  slug: string;
  name: string;
  status: string;
  allowedOrigins: string[];
  rateLimits: Record<string, number>;
  protocol: string;
  createdAt: string;
  updatedAt: string;
}

/** An API key as the admin API returns it (with `secret` only on create and rotate). */
export interface KeyBody {
  id: string;
  tenant: string;
  name: string;
  prefix: string;
  scopes: string[];
  tools: string[] | null;
  resources: string[] | null;
  prompts: string[] | null;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
  rotatedAt: string | null;
  rateLimitPerMinute: number | null;
  previousSecretValidUntil: string | null;
  createdAt: string;
  secret?: string;
}

/** A key as created or rotated: the whole key is in `secret`, shown only this once. */
export type IssuedKey = KeyBody & { secret: string };

/** A fresh tenant with one key. */
export interface TenantWithKey {
  slug: string;
  id: string;
  /** The whole key. */
  key: string;
  keyId: string;
}

/**
 * The admin API of one platform, over plain HTTP: the same for the in-process app and for a
 * platform process. Every call but `request` fails (throws, naming the answer) unless the API
 * answers as it should.
 */
export class AdminClient {
  constructor(
    readonly base: string,
    readonly auth: Record<string, string> = ADMIN,
  ) {}

  /** One request with this client's credentials (or `headers` instead), whatever the answer. */
  request(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = this.auth,
    timeoutMs?: number,
  ): Promise<RawResponse> {
    return http(this.base, { method, path, body, headers, timeoutMs });
  }

  private async expect(
    status: number,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<RawResponse> {
    const res = await this.request(method, path, body);
    if (res.status !== status) {
      throw new Error(`${method} ${path}: expected ${status} but got ${res.status}: ${res.text}`);
    }
    return res;
  }

  /** A tenant with a fresh slug; its name is the slug unless `body` says otherwise. */
  async createTenant(prefix = 't', body: Record<string, unknown> = {}): Promise<TenantBody> {
    const slug = uniqueSlug(prefix);
    const res = await this.expect(201, 'POST', '/admin/tenants', { slug, name: slug, ...body });
    return res.json as TenantBody;
  }

  /** A key of `slug`; the body defaults to a key named "key" without scopes. */
  async createKey(slug: string, body: Record<string, unknown> = {}): Promise<IssuedKey> {
    const res = await this.expect(201, 'POST', `/admin/tenants/${slug}/keys`, {
      name: 'key',
      scopes: [],
      ...body,
    });
    return res.json as IssuedKey;
  }

  async tenantWithKey(scopes: string[], tools?: string[], prefix = 'mcp'): Promise<TenantWithKey> {
    const t = await this.createTenant(prefix);
    const k = await this.createKey(t.slug, { scopes, ...(tools ? { tools } : {}) });
    return { slug: t.slug, id: t.id, key: k.secret, keyId: k.id };
  }

  async patchTenant(slug: string, body: Record<string, unknown>): Promise<TenantBody> {
    return (await this.expect(200, 'PATCH', `/admin/tenants/${slug}`, body)).json as TenantBody;
  }

  async deleteTenant(slug: string): Promise<void> {
    await this.expect(204, 'DELETE', `/admin/tenants/${slug}`);
  }

  async patchKey(slug: string, id: string, body: Record<string, unknown>): Promise<KeyBody> {
    return (await this.expect(200, 'PATCH', `/admin/tenants/${slug}/keys/${id}`, body))
      .json as KeyBody;
  }

  async revokeKey(slug: string, id: string): Promise<KeyBody> {
    return (await this.expect(200, 'POST', `/admin/tenants/${slug}/keys/${id}/revoke`))
      .json as KeyBody;
  }

  async rotateKey(
    slug: string,
    id: string,
    body: Record<string, unknown> = {},
  ): Promise<IssuedKey> {
    return (await this.expect(201, 'POST', `/admin/tenants/${slug}/keys/${id}/rotate`, body))
      .json as IssuedKey;
  }

  /** Enables or disables a tool for a tenant. */
  async setTool(slug: string, tool: string, enabled: boolean): Promise<void> {
    await this.expect(200, 'PUT', `/admin/tenants/${slug}/tools/${tool}`, { enabled });
  }

  /** Sets (or, with null, removes) a tenant's JWT identity provider. */
  async setJwt(slug: string, jwt: Record<string, unknown> | null): Promise<void> {
    await this.expect(200, 'PUT', `/admin/tenants/${slug}/auth`, { jwt });
  }
}

export const adminClient = (target: Target, auth?: Record<string, string>) =>
  new AdminClient(baseUrl(target), auth);
