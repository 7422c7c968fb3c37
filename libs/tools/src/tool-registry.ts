import { Injectable, OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { TENANT_ADMIN_SCOPE } from '@app/auth';
import { PlatformConfig, type ToolArgumentLimits } from '@app/config';
import { resolveArgumentLimits } from './argument-limits';
import { McpTool, McpToolOptions, REQUIRED_SCOPES } from './decorators';
import type { ToolContext } from './tool-context';

export interface ToolDefinition {
  readonly name: string;
  readonly title?: string;
  readonly description: string;
  readonly requiredScopes: readonly string[];
  readonly input: z.ZodObject;
  readonly output?: z.ZodObject;
  /** Caps on the arguments: the config's defaults with the tool's own `limits` on top. */
  readonly limits: ToolArgumentLimits;
  /** The `tools/list` entry, JSON Schemas included, computed once at boot. */
  readonly listEntry: Tool;
  readonly handler: (args: unknown, ctx: ToolContext) => Promise<unknown>;
}

function jsonSchema(schema: z.ZodObject): Tool['inputSchema'] {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  delete json.$schema;
  return { ...json, type: 'object' };
}

/** Every @McpTool in the application, discovered once at boot. */
@Injectable()
export class ToolRegistry implements OnModuleInit {
  private tools = new Map<string, ToolDefinition>();
  private scopeCatalog: readonly string[] = [TENANT_ADMIN_SCOPE];
  /** MAX_ARGUMENT_BYTES, MAX_ARGUMENT_ELEMENTS and MAX_ARGUMENT_DEPTH: every tool's defaults. */
  private readonly defaultLimits: ToolArgumentLimits;
  private largestBytes: number;

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    private readonly config: PlatformConfig,
  ) {
    this.defaultLimits = config.toolArgumentLimits;
    this.largestBytes = this.defaultLimits.maxBytes;
  }

  onModuleInit(): void {
    const tools = new Map<string, ToolDefinition>();
    for (const wrapper of this.discovery.getProviders()) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance || typeof instance !== 'object' || !wrapper.isDependencyTreeStatic()) continue;
      const proto = Object.getPrototypeOf(instance) as object;
      for (const method of this.scanner.getAllMethodNames(proto)) {
        const options = this.discovery.getMetadataByDecorator(McpTool, wrapper, method);
        if (!options) continue;
        if (tools.has(options.name)) {
          throw new Error(
            `duplicate MCP tool name "${options.name}" (on ${wrapper.name}.${method}); tool names must be unique`,
          );
        }
        const fn = instance[method] as (args: unknown, ctx: ToolContext) => unknown;
        const requiredScopes =
          this.reflector.getAllAndOverride<string[] | undefined>(REQUIRED_SCOPES, [
            fn,
            instance.constructor as () => unknown,
          ]) ?? [];
        tools.set(options.name, this.define(options, requiredScopes, fn.bind(instance)));
      }
    }
    for (const synthetic of benchToolPack(this.config.benchToolPack)) {
      tools.set(synthetic.options.name, this.define(synthetic.options, [], synthetic.handler));
    }
    this.tools = tools;
    const scopes = new Set([TENANT_ADMIN_SCOPE]);
    for (const t of tools.values()) t.requiredScopes.forEach((s) => scopes.add(s));
    this.scopeCatalog = [...scopes].sort();
    this.largestBytes = tools.size
      ? Math.max(...[...tools.values()].map((t) => t.limits.maxBytes))
      : this.defaultLimits.maxBytes;
  }

  private define(
    o: McpToolOptions,
    requiredScopes: string[],
    fn: (args: unknown, ctx: ToolContext) => unknown,
  ): ToolDefinition {
    const listEntry: Tool = {
      name: o.name,
      ...(o.title ? { title: o.title } : {}),
      description: o.description,
      inputSchema: jsonSchema(o.input),
      ...(o.output ? { outputSchema: jsonSchema(o.output) } : {}),
      ...(o.annotations ? { annotations: o.annotations } : {}),
    };
    return Object.freeze({
      name: o.name,
      title: o.title,
      description: o.description,
      requiredScopes: Object.freeze([...new Set(requiredScopes)].sort()),
      input: o.input,
      output: o.output,
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

  /** Every scope a key or token can usefully hold: the tools' scopes plus tenant:admin. */
  scopes(): readonly string[] {
    return this.scopeCatalog;
  }
}

const BenchInput = z.object({ x: z.number().describe('any number'), note: z.string().optional() });
const BenchOutput = z.object({ x: z.number() });

/**
 * Benchmark-only synthetic tools (BENCH_TOOL_PACK=N), so `tools/list` can be measured with a large
 * catalog. Never registered unless that variable is set.
 */
function benchToolPack(n: number) {
  return Array.from({ length: n }, (_, i) => ({
    options: {
      name: `bench_tool_${String(i + 1).padStart(3, '0')}`,
      title: `Benchmark tool ${i + 1}`,
      description:
        'Synthetic tool of the benchmark pack: returns x. Not part of the product catalog.',
      input: BenchInput,
      output: BenchOutput,
      annotations: { readOnlyHint: true },
    } satisfies McpToolOptions,
    handler: (args: unknown) => ({ x: (args as z.infer<typeof BenchInput>).x }),
  }));
}
