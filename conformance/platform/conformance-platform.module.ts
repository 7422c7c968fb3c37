import { DynamicModule, Module } from '@nestjs/common';
import type { PlatformConfig } from '@app/config';
import { TenancyModule } from '@app/tenancy';
import { AppModule } from '../../apps/platform/src/app.module';
import { AskingTools } from './asking-tools';
import { ContentTools } from './content-tools';
import { DiagnosticTools } from './diagnostic-tools';
import { InputRequiredTools } from './input-required-tools';
import { ResourcesAndPrompts } from './resources-and-prompts';

/**
 * The product's AppModule as it is, plus the fixtures the MCP conformance suite calls (its test_*
 * tools, resources, prompts and completions). Composition only: none of this is in the product's
 * catalog.
 */
@Module({})
export class ConformancePlatformModule {
  static forRoot(config?: PlatformConfig): DynamicModule {
    return {
      module: ConformancePlatformModule,
      imports: [AppModule.forRoot(config), TenancyModule],
      providers: [
        ContentTools,
        AskingTools,
        ResourcesAndPrompts,
        InputRequiredTools,
        DiagnosticTools,
      ],
    };
  }
}
