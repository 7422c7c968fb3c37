import { Injectable } from '@nestjs/common';
import type { Principal } from '@app/auth';
import { ToolGrantsService } from '@app/tenancy';
import {
  type AccessDecision,
  type CapabilityContext,
  CapabilityRegistry,
  type Capability,
  type CompletionContext,
  decideAccess,
  grantKey,
  InputRequired,
  type PromptListEntry,
  type PromptResult,
  type ResourceContents,
  type ResourceListEntry,
  type ResourceTemplateListEntry,
  type TenantGrants,
  type ToolTenant,
} from '@app/tools';
import { ToolCallRecorder, type McpEra } from './tool-call-recorder';

/** Most values a completion answers with (MCP's own cap). */
const MAX_COMPLETIONS = 100;

export type Refused =
  { kind: 'hidden' } | { kind: 'insufficient_scope'; scopes: readonly string[] };

export type ReadOutcome =
  | { kind: 'result'; contents: ResourceContents[] }
  | { kind: 'input_required'; input: InputRequired }
  | Refused;

export type PromptOutcome =
  | { kind: 'result'; result: PromptResult }
  | { kind: 'input_required'; input: InputRequired }
  | { kind: 'invalid'; message: string }
  | Refused;

export interface CompletionAnswer {
  values: string[];
  total: number;
  hasMore: boolean;
}

export type CompletionRef =
  { type: 'ref/prompt'; name: string } | { type: 'ref/resource'; uri: string };

export interface UseOf {
  era: McpEra;
  tenant: ToolTenant;
  principal: Principal;
  requestId?: string;
  context: Pick<CapabilityContext, 'signal' | 'answers' | 'clientCan'>;
}

const EMPTY_COMPLETION: CompletionAnswer = Object.freeze({ values: [], total: 0, hasMore: false });

function describeIssues(issues: readonly { path: PropertyKey[]; message: string }[]): string {
  return issues
    .map((i) => (i.path.length ? `${i.path.map(String).join('.')}: ${i.message}` : i.message))
    .join('; ');
}

/**
 * Resources, resource templates, prompts and completion as every protocol era serves them, in
 * plain JSON and free of either SDK, each decided by the one policy: lists show exactly what the
 * principal may use, and a read or get of anything else is answered like a missing one (a scope
 * shortfall aside, which the HTTP pre-check turns into a step-up challenge).
 */
@Injectable()
export class CapabilitySurface {
  constructor(
    private readonly registry: CapabilityRegistry,
    private readonly grants: ToolGrantsService,
    private readonly recorder: ToolCallRecorder,
  ) {}

  grantsOf(tenantId: string): Promise<TenantGrants> {
    return this.grants.forTenant(tenantId);
  }

  resources(principal: Principal, grants: TenantGrants): ResourceListEntry[] {
    return [...this.registry.allResources()]
      .filter((r) => decideAccess(principal, r, grants).kind === 'allowed')
      .map((r) => r.listEntry);
  }

  templates(principal: Principal, grants: TenantGrants): ResourceTemplateListEntry[] {
    return [...this.registry.allTemplates()]
      .filter((t) => decideAccess(principal, t, grants).kind === 'allowed')
      .map((t) => t.listEntry);
  }

  prompts(principal: Principal, grants: TenantGrants): PromptListEntry[] {
    return [...this.registry.allPrompts()]
      .filter((p) => decideAccess(principal, p, grants).kind === 'allowed')
      .map((p) => p.listEntry);
  }

  /** The capability a `resources/read` or `prompts/get` names, for the HTTP pre-check. */
  named(method: string, params: unknown): Capability | undefined {
    const p = params as { uri?: unknown; name?: unknown } | undefined;
    if (method === 'resources/read' && typeof p?.uri === 'string') {
      return this.registry.resolve(p.uri)?.resource;
    }
    if (method === 'prompts/get' && typeof p?.name === 'string')
      return this.registry.prompt(p.name);
    return undefined;
  }

  /** Whether the principal may read what a URI names (a subscription needs that, too). */
  async mayRead(tenantId: string, principal: Principal, uri: string): Promise<boolean> {
    const target = this.registry.resolve(uri)?.resource;
    return (
      decideAccess(principal, target, await this.grants.forTenant(tenantId)).kind === 'allowed'
    );
  }

  async read(use: UseOf, uri: string): Promise<ReadOutcome> {
    const target = this.registry.resolve(uri);
    const refused = await this.decide(use, target?.resource, 'resource.read', {
      uri: uri.slice(0, 512),
    });
    if (refused || !target) return refused ?? { kind: 'hidden' };
    const ctx = this.context(use);
    const started = performance.now();
    const out =
      target.kind === 'fixed'
        ? await target.resource.read(uri, ctx)
        : await target.resource.read(uri, target.variables, ctx);
    this.record(use, target.resource, 'resource.read', out === null ? 'error' : 'ok', started, {
      uri: uri.slice(0, 512),
    });
    if (out === null) return { kind: 'hidden' };
    if (out instanceof InputRequired) return { kind: 'input_required', input: out };
    return { kind: 'result', contents: out };
  }

  async getPrompt(use: UseOf, name: string, args: unknown): Promise<PromptOutcome> {
    const prompt = this.registry.prompt(name);
    const refused = await this.decide(use, prompt, 'prompt.get');
    if (refused || !prompt) return refused ?? { kind: 'hidden' };
    let parsed: unknown = args ?? {};
    if (prompt.args) {
      const result = prompt.args.safeParse(parsed);
      if (!result.success) {
        return {
          kind: 'invalid',
          message: `invalid arguments for prompt ${name}: ${describeIssues(result.error.issues)}`,
        };
      }
      parsed = result.data;
    }
    const started = performance.now();
    const out = await prompt.get(parsed, this.context(use));
    this.record(use, prompt, 'prompt.get', 'ok', started);
    if (out instanceof InputRequired) return { kind: 'input_required', input: out };
    return { kind: 'result', result: out };
  }

  /**
   * Completion of a prompt argument or template variable: only for principals who may use that
   * prompt or template, and empty (never an error that tells them apart) for anything else.
   */
  async complete(
    use: Pick<UseOf, 'tenant' | 'principal'>,
    ref: CompletionRef,
    argument: { name: string; value: string },
    context: Record<string, string> | undefined,
  ): Promise<CompletionAnswer> {
    const target =
      ref.type === 'ref/prompt'
        ? this.registry.prompt(ref.name)
        : (this.registry.template(ref.uri) ??
          [...this.registry.allTemplates()].find((t) => t.listEntry.uriTemplate === ref.uri));
    if (!target) return EMPTY_COMPLETION;
    const grants = await this.grants.forTenant(use.tenant.id);
    if (decideAccess(use.principal, target, grants).kind !== 'allowed') return EMPTY_COMPLETION;
    const completer = target.completers.get(argument.name);
    if (!completer) return EMPTY_COMPLETION;
    const ctx: CompletionContext = {
      tenant: use.tenant,
      principal: use.principal,
      arguments: context ?? {},
    };
    const all = [...(await completer(argument.value, ctx))];
    return {
      values: all.slice(0, MAX_COMPLETIONS),
      total: all.length,
      hasMore: all.length > MAX_COMPLETIONS,
    };
  }

  private async decide(
    use: UseOf,
    capability: Capability | undefined,
    action: string,
    detail?: Record<string, unknown>,
  ): Promise<Refused | undefined> {
    const decision: AccessDecision = decideAccess(
      use.principal,
      capability,
      await this.grants.forTenant(use.tenant.id),
    );
    if (decision.kind === 'allowed') return undefined;
    this.recorder.recordUse({
      era: use.era,
      tenant: use.tenant,
      principal: use.principal,
      action,
      name: capability ? grantKey(capability.kind, capability.name) : '(unknown)',
      outcome: 'denied',
      requestId: use.requestId,
      detail: { ...detail, reason: decision.kind },
    });
    return decision;
  }

  private record(
    use: UseOf,
    capability: Capability,
    action: string,
    outcome: 'ok' | 'error',
    started: number,
    detail?: Record<string, unknown>,
  ): void {
    this.recorder.recordUse({
      era: use.era,
      tenant: use.tenant,
      principal: use.principal,
      action,
      name: grantKey(capability.kind, capability.name),
      outcome,
      durationMs: performance.now() - started,
      requestId: use.requestId,
      detail,
    });
  }

  private context(use: UseOf): CapabilityContext {
    return { ...use.context, tenant: use.tenant, principal: use.principal };
  }
}
