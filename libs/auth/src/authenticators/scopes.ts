/** Claims of a JWT or fields of an introspection answer. */
export type Claims = { readonly [claim: string]: unknown };

/**
 * The principal's scopes: `scope` or `scp` by default, else the configured claim, which may be a
 * dotted path into nested claims (Keycloak's `realm_access.roles`); a top-level claim whose name
 * contains the dots wins. Space-separated strings and string arrays are understood.
 */
export function scopesFrom(claims: Claims, claim: string | undefined): string[] {
  const raw = claim ? claimAt(claims, claim) : (claims.scope ?? claims.scp);
  if (typeof raw === 'string') return raw.split(' ').filter(Boolean);
  if (Array.isArray(raw)) return raw.filter((s): s is string => typeof s === 'string' && !!s);
  return [];
}

function claimAt(claims: Claims, path: string): unknown {
  if (Object.hasOwn(claims, path)) return claims[path];
  let at: unknown = claims;
  for (const part of path.split('.')) {
    // Own properties only: `constructor` or `__proto__` in a path must not reach the prototype.
    if (typeof at !== 'object' || at === null || Array.isArray(at) || !Object.hasOwn(at, part)) {
      return undefined;
    }
    at = (at as Record<string, unknown>)[part];
  }
  return at;
}
