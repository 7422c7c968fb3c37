import { ForbiddenException, Injectable } from '@nestjs/common';
import type { Response } from 'express';
import { LRUCache } from 'lru-cache';
import { bearerChallenge, type Principal, resourceMetadataUrl } from '@app/auth';
import { PlatformConfig } from '@app/config';
import { ToolGrantsService } from '@app/tenancy';
import {
  type Capability,
  decideAccess,
  grantKey,
  InputRequired,
  invokeTool,
  type TenantGrants,
  type ToolCallResult,
  type ToolContext,
  type TenantCatalog,
  ToolCatalog,
  type ToolListEntry,
  type ToolTenant,
} from '@app/tools';
import { CapabilitySurface } from './capability-surface';
import { sendJsonRpcError } from './jsonrpc';
import { JSONRPC_INVALID_PARAMS, type McpRequest, tooLarge } from './mcp-exchange';
import { type McpEra, ToolCallRecorder } from './tool-call-recorder';

export type ToolCallOutcome =
  | { kind: 'result'; result: ToolCallResult }
  | { kind: 'input_required'; input: InputRequired }
  | { kind: 'insufficient_scope'; scopes: readonly string[] }
  | { kind: 'hidden' };

export interface ToolCall {
  era: McpEra;
  tenant: ToolTenant;
  principal: Principal;
  name: string;
  args: unknown;
  requestId?: string;
  context: Pick<ToolContext, 'signal' | 'progress' | 'log' | 'answers' | 'clientCan'>;
}

/**
 * What every protocol era shows and runs, in plain JSON and free of either SDK: the tools a
 * principal may see, a `tools/call` through the one policy with its audit record, and the HTTP
 * pre-check that answers a scope shortfall with a step-up challenge.
 */
@Injectable()
export class ToolSurface {
  private readonly listed = new WeakMap<
    TenantCatalog,
    WeakMap<TenantGrants, LRUCache<string, readonly ToolListEntry[]>>
  >();
  private readonly listedJson = new WeakMap<readonly ToolListEntry[], string>();

  constructor(
    private readonly config: PlatformConfig,
    private readonly catalog: ToolCatalog,
    private readonly grants: ToolGrantsService,
    private readonly recorder: ToolCallRecorder,
    private readonly capabilities: CapabilitySurface,
  ) {}

  /**
   * The tools this principal may see, decided by the one policy. The answer depends only on the
   * tenant's catalog and grants (new objects whenever they change) and the principal's scopes and
   * tool list, so it is kept per catalog, grants map and principal shape, as a frozen array whose
   * JSON is kept too.
   */
  async visibleTools(principal: Principal, tenantId: string): Promise<readonly ToolListEntry[]> {
    const [catalog, grants] = await Promise.all([
      this.catalog.forTenant(tenantId),
      this.grants.forTenant(tenantId),
    ]);
    let byGrants = this.listed.get(catalog);
    if (!byGrants) this.listed.set(catalog, (byGrants = new WeakMap()));
    let byShape = byGrants.get(grants);
    if (!byShape) {
      // Principal shapes come from credentials (JWT scopes among them): the map is bounded.
      byGrants.set(
        grants,
        (byShape = new LRUCache<string, readonly ToolListEntry[]>({ max: 256 })),
      );
    }
    // JSON, not a joined string: scopes from an IdP may contain any separator.
    const shape = JSON.stringify([principal.scopes, principal.tools ?? null]);
    let tools = byShape.get(shape);
    if (!tools) {
      const visible: ToolListEntry[] = [];
      for (const tool of catalog.all()) {
        if (decideAccess(principal, tool, grants).kind === 'allowed') {
          visible.push(tool.listEntry);
        }
      }
      tools = Object.freeze(visible);
      byShape.set(shape, tools);
    }
    return tools;
  }

  /** The JSON of a list `visibleTools` returned, computed once per list. */
  toolsJson(tools: readonly ToolListEntry[]): string {
    let json = this.listedJson.get(tools);
    if (json === undefined) this.listedJson.set(tools, (json = JSON.stringify(tools)));
    return json;
  }

  async call(c: ToolCall): Promise<ToolCallOutcome> {
    const [catalog, grants] = await Promise.all([
      this.catalog.forTenant(c.tenant.id),
      this.grants.forTenant(c.tenant.id),
    ]);
    const tool = catalog.get(c.name);
    const decision = decideAccess(c.principal, tool, grants);
    const record = {
      era: c.era,
      tenant: c.tenant,
      principal: c.principal,
      tool: c.name,
      known: !!tool,
    };
    if (decision.kind !== 'allowed' || !tool) {
      this.recorder.record({
        ...record,
        outcome: 'denied',
        requestId: c.requestId,
        detail: { reason: decision.kind },
      });
      return decision.kind === 'insufficient_scope' ? decision : { kind: 'hidden' };
    }
    const started = performance.now();
    const result = await invokeTool(tool, c.args, {
      ...c.context,
      tenant: c.tenant,
      principal: c.principal,
    });
    const input = result instanceof InputRequired;
    this.recorder.record({
      ...record,
      outcome: !input && result.isError ? 'error' : 'ok',
      durationMs: performance.now() - started,
      requestId: c.requestId,
      ...(input || tool.origin
        ? {
            detail: {
              ...(input ? { inputRequired: Object.keys(result.requests) } : {}),
              ...(tool.origin ? { source: tool.origin.sourceName } : {}),
            },
          }
        : {}),
    });
    return input ? { kind: 'input_required', input: result } : { kind: 'result', result };
  }

  /**
   * The HTTP-level check of a `tools/call`, `resources/read` or `prompts/get` before any SDK sees
   * it, the same in both eras: a tool call over the tool's own argument limit is a 413, and a use
   * the principal lacks scopes for is an HTTP 403 with a step-up challenge (thrown, for the
   * exception filter), decided by the one policy. Returns false when it answered.
   */
  async precheck(
    req: McpRequest,
    res: Response,
    era: McpEra,
    method: string,
    params: unknown,
  ): Promise<boolean> {
    let capability: Capability | undefined;
    let label: string;
    if (method === 'tools/call') {
      const name = (params as { name?: unknown } | undefined)?.name;
      if (typeof name !== 'string') return true;
      const tool = (await this.catalog.forTenant(req.tenant.id)).get(name);
      if (tool && req.bodyBytes !== undefined && req.bodyBytes > tool.limits.maxBytes) {
        sendJsonRpcError(
          res,
          413,
          JSONRPC_INVALID_PARAMS,
          tooLarge(req.bodyBytes, tool.limits.maxBytes, tool.name),
        );
        return false;
      }
      capability = tool;
      label = `tool ${name}`;
    } else {
      capability = this.capabilities.named(method, params);
      if (!capability) return true;
      label = `${capability.kind} ${capability.name}`;
    }
    const decision = decideAccess(req.user, capability, await this.grants.forTenant(req.tenant.id));
    if (decision.kind !== 'insufficient_scope' || !capability) return true;
    const requestId = res.getHeader('X-Request-Id') as string | undefined;
    if (capability.kind === 'tool') {
      this.recorder.record({
        era,
        tenant: req.tenant,
        principal: req.user,
        tool: capability.name,
        known: true,
        outcome: 'denied',
        requestId,
        detail: { reason: 'insufficient_scope' },
      });
    } else {
      this.recorder.recordUse({
        era,
        tenant: req.tenant,
        principal: req.user,
        action: capability.kind === 'prompt' ? 'prompt.get' : 'resource.read',
        name: grantKey(capability.kind, capability.name),
        outcome: 'denied',
        requestId,
        detail: { reason: 'insufficient_scope' },
      });
    }
    const scope = decision.scopes.join(' ');
    res.setHeader(
      'WWW-Authenticate',
      bearerChallenge({
        error: 'insufficient_scope',
        scope,
        resource_metadata: resourceMetadataUrl(this.config.publicUrl, req.tenant.slug),
        error_description: `${capability.name} needs ${scope}`,
      }),
    );
    throw new ForbiddenException(
      `insufficient scope: ${label} needs ${scope}; ask for a key or token with it`,
    );
  }
}
