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

export interface McpResourceOptions {
  /** Unique among resources and resource templates; what grants and allow-lists name. */
  name: string;
  /** The fixed URI clients read; unique. */
  uri: string;
  title?: string;
  description?: string;
  mimeType?: string;
}

/** Marks a provider method `(uri, ctx) => contents` as an MCP resource at a fixed URI. */
export const McpResource = DiscoveryService.createDecorator<McpResourceOptions>();

export interface McpResourceTemplateOptions {
  /** Unique among resources and resource templates; what grants and allow-lists name. */
  name: string;
  /** An RFC 6570 URI template, e.g. `notes://{id}`; its variables can be completed (@McpComplete). */
  uriTemplate: string;
  title?: string;
  description?: string;
  mimeType?: string;
}

/**
 * Marks a provider method `(uri, variables, ctx) => contents | null` as a resource template: it
 * reads every URI the template matches; null means there is no such resource.
 */
export const McpResourceTemplate = DiscoveryService.createDecorator<McpResourceTemplateOptions>();

export interface McpPromptOptions {
  /** Unique among prompts. */
  name: string;
  title?: string;
  description?: string;
  /** The prompt's arguments: an object of strings (MCP passes prompt arguments as strings). */
  args?: z.ZodObject;
}

/** Marks a provider method `(args, ctx) => {messages}` as an MCP prompt. */
export const McpPrompt = DiscoveryService.createDecorator<McpPromptOptions>();

export type McpCompleteOptions =
  { prompt: string; argument: string } | { resourceTemplate: string; argument: string };

/**
 * Marks a provider method `(value, ctx) => string[]` as the completion of one prompt argument or
 * resource-template variable. It answers only to principals who may use that prompt or template.
 */
export const McpComplete = DiscoveryService.createDecorator<McpCompleteOptions>();
