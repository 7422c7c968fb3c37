import type { ToolArgumentLimits } from '@app/config';
import { MAX_JSON_DEPTH } from '@app/database';

/**
 * No tool may be sent more than the body parser accepts (apps/platform BODY_LIMIT, 1 MiB), the
 * same ceiling MAX_ARGUMENT_BYTES has.
 */
export const ARGUMENT_BYTES_CEILING = 1024 * 1024;

/** The config's defaults with a tool's own limits on top; throws (at boot) on a bad override. */
export function resolveArgumentLimits(
  defaults: ToolArgumentLimits,
  own: Partial<ToolArgumentLimits> | undefined,
  toolName: string,
): ToolArgumentLimits {
  const ceilings: Record<keyof ToolArgumentLimits, number> = {
    maxBytes: ARGUMENT_BYTES_CEILING,
    maxElements: Number.MAX_SAFE_INTEGER,
    maxDepth: MAX_JSON_DEPTH,
  };
  for (const [k, v] of Object.entries(own ?? {}) as [keyof ToolArgumentLimits, unknown][]) {
    if (!Object.hasOwn(ceilings, k))
      throw new Error(`MCP tool "${toolName}": unknown limit "${k}"`);
    if (v === undefined) continue;
    if (!Number.isSafeInteger(v) || (v as number) < 1 || (v as number) > ceilings[k]) {
      const shown = typeof v === 'number' ? String(v) : JSON.stringify(v);
      throw new Error(
        `MCP tool "${toolName}": limits.${k} must be an integer from 1 to ${ceilings[k]}, not ${shown}`,
      );
    }
  }
  return Object.freeze({
    maxBytes: own?.maxBytes ?? defaults.maxBytes,
    maxElements: own?.maxElements ?? defaults.maxElements,
    maxDepth: own?.maxDepth ?? defaults.maxDepth,
  });
}

const where = (toolName: string | undefined, env: string) =>
  `(limit for ${toolName ? `tool ${toolName}` : 'this tool'}; set by ${env} or the tool's limits)`;

/**
 * Whether `args` fits the element and depth caps, before anything else walks it: the array items
 * and object members of every level are counted (the arguments object's own members included)
 * and the nesting is tracked (the arguments object is level 1), stopping at the first cap
 * exceeded. Iterative with one frame per open container, so at most `maxDepth` frames, and an
 * array's items are counted all at once, so an over-long array is refused without a look inside.
 * A message a person can act on, or null.
 */
export function checkArgumentShape(
  args: unknown,
  limits: ToolArgumentLimits,
  toolName?: string,
): string | null {
  const { maxElements, maxDepth } = limits;
  const nodes: object[] = [];
  const keyLists: (string[] | null)[] = [];
  const positions: number[] = [];
  let depth = 0;
  let elements = 0;
  let v = args;
  for (;;) {
    if (v && typeof v === 'object') {
      if (depth >= maxDepth) {
        return `arguments nest deeper than ${maxDepth} levels ${where(toolName, 'MAX_ARGUMENT_DEPTH')}`;
      }
      const keys = Array.isArray(v) ? null : Object.keys(v);
      const length = keys ? keys.length : (v as unknown[]).length;
      elements += length;
      if (elements > maxElements) {
        return `arguments have more than ${maxElements} elements ${where(toolName, 'MAX_ARGUMENT_ELEMENTS')}`;
      }
      nodes[depth] = v;
      keyLists[depth] = keys;
      positions[depth] = length;
      depth++;
    }
    while (depth > 0 && --positions[depth - 1] < 0) depth--;
    if (depth === 0) return null;
    const keys = keyLists[depth - 1];
    const node = nodes[depth - 1];
    const i = positions[depth - 1];
    v = keys ? (node as Record<string, unknown>)[keys[i]] : (node as unknown[])[i];
  }
}

/**
 * Whether a `tools/call` message of `bodyBytes` bytes (the JSON-RPC request that carries the
 * arguments, as received) may be sent to `tool`. A message a person can act on, or null.
 */
export function checkArgumentBytes(
  bodyBytes: number,
  tool: { readonly name: string; readonly limits: ToolArgumentLimits },
): string | null {
  const { maxBytes } = tool.limits;
  if (bodyBytes <= maxBytes) return null;
  return `the tools/call message is ${bodyBytes} bytes, more than the ${maxBytes} allowed ${where(tool.name, 'MAX_ARGUMENT_BYTES')}`;
}
