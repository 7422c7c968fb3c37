import { SetMetadata } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import type { z } from 'zod';
import type { ToolArgumentLimits } from '@app/config';

/** A scope is `resource:action`, e.g. `notes:read`. */
export type ScopeName = `${string}:${string}`;

/** MCP's hints about a tool's behaviour (plain JSON, the same in every protocol era). */
export interface ToolAnnotations {
  title?: string;
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
}

export interface McpToolOptions {
  /** Unique across the platform; what clients call. */
  name: string;
  title?: string;
  description: string;
  input: z.ZodObject;
  output?: z.ZodObject;
  annotations?: ToolAnnotations;
  /**
   * This tool's own caps on its arguments, over the platform defaults (MAX_ARGUMENT_BYTES,
   * MAX_ARGUMENT_ELEMENTS, MAX_ARGUMENT_DEPTH). maxDepth may not exceed MAX_JSON_DEPTH (64) nor
   * maxBytes the 1 MiB body limit; checked at boot.
   */
  limits?: Partial<ToolArgumentLimits>;
}

/** Marks a provider method as an MCP tool. Found at boot by the ToolRegistry. */
export const McpTool = DiscoveryService.createDecorator<McpToolOptions>();

export const REQUIRED_SCOPES = 'mcp:required-scopes';

/** Every listed scope is needed to see or call the tool. On a method or on the whole class. */
export const RequireScopes = (...scopes: ScopeName[]) => SetMetadata(REQUIRED_SCOPES, scopes);
