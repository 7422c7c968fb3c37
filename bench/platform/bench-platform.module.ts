import { DynamicModule, Module } from '@nestjs/common';
import type { PlatformConfig } from '@app/config';
import { AppModule } from '../../apps/platform/src/app.module';
import { BENCH_TOOL_PACK_SIZE, BenchToolPack, benchToolPackSize } from './bench-tool-pack';

/** The product's AppModule as it is, plus the benchmark-only tool pack. Composition only. */
@Module({})
export class BenchPlatformModule {
  static forRoot(config?: PlatformConfig, toolPack = benchToolPackSize()): DynamicModule {
    return {
      module: BenchPlatformModule,
      imports: [AppModule.forRoot(config)],
      providers: [{ provide: BENCH_TOOL_PACK_SIZE, useValue: toolPack }, BenchToolPack],
    };
  }
}
