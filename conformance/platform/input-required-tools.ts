import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { ask, type InputRequest, inputRequired, McpTool, type ToolContext } from '@app/tools';

const NoArgs = z.object({});

const askName = (message: string) =>
  ask.elicit(message, {
    type: 'object',
    properties: { name: { type: 'string' } },
    required: ['name'],
  });

const askConfirm = () =>
  ask.elicit('Please confirm', {
    type: 'object',
    properties: { ok: { type: 'boolean' } },
    required: ['ok'],
  });

/** A string field of an accepted elicitation, or undefined. */
function field(ctx: ToolContext, key: string, name: string): string | undefined {
  const value = ctx.answers.accepted(key)?.[name];
  return typeof value === 'string' ? value : undefined;
}

function rootCount(ctx: ToolContext, key: string): number | undefined {
  const roots = ctx.answers.get(key)?.roots;
  return Array.isArray(roots) ? roots.length : undefined;
}

/**
 * The suite's multi-round-trip tools (input-required-result-* scenarios of 2026-07-28). Each is
 * an ordinary handler of the platform: it reads the answers it has so far and returns
 * `inputRequired(...)` for what is missing. The platform turns that into an `input_required`
 * result with a requestState it seals itself (bound to this tenant, principal, tool and
 * arguments, single use) and hands the handler, on the retry, every round's answers; a state the
 * client changed is refused by the platform before any handler runs. In the 2025 era the same
 * handlers ask on the call's stream.
 */
@Injectable()
export class InputRequiredTools {
  @McpTool({
    name: 'test_input_required_result_elicitation',
    description: 'Asks the user for their name (elicitation), then greets them',
    input: NoArgs,
  })
  elicitation(_args: unknown, ctx: ToolContext) {
    const name = field(ctx, 'user_name', 'name');
    if (name === undefined) return inputRequired({ user_name: askName('What is your name?') });
    return `Hello, ${name}!`;
  }

  @McpTool({
    name: 'test_input_required_result_sampling',
    description: "Asks the client's model a question (sampling), then reports the answer",
    input: NoArgs,
  })
  sampling(_args: unknown, ctx: ToolContext) {
    const text = ctx.answers.sampledText('capital_question');
    if (text === undefined) {
      return inputRequired({
        capital_question: ask.sample({
          messages: [
            { role: 'user', content: { type: 'text', text: 'What is the capital of France?' } },
          ],
          maxTokens: 100,
        }),
      });
    }
    return `Sampling result: ${text}`;
  }

  @McpTool({
    name: 'test_input_required_result_list_roots',
    description: 'Asks the client for its roots, then counts them',
    input: NoArgs,
  })
  listRoots(_args: unknown, ctx: ToolContext) {
    const count = rootCount(ctx, 'client_roots');
    if (count === undefined) return inputRequired({ client_roots: ask.roots() });
    return `Found ${count} root(s)`;
  }

  @McpTool({
    name: 'test_input_required_result_request_state',
    description:
      'Asks for a confirmation; the retry carries the requestState the platform sealed, which it verifies',
    input: NoArgs,
  })
  requestState(_args: unknown, ctx: ToolContext) {
    if (ctx.answers.accepted('confirm')?.ok !== true)
      return inputRequired({ confirm: askConfirm() });
    return 'state-ok: requestState validated by the platform, confirmation received';
  }

  @McpTool({
    name: 'test_input_required_result_multiple_inputs',
    description: 'Asks for a name, a sampled greeting and the client roots in one round',
    input: NoArgs,
  })
  multipleInputs(_args: unknown, ctx: ToolContext) {
    const name = field(ctx, 'user_name', 'name');
    const greeting = ctx.answers.sampledText('greeting');
    const roots = rootCount(ctx, 'client_roots');
    if (name === undefined || greeting === undefined || roots === undefined) {
      const missing: Record<string, InputRequest> = {};
      if (name === undefined) missing.user_name = askName('What is your name?');
      if (greeting === undefined) {
        missing.greeting = ask.sample({
          messages: [{ role: 'user', content: { type: 'text', text: 'Generate a greeting' } }],
          maxTokens: 50,
        });
      }
      if (roots === undefined) missing.client_roots = ask.roots();
      return inputRequired(missing);
    }
    return `Name: ${name}; Greeting: ${greeting}; Roots: ${roots}`;
  }

  @McpTool({
    name: 'test_input_required_result_multi_round',
    description: 'Asks for a name, then (in a second round) for a favourite colour',
    input: NoArgs,
  })
  multiRound(_args: unknown, ctx: ToolContext) {
    const name = field(ctx, 'step1', 'name');
    if (name === undefined) return inputRequired({ step1: askName('Step 1: What is your name?') });
    const color = field(ctx, 'step2', 'color');
    if (color === undefined) {
      return inputRequired({
        step2: ask.elicit('Step 2: What is your favorite color?', {
          type: 'object',
          properties: { color: { type: 'string' } },
          required: ['color'],
        }),
      });
    }
    return `Multi-round complete for ${name} who likes ${color}`;
  }

  @McpTool({
    name: 'test_input_required_result_tampered_state',
    description:
      'Asks for a confirmation; a retry whose requestState was changed is refused by the platform',
    input: NoArgs,
  })
  tamperedState(_args: unknown, ctx: ToolContext) {
    if (!ctx.answers.has('confirm')) return inputRequired({ confirm: askConfirm() });
    return 'integrity-ok: state verified';
  }

  @McpTool({
    name: 'test_input_required_result_capabilities',
    description: 'Asks only what the client declared it can answer (elicitation, sampling)',
    input: NoArgs,
  })
  capabilities(_args: unknown, ctx: ToolContext) {
    const asks: Record<string, InputRequest> = {};
    if (ctx.clientCan('elicitation')) {
      asks.elicit_input = ask.elicit('Elicitation input', {
        type: 'object',
        properties: { value: { type: 'string' } },
        required: ['value'],
      });
    }
    if (ctx.clientCan('sampling')) {
      asks.sample_input = ask.sample({
        messages: [{ role: 'user', content: { type: 'text', text: 'Sample request' } }],
        maxTokens: 50,
      });
    }
    const keys = Object.keys(asks);
    if (keys.length === 0) return 'No supported capabilities declared';
    const answered = keys.filter((k) => ctx.answers.has(k));
    if (answered.length === 0) return inputRequired(asks);
    return `capabilities-ok: received ${answered.join(',')}`;
  }
}
