import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { McpTool, RequireScopes } from '../decorators';

const Operands = z.object({
  a: z.number().describe('First operand'),
  b: z.number().describe('Second operand'),
});
const Result = z.object({ result: z.number() });
const annotations = { readOnlyHint: true, idempotentHint: true, openWorldHint: false };

@Injectable()
@RequireScopes('math:use')
export class MathTools {
  @McpTool({
    name: 'add',
    title: 'Add',
    description: 'Adds two numbers: a + b.',
    input: Operands,
    output: Result,
    annotations,
  })
  add({ a, b }: z.infer<typeof Operands>): z.infer<typeof Result> {
    return { result: a + b };
  }

  @McpTool({
    name: 'subtract',
    title: 'Subtract',
    description: 'Subtracts two numbers: a - b.',
    input: Operands,
    output: Result,
    annotations,
  })
  subtract({ a, b }: z.infer<typeof Operands>): z.infer<typeof Result> {
    return { result: a - b };
  }
}
