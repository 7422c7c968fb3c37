import { Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import { PlatformConfig } from '@app/config';
import { HealthController } from './health.controller';
import { HttpExceptionFilter } from './http-exception.filter';
import { loggerParams } from './logging';

@Module({
  imports: [
    LoggerModule.forRootAsync({ inject: [PlatformConfig], useFactory: loggerParams }),
    TerminusModule.forRoot({ logger: false }),
  ],
  controllers: [HealthController],
  providers: [{ provide: APP_FILTER, useClass: HttpExceptionFilter }],
})
export class ObservabilityModule {}
