import { Inject, Injectable } from '@nestjs/common';
import { z } from 'zod';
import { ConfigError } from '@app/config';
import { ContributedTool, ToolContributor, ToolSource } from '@app/tools';

export const BENCH_TOOL_PACK_SIZE = Symbol('BENCH_TOOL_PACK_SIZE');

const MAX_PACK = 1000;

/** BENCH_TOOL_PACK: how many synthetic tools the bench platform adds (0 to 1000, default 0). */
export function benchToolPackSize(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.BENCH_TOOL_PACK;
  if (raw === undefined || raw === '') return 0;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > MAX_PACK) {
    throw new ConfigError([
      `BENCH_TOOL_PACK: expected an integer from 0 to ${MAX_PACK}, not "${raw}"`,
    ]);
  }
  return n;
}

const Input = z.object({ x: z.number().describe('any number'), note: z.string().optional() });
const Output = z.object({ x: z.number() });

/**
 * Synthetic tools bench_tool_001…, so that `tools/list` can be measured with a large catalog.
 * Scope-free (any key of a tenant sees them) and with the platform's default argument limits.
 */
@Injectable()
@ToolSource()
export class BenchToolPack implements ToolContributor {
  constructor(@Inject(BENCH_TOOL_PACK_SIZE) private readonly size: number) {}

  tools(): ContributedTool[] {
    return Array.from({ length: this.size }, (_, i) => ({
      options: {
        name: `bench_tool_${String(i + 1).padStart(3, '0')}`,
        title: `Benchmark tool ${i + 1}`,
        description:
          'Synthetic tool of the benchmark pack: returns x. Not part of the product catalog.',
        input: Input,
        output: Output,
        annotations: { readOnlyHint: true },
      },
      handler: (args: unknown) => ({ x: (args as z.infer<typeof Input>).x }),
    }));
  }
}
