import { Injectable, OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { UriTemplate } from '@modelcontextprotocol/sdk/shared/uriTemplate.js';
import type { z } from 'zod';
import {
  McpComplete,
  type McpCompleteOptions,
  McpPrompt,
  type McpPromptOptions,
  McpResource,
  type McpResourceOptions,
  McpResourceTemplate,
  type McpResourceTemplateOptions,
  REQUIRED_SCOPES,
} from './decorators';
import { InputRequired } from './input';
import type { CapabilityContext } from './tool-context';

/** One item of a `resources/read` result, as plain JSON. */
export type ResourceContents =
  | { uri: string; mimeType?: string; text: string }
  | { uri: string; mimeType?: string; blob: string };

/** One message of a `prompts/get` result, as plain JSON (text, image, audio, resource…). */
export interface PromptMessage {
  role: 'user' | 'assistant';
  content: { type: string; [key: string]: unknown };
}

export interface PromptResult {
  description?: string;
  messages: PromptMessage[];
}

type Answer<T> = T | InputRequired | Promise<T | InputRequired>;

export interface ResourceListEntry {
  readonly uri: string;
  readonly name: string;
  readonly title?: string;
  readonly description?: string;
  readonly mimeType?: string;
}

export interface ResourceTemplateListEntry {
  readonly uriTemplate: string;
  readonly name: string;
  readonly title?: string;
  readonly description?: string;
  readonly mimeType?: string;
}

export interface PromptListEntry {
  readonly name: string;
  readonly title?: string;
  readonly description?: string;
  readonly arguments?: readonly { name: string; description?: string; required: boolean }[];
}

/** What a completion handler knows: who asks, and the other arguments already chosen. */
export interface CompletionContext {
  tenant: CapabilityContext['tenant'];
  principal: CapabilityContext['principal'];
  arguments: Readonly<Record<string, string>>;
}

export type Completer = (value: string, ctx: CompletionContext) => Promise<readonly string[]>;

export interface ResourceDefinition {
  readonly kind: 'resource';
  readonly name: string;
  readonly uri: string;
  readonly requiredScopes: readonly string[];
  readonly listEntry: ResourceListEntry;
  readonly read: (
    uri: string,
    ctx: CapabilityContext,
  ) => Promise<ResourceContents[] | InputRequired>;
}

export interface ResourceTemplateDefinition {
  readonly kind: 'resource';
  readonly name: string;
  readonly uriTemplate: UriTemplate;
  readonly requiredScopes: readonly string[];
  readonly listEntry: ResourceTemplateListEntry;
  readonly read: (
    uri: string,
    variables: Record<string, string>,
    ctx: CapabilityContext,
  ) => Promise<ResourceContents[] | null | InputRequired>;
  /** Completion per template variable. */
  readonly completers: ReadonlyMap<string, Completer>;
}

export interface PromptDefinition {
  readonly kind: 'prompt';
  readonly name: string;
  readonly requiredScopes: readonly string[];
  readonly args?: z.ZodObject;
  readonly listEntry: PromptListEntry;
  readonly get: (args: unknown, ctx: CapabilityContext) => Promise<PromptResult | InputRequired>;
  /** Completion per argument. */
  readonly completers: ReadonlyMap<string, Completer>;
}

type Fn = (...args: unknown[]) => unknown;

function asContents(out: unknown): ResourceContents[] | InputRequired | null {
  if (out === null || out === undefined) return null;
  if (out instanceof InputRequired) return out;
  return Array.isArray(out) ? (out as ResourceContents[]) : [out as ResourceContents];
}

function promptArguments(args: z.ZodObject | undefined): PromptListEntry['arguments'] {
  if (!args) return undefined;
  return Object.entries(args.shape).map(([name, schema]) => {
    const s = schema as z.ZodType;
    return {
      name,
      ...(s.description ? { description: s.description } : {}),
      required: !s.safeParse(undefined).success,
    };
  });
}

const frozenScopes = (scopes: readonly string[]) => Object.freeze([...new Set(scopes)].sort());

function listEntry<T extends object>(
  o: T & { title?: string; description?: string; mimeType?: string },
) {
  const entry: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) entry[k] = v;
  return Object.freeze(entry);
}

/**
 * Every @McpResource, @McpResourceTemplate, @McpPrompt and @McpComplete in the application,
 * found once at boot like the tools: names and URIs unique, argument lists computed once, every
 * completion attached to a prompt argument or template variable that exists.
 */
@Injectable()
export class CapabilityRegistry implements OnModuleInit {
  private resources = new Map<string, ResourceDefinition>();
  private templates = new Map<string, ResourceTemplateDefinition>();
  private prompts = new Map<string, PromptDefinition>();

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
  ) {}

  onModuleInit(): void {
    const resources = new Map<string, ResourceDefinition>();
    const templates = new Map<string, ResourceTemplateDefinition>();
    const prompts = new Map<string, PromptDefinition>();
    const uris = new Set<string>();
    const completions: { where: string; options: McpCompleteOptions; fn: Completer }[] = [];
    const resourceName = (name: string, where: string) => {
      if (resources.has(name) || templates.has(name)) {
        throw new Error(
          `duplicate MCP resource name "${name}" (on ${where}); resource and template names must be unique`,
        );
      }
    };

    for (const wrapper of this.discovery.getProviders()) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance || typeof instance !== 'object' || !wrapper.isDependencyTreeStatic()) continue;
      const proto = Object.getPrototypeOf(instance) as object;
      for (const method of this.scanner.getAllMethodNames(proto)) {
        const resource = this.discovery.getMetadataByDecorator(McpResource, wrapper, method);
        const template = this.discovery.getMetadataByDecorator(
          McpResourceTemplate,
          wrapper,
          method,
        );
        const prompt = this.discovery.getMetadataByDecorator(McpPrompt, wrapper, method);
        const complete = this.discovery.getMetadataByDecorator(McpComplete, wrapper, method);
        if (!resource && !template && !prompt && !complete) continue;
        const fn = (instance[method] as Fn).bind(instance);
        const where = `${String(wrapper.name)}.${String(method)}`;
        const scopes = () =>
          frozenScopes(
            this.reflector.getAllAndOverride<string[] | undefined>(REQUIRED_SCOPES, [
              instance[method] as Fn,
              instance.constructor as Fn,
            ]) ?? [],
          );
        if (resource) {
          resourceName(resource.name, where);
          if (uris.has(resource.uri)) {
            throw new Error(`duplicate MCP resource URI "${resource.uri}" (on ${where})`);
          }
          uris.add(resource.uri);
          resources.set(resource.name, this.defineResource(resource, scopes(), fn));
        }
        if (template) {
          resourceName(template.name, where);
          templates.set(template.name, this.defineTemplate(template, scopes(), fn, where));
        }
        if (prompt) {
          if (prompts.has(prompt.name)) {
            throw new Error(
              `duplicate MCP prompt name "${prompt.name}" (on ${where}); prompt names must be unique`,
            );
          }
          prompts.set(prompt.name, this.definePrompt(prompt, scopes(), fn));
        }
        if (complete) {
          completions.push({
            where,
            options: complete,
            fn: async (value, ctx) => ((await fn(value, ctx)) as readonly string[]) ?? [],
          });
        }
      }
    }

    for (const { where, options, fn } of completions) {
      const target =
        'prompt' in options ? prompts.get(options.prompt) : templates.get(options.resourceTemplate);
      const known =
        target &&
        ('prompt' in options
          ? (target as PromptDefinition).listEntry.arguments?.some(
              (a) => a.name === options.argument,
            )
          : (target as ResourceTemplateDefinition).uriTemplate.variableNames.includes(
              options.argument,
            ));
      if (!target || !known) {
        throw new Error(
          `@McpComplete on ${where} names ${JSON.stringify(options)}, which does not exist`,
        );
      }
      const completers = target.completers as Map<string, Completer>;
      if (completers.has(options.argument)) {
        throw new Error(`two completions for ${JSON.stringify(options)} (one on ${where})`);
      }
      completers.set(options.argument, fn);
    }
    this.resources = resources;
    this.templates = templates;
    this.prompts = prompts;
  }

  private defineResource(
    o: McpResourceOptions,
    requiredScopes: readonly string[],
    fn: Fn,
  ): ResourceDefinition {
    return Object.freeze({
      kind: 'resource' as const,
      name: o.name,
      uri: o.uri,
      requiredScopes,
      listEntry: listEntry({
        uri: o.uri,
        name: o.name,
        title: o.title,
        description: o.description,
        mimeType: o.mimeType,
      }) as unknown as ResourceListEntry,
      read: async (uri: string, ctx: CapabilityContext) =>
        asContents(await fn(uri, ctx)) ?? ([] as ResourceContents[]),
    });
  }

  private defineTemplate(
    o: McpResourceTemplateOptions,
    requiredScopes: readonly string[],
    fn: Fn,
    where: string,
  ): ResourceTemplateDefinition {
    let uriTemplate: UriTemplate;
    try {
      uriTemplate = new UriTemplate(o.uriTemplate);
    } catch (err) {
      throw new Error(`resource template "${o.name}" (on ${where}): ${(err as Error).message}`);
    }
    return {
      kind: 'resource' as const,
      name: o.name,
      uriTemplate,
      requiredScopes,
      listEntry: listEntry({
        uriTemplate: o.uriTemplate,
        name: o.name,
        title: o.title,
        description: o.description,
        mimeType: o.mimeType,
      }) as unknown as ResourceTemplateListEntry,
      read: async (uri, variables, ctx) => asContents(await fn(uri, variables, ctx)),
      completers: new Map(),
    };
  }

  private definePrompt(
    o: McpPromptOptions,
    requiredScopes: readonly string[],
    fn: Fn,
  ): PromptDefinition {
    return {
      kind: 'prompt' as const,
      name: o.name,
      requiredScopes,
      args: o.args,
      listEntry: listEntry({
        name: o.name,
        title: o.title,
        description: o.description,
        arguments: promptArguments(o.args),
      }) as unknown as PromptListEntry,
      get: async (args, ctx) => await (fn(args, ctx) as Answer<PromptResult>),
      completers: new Map(),
    };
  }

  allResources(): Iterable<ResourceDefinition> {
    return this.resources.values();
  }

  allTemplates(): Iterable<ResourceTemplateDefinition> {
    return this.templates.values();
  }

  allPrompts(): Iterable<PromptDefinition> {
    return this.prompts.values();
  }

  /** A resource or resource template by its name (what grants and allow-lists use). */
  resourceNamed(name: string): ResourceDefinition | ResourceTemplateDefinition | undefined {
    return this.resources.get(name) ?? this.templates.get(name);
  }

  template(name: string): ResourceTemplateDefinition | undefined {
    return this.templates.get(name);
  }

  prompt(name: string): PromptDefinition | undefined {
    return this.prompts.get(name);
  }

  /**
   * What a URI names: the resource with exactly that URI, else the first template (in discovery
   * order) that matches it, with the variables it matched.
   */
  resolve(
    uri: string,
  ):
    | { kind: 'fixed'; resource: ResourceDefinition }
    | { kind: 'template'; resource: ResourceTemplateDefinition; variables: Record<string, string> }
    | undefined {
    for (const r of this.resources.values())
      if (r.uri === uri) return { kind: 'fixed', resource: r };
    for (const t of this.templates.values()) {
      const matched = t.uriTemplate.match(uri);
      if (matched) {
        const variables: Record<string, string> = {};
        for (const [k, v] of Object.entries(matched))
          variables[k] = Array.isArray(v) ? v.join(',') : v;
        return { kind: 'template', resource: t, variables };
      }
    }
    return undefined;
  }

  /** Every scope a resource or prompt declares. */
  scopes(): string[] {
    const all = new Set<string>();
    for (const c of [
      ...this.resources.values(),
      ...this.templates.values(),
      ...this.prompts.values(),
    ]) {
      c.requiredScopes.forEach((s) => all.add(s));
    }
    return [...all];
  }
}
