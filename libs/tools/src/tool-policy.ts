import type { Principal } from '@app/auth';
import type { ToolDefinition } from './tool-registry';

export type ToolDecision =
  | { kind: 'allowed' }
  | { kind: 'insufficient_scope'; scopes: readonly string[] }
  | { kind: 'hidden' };

/** Tool name → enabled, for the tools a tenant changed; absent tools are enabled. */
export type TenantToolGrants = ReadonlyMap<string, boolean>;

const ALLOWED: ToolDecision = Object.freeze({ kind: 'allowed' });
const HIDDEN: ToolDecision = Object.freeze({ kind: 'hidden' });

/**
 * The one decision about tool access, used by `tools/list`, `tools/call`, the HTTP pre-check and
 * every transport. A principal may call a tool when it is enabled for the tenant, the principal has
 * every scope the tool declares, and the principal's tool allow-list (if any) names it. Only a
 * scope shortfall is reported as such; anything else looks exactly like a tool that does not exist.
 */
export function decideToolAccess(
  principal: Principal,
  tool: ToolDefinition | undefined,
  grants: TenantToolGrants,
): ToolDecision {
  if (!tool) return HIDDEN;
  if (grants.get(tool.name) === false) return HIDDEN;
  if (principal.tools && !principal.tools.includes(tool.name)) return HIDDEN;
  for (const scope of tool.requiredScopes) {
    if (!principal.scopes.includes(scope)) {
      return { kind: 'insufficient_scope', scopes: tool.requiredScopes };
    }
  }
  return ALLOWED;
}
