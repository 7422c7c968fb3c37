import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { ask, inputRequired, McpTool, type ToolContext } from '@app/tools';

const NoArgs = z.object({});

/** What an elicitation was answered with, as the suite's reference server reports it. */
function elicited(ctx: ToolContext, key: string): string {
  const answer = ctx.answers.get(key);
  return `action=${ctx.answers.action(key)}, content=${JSON.stringify(answer?.content ?? {})}`;
}

/**
 * The suite's tools that ask the client mid-call (tools-call-sampling, tools-call-elicitation,
 * elicitation-sep1034-defaults, elicitation-sep1330-enums): written once with `inputRequired`, so
 * the 2025 era puts each question on the call's stream and the 2026-07-28 era answers
 * `input_required`.
 */
@Injectable()
export class AskingTools {
  @McpTool({
    name: 'test_sampling',
    description: 'Tests server-initiated sampling (LLM completion request)',
    input: z.object({ prompt: z.string().describe('The prompt to send to the LLM') }),
  })
  sampling({ prompt }: { prompt: string }, ctx: ToolContext) {
    if (!ctx.answers.has('completion')) {
      return inputRequired({
        completion: ask.sample({
          messages: [{ role: 'user', content: { type: 'text', text: prompt } }],
          maxTokens: 100,
        }),
      });
    }
    return `LLM response: ${ctx.answers.sampledText('completion') ?? 'No response'}`;
  }

  @McpTool({
    name: 'test_elicitation',
    description: 'Tests server-initiated elicitation (user input request)',
    input: z.object({ message: z.string().describe('The message to show the user') }),
  })
  elicitation({ message }: { message: string }, ctx: ToolContext) {
    if (!ctx.answers.has('response')) {
      return inputRequired({
        response: ask.elicit(message, {
          type: 'object',
          properties: { response: { type: 'string', description: "User's response" } },
          required: ['response'],
        }),
      });
    }
    return `User response: ${elicited(ctx, 'response')}`;
  }

  @McpTool({
    name: 'test_elicitation_sep1034_defaults',
    description: 'Tests elicitation with default values per SEP-1034',
    input: NoArgs,
  })
  elicitationDefaults(_args: unknown, ctx: ToolContext) {
    if (!ctx.answers.has('form')) {
      return inputRequired({
        form: ask.elicit('Please review and update the form fields with defaults', {
          type: 'object',
          properties: {
            name: { type: 'string', description: 'User name', default: 'John Doe' },
            age: { type: 'integer', description: 'User age', default: 30 },
            score: { type: 'number', description: 'User score', default: 95.5 },
            status: {
              type: 'string',
              description: 'User status',
              enum: ['active', 'inactive', 'pending'],
              default: 'active',
            },
            verified: { type: 'boolean', description: 'Verification status', default: true },
          },
          required: [],
        }),
      });
    }
    return `Elicitation completed: ${elicited(ctx, 'form')}`;
  }

  @McpTool({
    name: 'test_elicitation_sep1330_enums',
    description: 'Tests elicitation with enum schema improvements per SEP-1330',
    input: NoArgs,
  })
  elicitationEnums(_args: unknown, ctx: ToolContext) {
    if (!ctx.answers.has('form')) {
      return inputRequired({
        form: ask.elicit('Please select options from the enum fields', {
          type: 'object',
          properties: {
            untitledSingle: {
              type: 'string',
              description: 'Select one option',
              enum: ['option1', 'option2', 'option3'],
            },
            titledSingle: {
              type: 'string',
              description: 'Select one option with titles',
              oneOf: [
                { const: 'value1', title: 'First Option' },
                { const: 'value2', title: 'Second Option' },
                { const: 'value3', title: 'Third Option' },
              ],
            },
            legacyEnum: {
              type: 'string',
              description: 'Select one option (legacy)',
              enum: ['opt1', 'opt2', 'opt3'],
              enumNames: ['Option One', 'Option Two', 'Option Three'],
            },
            untitledMulti: {
              type: 'array',
              description: 'Select multiple options',
              minItems: 1,
              maxItems: 3,
              items: { type: 'string', enum: ['option1', 'option2', 'option3'] },
            },
            titledMulti: {
              type: 'array',
              description: 'Select multiple options with titles',
              minItems: 1,
              maxItems: 3,
              items: {
                anyOf: [
                  { const: 'value1', title: 'First Choice' },
                  { const: 'value2', title: 'Second Choice' },
                  { const: 'value3', title: 'Third Choice' },
                ],
              },
            },
          },
          required: [],
        }),
      });
    }
    return `Elicitation completed: ${elicited(ctx, 'form')}`;
  }
}
