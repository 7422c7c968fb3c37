import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import {
  ask,
  type CapabilityContext,
  inputRequired,
  McpComplete,
  McpPrompt,
  McpResource,
  McpResourceTemplate,
  type PromptResult,
  type ResourceContents,
} from '@app/tools';
import { TEST_IMAGE_BASE64 } from './fixture-data';

const user = (text: string): PromptResult['messages'][number] => ({
  role: 'user',
  content: { type: 'text', text },
});

/** Words a completion offers, filtered by what the client typed so far. */
const WORDS = ['paris', 'park', 'party', 'test', 'testing', 'tested', 'value1', 'value2'];
const completeFrom = (candidates: readonly string[], value: string) =>
  candidates.filter((w) => w.startsWith(value.toLowerCase()));

/**
 * The suite's resources, resource template, prompts and completions (resources-*, prompts-*,
 * completion-complete, input-required-result-non-tool-request), as platform capabilities.
 */
@Injectable()
export class ResourcesAndPrompts {
  @McpResource({
    name: 'static-text',
    uri: 'test://static-text',
    title: 'Static Text Resource',
    description: 'A static text resource for testing',
    mimeType: 'text/plain',
  })
  staticText(uri: string): ResourceContents {
    return {
      uri,
      mimeType: 'text/plain',
      text: 'This is the content of the static text resource.',
    };
  }

  @McpResource({
    name: 'static-binary',
    uri: 'test://static-binary',
    title: 'Static Binary Resource',
    description: 'A static binary resource (image) for testing',
    mimeType: 'image/png',
  })
  staticBinary(uri: string): ResourceContents {
    return { uri, mimeType: 'image/png', blob: TEST_IMAGE_BASE64 };
  }

  @McpResource({
    name: 'watched-resource',
    uri: 'test://watched-resource',
    title: 'Watched Resource',
    description: 'A resource clients can subscribe to',
    mimeType: 'text/plain',
  })
  watched(uri: string): ResourceContents {
    return { uri, mimeType: 'text/plain', text: 'Watched resource content' };
  }

  @McpResourceTemplate({
    name: 'template',
    uriTemplate: 'test://template/{id}/data',
    title: 'Resource Template',
    description: 'A resource template with parameter substitution',
    mimeType: 'application/json',
  })
  template(uri: string, variables: Record<string, string>): ResourceContents {
    const { id } = variables;
    return {
      uri,
      mimeType: 'application/json',
      text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` }),
    };
  }

  @McpComplete({ resourceTemplate: 'template', argument: 'id' })
  completeTemplateId(value: string): string[] {
    return ['1', '2', '3', '123'].filter((id) => id.startsWith(value));
  }

  @McpPrompt({
    name: 'test_simple_prompt',
    title: 'Simple Test Prompt',
    description: 'A simple prompt without arguments',
  })
  simplePrompt(): PromptResult {
    return { messages: [user('This is a simple prompt for testing.')] };
  }

  @McpPrompt({
    name: 'test_prompt_with_arguments',
    title: 'Prompt With Arguments',
    description: 'A prompt with required arguments',
    args: z.object({
      arg1: z.string().describe('First test argument'),
      arg2: z.string().describe('Second test argument'),
    }),
  })
  promptWithArguments({ arg1, arg2 }: { arg1: string; arg2: string }): PromptResult {
    return { messages: [user(`Prompt with arguments: arg1='${arg1}', arg2='${arg2}'`)] };
  }

  @McpComplete({ prompt: 'test_prompt_with_arguments', argument: 'arg1' })
  completeArg1(value: string): string[] {
    return completeFrom(WORDS, value);
  }

  @McpComplete({ prompt: 'test_prompt_with_arguments', argument: 'arg2' })
  completeArg2(value: string): string[] {
    return completeFrom(WORDS, value);
  }

  @McpPrompt({
    name: 'test_prompt_with_embedded_resource',
    title: 'Prompt With Embedded Resource',
    description: 'A prompt that includes an embedded resource',
    args: z.object({ resourceUri: z.string().describe('URI of the resource to embed') }),
  })
  promptWithEmbeddedResource({ resourceUri }: { resourceUri: string }): PromptResult {
    return {
      messages: [
        {
          role: 'user',
          content: {
            type: 'resource',
            resource: {
              uri: resourceUri,
              mimeType: 'text/plain',
              text: 'Embedded resource content for testing.',
            },
          },
        },
        user('Please process the embedded resource above.'),
      ],
    };
  }

  @McpPrompt({
    name: 'test_prompt_with_image',
    title: 'Prompt With Image',
    description: 'A prompt that includes image content',
  })
  promptWithImage(): PromptResult {
    return {
      messages: [
        {
          role: 'user',
          content: { type: 'image', data: TEST_IMAGE_BASE64, mimeType: 'image/png' },
        },
        user('Please analyze the image above.'),
      ],
    };
  }

  @McpPrompt({
    name: 'test_input_required_result_prompt',
    title: 'Prompt Requiring Input',
    description: 'A prompt that asks the user for its context first (input required)',
  })
  promptRequiringInput(_args: unknown, ctx: CapabilityContext) {
    const answer = ctx.answers.accepted('user_context');
    if (!answer) {
      return inputRequired({
        user_context: ask.elicit('What context should the prompt use?', {
          type: 'object',
          properties: { context: { type: 'string' } },
          required: ['context'],
        }),
      });
    }
    const context = typeof answer.context === 'string' ? answer.context : 'unknown';
    return { messages: [user(`Prompt with context: ${context}`)] } satisfies PromptResult;
  }
}
