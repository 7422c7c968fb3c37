import { MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { LoggerModule } from 'nestjs-pino';
import { PlatformConfig } from '@app/config';
import { DatabaseModule } from '@app/database';
import { HttpExceptionFilter } from './http-exception.filter';
import { HttpMetricsMiddleware } from './http-metrics.middleware';
import { AccessLogMiddleware, LogFlush, loggerParams, RootLogger } from './logging';
import { Metrics } from './metrics';

@Module({
  providers: [{ provide: RootLogger, inject: [PlatformConfig], useFactory: RootLogger.create }],
  exports: [RootLogger],
})
class RootLoggerModule {}

@Module({
  imports: [
    DatabaseModule,
    RootLoggerModule,
    LoggerModule.forRootAsync({
      imports: [RootLoggerModule],
      inject: [RootLogger],
      useFactory: loggerParams,
    }),
  ],
  providers: [Metrics, LogFlush, { provide: APP_FILTER, useClass: HttpExceptionFilter }],
  exports: [Metrics],
})
export class ObservabilityModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(HttpMetricsMiddleware).forRoutes('*path');
    consumer.apply(AccessLogMiddleware).forRoutes('*path');
  }
}
