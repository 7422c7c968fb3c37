import { Injectable, OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { z } from 'zod';
import { TENANT_ADMIN_SCOPE } from '@app/auth';
import { PlatformConfig, type ToolArgumentLimits } from '@app/config';
import { resolveArgumentLimits } from './argument-limits';
import { CapabilityRegistry } from './capability-registry';
import {
  McpTool,
  McpToolOptions,
  REQUIRED_SCOPES,
  ScopeName,
  type ToolAnnotations,
} from './decorators';
import type { ToolContext } from './tool-context';

/** A `tools/list` entry as plain JSON (JSON Schemas included), shared by every protocol era. */
export interface ToolListEntry {
  readonly name: string;
  readonly title?: string;
  readonly description: string;
  readonly inputSchema: { readonly type: 'object'; readonly [key: string]: unknown };
  readonly outputSchema?: { readonly type: 'object'; readonly [key: string]: unknown };
  readonly annotations?: Readonly<ToolAnnotations>;
}

/** The outcome of checking a call's arguments against a tool's input schema. */
export type ParsedArguments =
  { success: true; data: unknown } | { success: false; problem: string };

/** Where a tool that is not one of the platform's own comes from: a tenant's tool source. */
export interface ToolOrigin {
  readonly sourceId: string;
  readonly sourceName: string;
}

export interface ToolDefinition {
  readonly kind: 'tool';
  readonly name: string;
  readonly title?: string;
  readonly description: string;
  readonly requiredScopes: readonly string[];
  /** Checks (and, for zod schemas, shapes) the arguments; the caps are checked before this. */
  readonly parse: (args: unknown) => ParsedArguments;
  /** Whether the tool declares an output schema, so its JSON answers are also structuredContent. */
  readonly structured: boolean;
  /** Set for a tenant's source tools; built-in tools have none. */
  readonly origin?: ToolOrigin;
  /** Caps on the arguments: the config's defaults with the tool's own `limits` on top. */
  readonly limits: ToolArgumentLimits;
  /** The `tools/list` entry, JSON Schemas included, computed once at boot. */
  readonly listEntry: ToolListEntry;
  readonly handler: (args: unknown, ctx: ToolContext) => Promise<unknown>;
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
}

function jsonSchema(schema: z.ZodObject): ToolListEntry['inputSchema'] {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  delete json.$schema;
  return { ...json, type: 'object' };
}

/** A tool given as data by a @ToolSource() provider rather than declared as an @McpTool method. */
export interface ContributedTool {
  readonly options: McpToolOptions;
  readonly requiredScopes?: readonly ScopeName[];
  readonly handler: (args: unknown, ctx: ToolContext) => unknown;
}

/**
 * The seam for tools that are not methods of the platform's own providers: any provider in the
 * application (any module, also one composed outside the product) whose class is marked
 * `@ToolSource()` and implements `ToolContributor` has `tools()` asked once at boot, and what it
 * returns is defined, checked for duplicate names and listed exactly like an @McpTool method.
 */
export const ToolSource = DiscoveryService.createDecorator<void>();

export interface ToolContributor {
  tools(): Iterable<ContributedTool>;
}

/** Every @McpTool and every @ToolSource() contribution in the application, found once at boot. */
@Injectable()
export class ToolRegistry implements OnModuleInit {
  private tools = new Map<string, ToolDefinition>();
  private toolScopes: readonly string[] = [];
  private scopeCatalog?: readonly string[];
  /** MAX_ARGUMENT_BYTES, MAX_ARGUMENT_ELEMENTS and MAX_ARGUMENT_DEPTH: every tool's defaults. */
  private readonly defaultLimits: ToolArgumentLimits;
  private largestBytes: number;

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    private readonly capabilities: CapabilityRegistry,
    config: PlatformConfig,
  ) {
    this.defaultLimits = config.toolArgumentLimits;
    this.largestBytes = this.defaultLimits.maxBytes;
  }

  onModuleInit(): void {
    const tools = new Map<string, ToolDefinition>();
    const add = (where: string, tool: ToolDefinition) => {
      if (tools.has(tool.name)) {
        throw new Error(
          `duplicate MCP tool name "${tool.name}" (on ${where}); tool names must be unique`,
        );
      }
      tools.set(tool.name, tool);
    };
    for (const wrapper of this.discovery.getProviders()) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance || typeof instance !== 'object' || !wrapper.isDependencyTreeStatic()) continue;
      const proto = Object.getPrototypeOf(instance) as object;
      for (const method of this.scanner.getAllMethodNames(proto)) {
        const options = this.discovery.getMetadataByDecorator(McpTool, wrapper, method);
        if (!options) continue;
        const fn = instance[method] as (args: unknown, ctx: ToolContext) => unknown;
        const requiredScopes =
          this.reflector.getAllAndOverride<string[] | undefined>(REQUIRED_SCOPES, [
            fn,
            instance.constructor as () => unknown,
          ]) ?? [];
        add(`${wrapper.name}.${method}`, this.define(options, requiredScopes, fn.bind(instance)));
      }
      if (this.discovery.getMetadataByDecorator(ToolSource, wrapper)) {
        for (const t of (instance as unknown as ToolContributor).tools()) {
          add(`${wrapper.name}.tools()`, this.define(t.options, t.requiredScopes ?? [], t.handler));
        }
      }
    }
    this.tools = tools;
    this.toolScopes = [...tools.values()].flatMap((t) => t.requiredScopes);
    this.scopeCatalog = undefined;
    this.largestBytes = tools.size
      ? Math.max(...[...tools.values()].map((t) => t.limits.maxBytes))
      : this.defaultLimits.maxBytes;
  }

  private define(
    o: McpToolOptions,
    requiredScopes: readonly string[],
    fn: (args: unknown, ctx: ToolContext) => unknown,
  ): ToolDefinition {
    const listEntry: ToolListEntry = {
      name: o.name,
      ...(o.title ? { title: o.title } : {}),
      description: o.description,
      inputSchema: jsonSchema(o.input),
      ...(o.output ? { outputSchema: jsonSchema(o.output) } : {}),
      ...(o.annotations ? { annotations: o.annotations } : {}),
    };
    return Object.freeze({
      kind: 'tool' as const,
      name: o.name,
      title: o.title,
      description: o.description,
      requiredScopes: Object.freeze([...new Set(requiredScopes)].sort()),
      parse: (args: unknown): ParsedArguments => {
        const parsed = o.input.safeParse(args);
        return parsed.success
          ? { success: true, data: parsed.data }
          : { success: false, problem: describeIssues(parsed.error) };
      },
      structured: o.output !== undefined,
      limits: resolveArgumentLimits(this.defaultLimits, o.limits, o.name),
      listEntry: Object.freeze(listEntry),
      handler: (args: unknown, ctx: ToolContext) => Promise.resolve(fn(args, ctx)),
    });
  }

  get(name: string): ToolDefinition | undefined {
    return this.tools.get(name);
  }

  all(): Iterable<ToolDefinition> {
    return this.tools.values();
  }

  names(): string[] {
    return [...this.tools.keys()];
  }

  /** MAX_ARGUMENT_BYTES, MAX_ARGUMENT_ELEMENTS and MAX_ARGUMENT_DEPTH, for tools defined as data. */
  defaultArgumentLimits(): ToolArgumentLimits {
    return this.defaultLimits;
  }

  /** Only the scopes of the built-in tools (without resources, prompts or tenant:admin). */
  toolScopeNames(): readonly string[] {
    return this.toolScopes;
  }

  /**
   * The largest effective `maxBytes` of any tool (MAX_ARGUMENT_BYTES when there are none),
   * computed at boot: a `tools/call` body longer than this can be refused before it is parsed,
   * whatever tool it names. Known once the tools are discovered (onModuleInit): before that, in a
   * constructor, it is only MAX_ARGUMENT_BYTES, so read it when a request comes, not at
   * construction.
   */
  largestArgumentBytes(): number {
    return this.largestBytes;
  }

  /**
   * Every scope a key or token can usefully hold: those of the tools, resources and prompts, plus
   * tenant:admin. Asked when requests come (after every registry has been filled at boot).
   */
  scopes(): readonly string[] {
    this.scopeCatalog ??= Object.freeze(
      [...new Set([TENANT_ADMIN_SCOPE, ...this.toolScopes, ...this.capabilities.scopes()])].sort(),
    );
    return this.scopeCatalog;
  }
}
