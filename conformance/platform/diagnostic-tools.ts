import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { ToolGrantsService } from '@app/tenancy';
import {
  ask,
  type CapabilityKind,
  grantKey,
  inputRequired,
  McpPrompt,
  McpTool,
  type PromptResult,
  type ToolContext,
} from '@app/tools';

const NoArgs = z.object({});

const DYNAMIC_TOOL = 'test_dynamic_tool';
const DYNAMIC_PROMPT = 'test_dynamic_prompt';

/**
 * The diagnostic tools the suite's server-stateless scenario (2026-07-28) calls to exercise the
 * platform: an undeclared capability, the response stream of a call that asks the client, logging
 * without a logLevel, and real changes to the tenant's tool and prompt lists.
 */
@Injectable()
export class DiagnosticTools {
  constructor(private readonly grants: ToolGrantsService) {}

  @McpTool({
    name: 'test_missing_capability',
    description:
      "Needs the client's model (sampling): refused when the request does not declare sampling",
    input: NoArgs,
  })
  missingCapability(_args: unknown, ctx: ToolContext) {
    const text = ctx.answers.sampledText('sample');
    if (text === undefined) {
      return inputRequired({
        sample: ask.sample({
          messages: [{ role: 'user', content: { type: 'text', text: 'Say something' } }],
          maxTokens: 20,
        }),
      });
    }
    return `Success: ${text}`;
  }

  @McpTool({
    name: 'test_streaming_elicitation',
    description:
      'Reports progress, then asks the user a question: on its response stream, only notifications and the result',
    input: NoArgs,
  })
  async streamingElicitation(_args: unknown, ctx: ToolContext) {
    await ctx.progress(50, 100, 'half way');
    const answer = ctx.answers.accepted('proceed');
    if (!answer) {
      return inputRequired({
        proceed: ask.elicit('Proceed?', {
          type: 'object',
          properties: { proceed: { type: 'boolean' } },
          required: ['proceed'],
        }),
      });
    }
    await ctx.progress(100, 100, 'done');
    return 'Streaming complete';
  }

  @McpTool({
    name: 'test_logging_tool',
    description: 'Logs at info level (sent only when the request asked for logs)',
    input: NoArgs,
  })
  async loggingTool(_args: unknown, ctx: ToolContext) {
    await ctx.log('info', 'Diagnostic trace logging activated');
    return 'Logging evaluated';
  }

  @McpTool({
    name: DYNAMIC_TOOL,
    description: 'Switched on and off by test_trigger_tool_change',
    input: NoArgs,
  })
  dynamicTool(): string {
    return 'dynamic tool';
  }

  @McpPrompt({
    name: DYNAMIC_PROMPT,
    description: 'Switched on and off by test_trigger_prompt_change',
  })
  dynamicPrompt(): PromptResult {
    return { messages: [{ role: 'user', content: { type: 'text', text: 'dynamic prompt' } }] };
  }

  @McpTool({
    name: 'test_trigger_tool_change',
    description: `Changes the tenant's tool list: switches ${DYNAMIC_TOOL} off or back on`,
    input: NoArgs,
  })
  triggerToolChange(_args: unknown, ctx: ToolContext) {
    return this.toggle(ctx, 'tool', DYNAMIC_TOOL);
  }

  @McpTool({
    name: 'test_trigger_prompt_change',
    description: `Changes the tenant's prompt list: switches ${DYNAMIC_PROMPT} off or back on`,
    input: NoArgs,
  })
  triggerPromptChange(_args: unknown, ctx: ToolContext) {
    return this.toggle(ctx, 'prompt', DYNAMIC_PROMPT);
  }

  /** A real grant change, as an admin's would be: stored, and published to every replica. */
  private async toggle(ctx: ToolContext, kind: CapabilityKind, name: string): Promise<string> {
    const key = grantKey(kind, name);
    const enabled = (await this.grants.forTenant(ctx.tenant.id)).get(key) === false;
    await this.grants.set(ctx.tenant.id, key, enabled);
    return `Mutation triggered: ${kind} ${name} ${enabled ? 'enabled' : 'disabled'}`;
  }
}
