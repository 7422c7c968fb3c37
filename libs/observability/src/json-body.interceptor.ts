import {
  CallHandler,
  ExecutionContext,
  HttpException,
  Injectable,
  NestInterceptor,
  SetMetadata,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { from, Observable, switchMap } from 'rxjs';
import { PlatformConfig } from '@app/config';
import { createJsonBodyReader } from './json-body';

export const READS_OWN_BODY = 'platform:reads-own-body';

/** The route reads its body itself (with createJsonBodyReader), with rules of its own. */
export const ReadsOwnBody = () => SetMetadata(READS_OWN_BODY, true);

/**
 * Parses JSON bodies for every route once the global guard has let the request in: interceptors
 * run after guards, so a request without valid credentials costs no parsing.
 */
@Injectable()
export class JsonBodyInterceptor implements NestInterceptor {
  private readonly read: ReturnType<typeof createJsonBodyReader>;

  constructor(
    private readonly reflector: Reflector,
    config: PlatformConfig,
  ) {
    this.read = createJsonBodyReader({ timeoutMs: config.requestTimeoutMs });
  }

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (ctx.getType() !== 'http') return next.handle();
    const targets = [ctx.getHandler(), ctx.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(READS_OWN_BODY, targets)) return next.handle();
    const http = ctx.switchToHttp();
    const req = http.getRequest<Request>();
    if (req.method === 'GET' || req.method === 'HEAD') return next.handle();
    return from(this.read(req, http.getResponse<Response>())).pipe(
      switchMap((outcome) => {
        if (!outcome.ok) throw new HttpException(outcome.message, outcome.status);
        return next.handle();
      }),
    );
  }
}
