import { TOOL_NAME_RULE } from '@app/tools';

/**
 * A source's prefix (and, by default, its name): lowercase letters, digits and dashes, starting
 * with a letter. No underscore, so `<prefix>_<tool>` always splits back at the first `_`.
 */
export const PREFIX_RULE = /^[a-z][a-z0-9-]{0,31}$/;

/** Source tool names stay within what the admin API and the audit log accept for a tool. */
export const MAX_SOURCE_TOOL_NAME = 64;

/** The catalog name of a source's tool, or undefined when it would break MCP's naming rule. */
export function sourceToolName(prefix: string, tool: string): string | undefined {
  const name = `${prefix}_${tool}`;
  return name.length <= MAX_SOURCE_TOOL_NAME && TOOL_NAME_RULE.test(name) ? name : undefined;
}

/** Why a source's tool is left out of the catalog although the source has it, if it is. */
export function unnamedReason(prefix: string, tool: string): string | undefined {
  return sourceToolName(prefix, tool)
    ? undefined
    : `with the prefix its name is not a valid MCP tool name (A-Z a-z 0-9 _ - ., at most ${MAX_SOURCE_TOOL_NAME} characters)`;
}
