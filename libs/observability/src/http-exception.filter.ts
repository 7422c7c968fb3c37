import {
  ArgumentsHost,
  Catch,
  ExceptionFilter,
  HttpException,
  HttpStatus,
  Logger,
} from '@nestjs/common';
import type { Response } from 'express';
import { STATUS_CODES } from 'node:http';
import { DatabaseHealth, isDatabaseUnavailable } from '@app/database';

/** http-errors style errors carry a status and say whether their message is safe to show. */
interface StatusError {
  status?: number;
  statusCode?: number;
  expose?: boolean;
  message?: string;
}

function defaultMessage(status: number): string {
  return status === 503 ? 'service unavailable; retry shortly' : (STATUS_CODES[status] ?? 'error');
}

/** Every error leaves as `{statusCode, error, message}`; unexpected ones never show their cause. */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpException');

  constructor(private readonly database: DatabaseHealth) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    const { status, message, extra } = this.describe(exception, res.getHeader('X-Request-Id'));
    if (res.headersSent) {
      res.end();
      return;
    }
    if (status === 503) res.setHeader('Retry-After', '5');
    res
      .status(status)
      .json({ ...extra, statusCode: status, error: STATUS_CODES[status] ?? 'Error', message });
  }

  private describe(
    exception: unknown,
    requestId: unknown,
  ): {
    status: number;
    message: string;
    extra?: Record<string, unknown>;
  } {
    if (exception instanceof HttpException) {
      const body = exception.getResponse();
      if (typeof body === 'string') return { status: exception.getStatus(), message: body };
      // Keep structured details (e.g. the health check's) next to the standard fields.
      const extra = { ...(body as Record<string, unknown>) };
      const raw = extra.message;
      delete extra.message;
      delete extra.statusCode;
      delete extra.error;
      const message = Array.isArray(raw)
        ? raw.join('; ')
        : typeof raw === 'string'
          ? raw
          : defaultMessage(exception.getStatus());
      return { status: exception.getStatus(), message, extra };
    }
    if (isDatabaseUnavailable(exception)) {
      // Not logged here: DatabaseHealth writes one line when the outage starts and one when it
      // ends, with the number of requests refused meanwhile.
      this.database.unavailable(exception);
      return {
        status: HttpStatus.SERVICE_UNAVAILABLE,
        message: 'the database is unavailable; retry in a few seconds',
      };
    }
    const e = (exception ?? {}) as StatusError;
    const status = e.status ?? e.statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return {
        status,
        message: e.expose && e.message ? e.message : STATUS_CODES[status]!,
      };
    }
    this.logger.error(
      { requestId },
      exception instanceof Error ? exception.stack : String(exception),
    );
    return {
      status: HttpStatus.INTERNAL_SERVER_ERROR,
      message: 'internal error; the request id is in the X-Request-Id header',
    };
  }
}
