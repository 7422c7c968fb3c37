import { MiddlewareConsumer, Module, NestModule, RequestMethod } from '@nestjs/common';
import { ConsoleMiddleware } from './console.middleware';

/** The admin web console (apps/console), served from its build at /console. */
@Module({ providers: [ConsoleMiddleware] })
export class ConsoleModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer
      .apply(ConsoleMiddleware)
      .forRoutes(
        { path: 'console', method: RequestMethod.ALL },
        { path: 'console/*path', method: RequestMethod.ALL },
      );
  }
}
