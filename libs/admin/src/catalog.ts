import { BadRequestException } from '@nestjs/common';
import type { ToolRegistry } from '@app/tools';

/** Scopes and tool names in a key must exist in the catalog; a typo would silently grant nothing. */
export function assertKnown(
  registry: ToolRegistry,
  body: { scopes?: string[]; tools?: string[] | null },
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
  if (problems.length)
    throw new BadRequestException(`invalid request body: ${problems.join('; ')}`);
}
