import {
  CallHandler,
  ExecutionContext,
  HttpException,
  Injectable,
  NestInterceptor,
  UseInterceptors,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { from, Observable, switchMap } from 'rxjs';
import { PlatformConfig } from '@app/config';
import { createJsonBodyReader } from './json-body';

/**
 * Parses the JSON body of the route it is applied to once the global guard has let the request
 * in: interceptors run after guards, so a request without valid credentials costs no parsing.
 * Applied per route (see ParseJsonBody) rather than globally: any interceptor makes Nest run an
 * rxjs pipeline and AsyncResource bindings for every request of a route, which the MCP hot path,
 * reading its own bodies, does not pay.
 */
@Injectable()
export class JsonBodyInterceptor implements NestInterceptor {
  private readonly read: ReturnType<typeof createJsonBodyReader>;

  constructor(config: PlatformConfig) {
    this.read = createJsonBodyReader({ timeoutMs: config.requestTimeoutMs });
  }

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = ctx.switchToHttp();
    return from(this.read(http.getRequest<Request>(), http.getResponse<Response>())).pipe(
      switchMap((outcome) => {
        if (!outcome.ok) throw new HttpException(outcome.message, outcome.status);
        return next.handle();
      }),
    );
  }
}

/** The route takes a JSON body, read and parsed after authentication. */
export const ParseJsonBody = () => UseInterceptors(JsonBodyInterceptor);
