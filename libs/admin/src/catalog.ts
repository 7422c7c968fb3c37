import { BadRequestException } from '@nestjs/common';
import type { CapabilityRegistry, TenantCatalog } from '@app/tools';

/**
 * Scopes and tool, resource and prompt names in a key must exist in the catalog; a typo would
 * silently grant nothing. The tenant's catalog includes its source tools and their scopes.
 */
export function assertKnown(
  registry: TenantCatalog,
  capabilities: CapabilityRegistry,
  body: {
    scopes?: string[];
    tools?: string[] | null;
    resources?: string[] | null;
    prompts?: string[] | null;
  },
): void {
  const problems: string[] = [];
  const scopes = new Set(registry.scopes());
  const unknownScopes = (body.scopes ?? []).filter((s) => !scopes.has(s));
  if (unknownScopes.length) {
    problems.push(`scopes: unknown ${unknownScopes.join(', ')} (known: ${[...scopes].join(', ')})`);
  }
  const unknownTools = (body.tools ?? []).filter((t) => !registry.get(t));
  if (unknownTools.length) {
    problems.push(
      `tools: unknown ${unknownTools.join(', ')} (known: ${registry.names().join(', ')})`,
    );
  }
  const unknownResources = (body.resources ?? []).filter((r) => !capabilities.resourceNamed(r));
  if (unknownResources.length) {
    const known = [...capabilities.allResources(), ...capabilities.allTemplates()].map(
      (r) => r.name,
    );
    problems.push(`resources: unknown ${unknownResources.join(', ')} (known: ${known.join(', ')})`);
  }
  const unknownPrompts = (body.prompts ?? []).filter((p) => !capabilities.prompt(p));
  if (unknownPrompts.length) {
    const known = [...capabilities.allPrompts()].map((p) => p.name);
    problems.push(`prompts: unknown ${unknownPrompts.join(', ')} (known: ${known.join(', ')})`);
  }
  if (problems.length)
    throw new BadRequestException(`invalid request body: ${problems.join('; ')}`);
}
