import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { McpTool, type ToolContext, toolContent } from '@app/tools';
import { TEST_AUDIO_BASE64, TEST_IMAGE_BASE64 } from './fixture-data';

const NoArgs = z.object({});

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

/**
 * The conformance suite's plain tools (tools-call-* scenarios, both protocol revisions): each
 * answers as the suite's reference server does, through the platform's own tool API.
 */
@Injectable()
export class ContentTools {
  @McpTool({
    name: 'test_simple_text',
    description: 'Tests simple text content response',
    input: NoArgs,
  })
  simpleText(): string {
    return 'This is a simple text response for testing.';
  }

  @McpTool({
    name: 'test_image_content',
    description: 'Tests image content response',
    input: NoArgs,
  })
  image() {
    return toolContent({ type: 'image', data: TEST_IMAGE_BASE64, mimeType: 'image/png' });
  }

  @McpTool({
    name: 'test_audio_content',
    description: 'Tests audio content response',
    input: NoArgs,
  })
  audio() {
    return toolContent({ type: 'audio', data: TEST_AUDIO_BASE64, mimeType: 'audio/wav' });
  }

  @McpTool({
    name: 'test_embedded_resource',
    description: 'Tests embedded resource content response',
    input: NoArgs,
  })
  embeddedResource() {
    return toolContent({
      type: 'resource',
      resource: {
        uri: 'test://embedded-resource',
        mimeType: 'text/plain',
        text: 'This is an embedded resource content.',
      },
    });
  }

  @McpTool({
    name: 'test_multiple_content_types',
    description: 'Tests response with multiple content types (text, image, resource)',
    input: NoArgs,
  })
  multipleContentTypes() {
    return toolContent(
      { type: 'text', text: 'Multiple content types test:' },
      { type: 'image', data: TEST_IMAGE_BASE64, mimeType: 'image/png' },
      {
        type: 'resource',
        resource: {
          uri: 'test://mixed-content-resource',
          mimeType: 'application/json',
          text: JSON.stringify({ test: 'data', value: 123 }),
        },
      },
    );
  }

  @McpTool({
    name: 'test_tool_with_logging',
    description: 'Tests tool that emits log messages during execution',
    input: NoArgs,
  })
  async withLogging(_args: unknown, ctx: ToolContext): Promise<string> {
    await ctx.log('info', 'Tool execution started');
    await sleep(50, ctx.signal);
    await ctx.log('info', 'Tool processing data');
    await sleep(50, ctx.signal);
    await ctx.log('info', 'Tool execution completed');
    return 'Tool with logging executed successfully';
  }

  @McpTool({
    name: 'test_tool_with_progress',
    description: 'Tests tool that reports progress notifications',
    input: NoArgs,
  })
  async withProgress(_args: unknown, ctx: ToolContext): Promise<string> {
    for (const step of [0, 50, 100]) {
      if (step > 0) await sleep(50, ctx.signal);
      await ctx.progress(step, 100, `Completed step ${step} of 100`);
    }
    return 'Progress test completed';
  }

  @McpTool({
    name: 'test_error_handling',
    description: 'Tests error response handling',
    input: NoArgs,
  })
  errorHandling(): never {
    throw new Error('This tool intentionally returns an error for testing');
  }
}
