import type { Principal } from '@app/auth';

/** What a principal may be allowed to use: a tool, a resource (or resource template), a prompt. */
export type CapabilityKind = 'tool' | 'resource' | 'prompt';

/** The part of any capability the policy reads. */
export interface Capability {
  readonly kind: CapabilityKind;
  /** Unique within its kind: a tool's or prompt's name, a resource's or template's name. */
  readonly name: string;
  readonly requiredScopes: readonly string[];
}

export type AccessDecision =
  | { kind: 'allowed' }
  | { kind: 'insufficient_scope'; scopes: readonly string[] }
  | { kind: 'hidden' };

/**
 * A tenant's switches, keyed by `grantKey`: capability → enabled, for those the tenant changed;
 * absent ones are enabled.
 */
export type TenantGrants = ReadonlyMap<string, boolean>;

/**
 * The key of a capability among a tenant's grants (and of its audit records): a tool by its bare
 * name, anything else as `<kind>:<name>`. MCP tool names cannot contain a colon, so the two never
 * collide and every grant stored before resources and prompts existed keeps its meaning.
 */
export function grantKey(kind: CapabilityKind, name: string): string {
  return kind === 'tool' ? name : `${kind}:${name}`;
}

/** The per-credential allow-list for a kind of capability; null or absent means no such limit. */
function allowListOf(
  principal: Principal,
  kind: CapabilityKind,
): readonly string[] | null | undefined {
  switch (kind) {
    case 'tool':
      return principal.tools;
    case 'resource':
      return principal.resources;
    case 'prompt':
      return principal.prompts;
  }
}

const ALLOWED: AccessDecision = Object.freeze({ kind: 'allowed' });
const HIDDEN: AccessDecision = Object.freeze({ kind: 'hidden' });

/**
 * The one decision about access to any capability, used by every list, call, read, get and
 * completion, by the HTTP pre-check and by every protocol era. A principal may use a capability
 * when it is enabled for the tenant, the principal has every scope it declares, and the
 * principal's allow-list for its kind (if any) names it. Only a scope shortfall is reported as
 * such; anything else looks exactly like a capability that does not exist.
 */
export function decideAccess(
  principal: Principal,
  capability: Capability | undefined,
  grants: TenantGrants,
): AccessDecision {
  if (!capability) return HIDDEN;
  if (grants.get(grantKey(capability.kind, capability.name)) === false) return HIDDEN;
  const allowed = allowListOf(principal, capability.kind);
  if (allowed && !allowed.includes(capability.name)) return HIDDEN;
  for (const scope of capability.requiredScopes) {
    if (!principal.scopes.includes(scope)) {
      return { kind: 'insufficient_scope', scopes: capability.requiredScopes };
    }
  }
  return ALLOWED;
}
