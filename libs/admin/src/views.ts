import { API_KEY_PREFIX, ApiKey, IssuedApiKey, Tenant } from '@app/tenancy';
import type { Page } from '@app/database';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function tenantView(t: Tenant) {
  return {
    id: t.id,
    slug: t.slug,
    name: t.name,
    status: t.status,
    allowedOrigins: t.settings.allowedOrigins ?? [],
    rateLimits: t.settings.rateLimits ?? {},
    createdAt: t.createdAt.toISOString(),
    updatedAt: t.updatedAt.toISOString(),
  };
}

/** Everything about a key an operator may see: never the secret, never its hash. */
export function apiKeyView(k: ApiKey, tenantSlug: string) {
  return {
    id: k.id,
    tenant: tenantSlug,
    name: k.name,
    prefix: `${API_KEY_PREFIX}${k.keyId}`,
    scopes: k.scopes,
    tools: k.tools,
    expiresAt: iso(k.expiresAt),
    revokedAt: iso(k.revokedAt),
    lastUsedAt: iso(k.lastUsedAt),
    rotatedAt: iso(k.rotatedAt),
    rateLimitPerMinute: k.rateLimitPerMinute,
    previousSecretValidUntil: iso(k.previousValidUntil),
    createdAt: k.createdAt.toISOString(),
  };
}

export function issuedKeyView(issued: IssuedApiKey, tenantSlug: string) {
  return { ...apiKeyView(issued.key, tenantSlug), secret: issued.token };
}

export function pageView<T, V>(page: Page<T>, view: (t: T) => V) {
  return { items: page.items.map(view), nextCursor: page.nextCursor };
}
