import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { McpTool } from '../decorators';
import type { ToolContext } from '../tool-context';
import { LONG_TEXT_LIMITS, LONG_TEXT_MAX } from './long-text';

const WhoamiOutput = z.object({
  tenant: z.string(),
  kind: z.enum(['platform-admin', 'api-key', 'jwt', 'introspection', 'external']),
  id: z.string(),
  scopes: z.array(z.string()),
  tools: z.array(z.string()).nullable(),
});

const EchoInput = z.object({ text: z.string().max(LONG_TEXT_MAX).describe('Text to send back') });

@Injectable()
export class CoreTools {
  @McpTool({
    name: 'whoami',
    title: 'Who am I',
    description:
      'The tenant, principal kind and id, and scopes of the credential making this call.',
    input: z.object({}),
    output: WhoamiOutput,
    annotations: { readOnlyHint: true, openWorldHint: false },
  })
  whoami(_args: unknown, ctx: ToolContext): z.infer<typeof WhoamiOutput> {
    return {
      tenant: ctx.tenant.slug,
      kind: ctx.principal.kind,
      id: ctx.principal.id,
      scopes: [...ctx.principal.scopes],
      tools: ctx.principal.tools ? [...ctx.principal.tools] : null,
    };
  }

  @McpTool({
    name: 'echo',
    title: 'Echo',
    description: 'Returns its `text` argument unchanged.',
    input: EchoInput,
    annotations: { readOnlyHint: true, openWorldHint: false },
    limits: LONG_TEXT_LIMITS,
  })
  echo({ text }: z.infer<typeof EchoInput>): string {
    return text;
  }
}
