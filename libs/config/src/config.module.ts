import { DynamicModule, Global, Module } from '@nestjs/common';
import { loadConfig, PlatformConfig } from './platform-config';

@Global()
@Module({})
export class ConfigModule {
  /** Pass a config to override the environment (tests); otherwise process.env is validated. */
  static forRoot(config?: PlatformConfig): DynamicModule {
    return {
      module: ConfigModule,
      providers: [{ provide: PlatformConfig, useFactory: () => config ?? loadConfig() }],
      exports: [PlatformConfig],
    };
  }
}
