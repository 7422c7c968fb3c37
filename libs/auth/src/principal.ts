export type PrincipalKind = 'platform-admin' | 'api-key' | 'jwt' | 'introspection' | 'external';

/** Who is calling, resolved by the global guard and attached to the request. */
export interface Principal {
  kind: PrincipalKind;
  /** Stable id: the API key's uuid, `issuer#subject` for a JWT, `platform-admin` for the admin token. */
  id: string;
  /** The tenant the credential belongs to; null only for the platform admin. */
  tenantId: string | null;
  scopes: readonly string[];
  /** API keys may be limited to named tools; null or absent means no such limit. */
  tools?: readonly string[] | null;
  /** Likewise for resources and resource templates (by name) and for prompts. */
  resources?: readonly string[] | null;
  prompts?: readonly string[] | null;
  /** The public key id of an API key, for logs and audit. */
  keyId?: string;
  /** A per-credential rate limit overriding the tenant's. */
  rateLimitPerMinute?: number | null;
  /** When the credential stops being valid (ms since the epoch), if it ever does. */
  expiresAt?: number;
}

export const TENANT_ADMIN_SCOPE = 'tenant:admin';

export function isPlatformAdmin(p: Principal): boolean {
  return p.kind === 'platform-admin';
}
