import { Global, MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import { PlatformConfig } from '@app/config';
import { HealthController } from './health.controller';
import { HttpExceptionFilter } from './http-exception.filter';
import { HttpMetricsMiddleware } from './http-metrics.middleware';
import { AccessLogMiddleware, LogFlush, loggerParams, RootLogger } from './logging';
import { Metrics } from './metrics';
import { MetricsController } from './metrics.controller';

@Module({
  providers: [{ provide: RootLogger, inject: [PlatformConfig], useFactory: RootLogger.create }],
  exports: [RootLogger],
})
class RootLoggerModule {}

@Global()
@Module({
  imports: [
    RootLoggerModule,
    LoggerModule.forRootAsync({
      imports: [RootLoggerModule],
      inject: [RootLogger],
      useFactory: loggerParams,
    }),
    TerminusModule.forRoot({ logger: false }),
  ],
  controllers: [HealthController, MetricsController],
  providers: [Metrics, LogFlush, { provide: APP_FILTER, useClass: HttpExceptionFilter }],
  exports: [Metrics],
})
export class ObservabilityModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(HttpMetricsMiddleware).forRoutes('*path');
    consumer.apply(AccessLogMiddleware).forRoutes('*path');
  }
}
