import { Injectable, Module, type DynamicModule } from '@nestjs/common';
import { z } from 'zod';
import type { PlatformConfig } from '@app/config';
import { type ContributedTool, type ToolContributor, ToolSource } from '@app/tools';
import { AppModule } from '../../apps/platform/src/app.module';

/** What `test_count` saw of its calls in this process: the step at which each was aborted. */
export const countEvents: { id: string; abortedAt?: number; finished?: boolean }[] = [];

/**
 * A tool that reports progress and logs every step and stops when its call is cancelled, for the
 * suites about progress, logging and cancellation (the product's own tools do none of these).
 */
@Injectable()
@ToolSource()
class DiagnosticTools implements ToolContributor {
  tools(): ContributedTool[] {
    return [
      {
        options: {
          name: 'test_count',
          description: 'Counts to n, one step every delayMs, with progress and a log per step.',
          input: z.object({
            id: z.string(),
            n: z.number().int().min(1).max(200),
            delayMs: z.number().int().min(0).max(1000).default(20),
          }),
        },
        handler: async (args, ctx) => {
          const { id, n, delayMs } = args as { id: string; n: number; delayMs: number };
          const event: (typeof countEvents)[number] = { id };
          countEvents.push(event);
          for (let i = 1; i <= n; i++) {
            if (ctx.signal.aborted) {
              event.abortedAt = i;
              return { counted: i - 1 };
            }
            await ctx.progress(i, n, `step ${i}`);
            await ctx.log('info', `step ${i} of ${n}`);
            await new Promise((resolve) => setTimeout(resolve, delayMs));
          }
          event.finished = true;
          return { counted: n };
        },
      },
    ];
  }
}

@Module({})
class DiagnosticPlatformModule {}

/** The product's AppModule with the diagnostic tool beside the built-ins. */
export const withDiagnosticTools = (config: PlatformConfig): DynamicModule => ({
  module: DiagnosticPlatformModule,
  imports: [AppModule.forRoot(config)],
  providers: [DiagnosticTools],
});
