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

/** Body-parser and similar errors carry an HTTP status and a client-facing cause. */
interface StatusError {
  status?: number;
  statusCode?: number;
  type?: string;
  expose?: boolean;
  message?: string;
}

const PARSER_MESSAGES: Record<string, string> = {
  'entity.parse.failed': 'request body is not valid JSON',
  'entity.too.large': 'request body is larger than the 1 MiB limit',
  'encoding.unsupported': 'request body encoding is not supported',
  'charset.unsupported': 'request body charset is not supported',
  'request.aborted': 'request was aborted by the client',
};

function defaultMessage(status: number): string {
  return status === 503 ? 'service unavailable; retry shortly' : (STATUS_CODES[status] ?? 'error');
}

/** Every error leaves as `{statusCode, error, message}`; unexpected ones never show their cause. */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpException');

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    const { status, message, extra } = this.describe(exception);
    if (res.headersSent) {
      res.end();
      return;
    }
    res
      .status(status)
      .json({ ...extra, statusCode: status, error: STATUS_CODES[status] ?? 'Error', message });
  }

  private describe(exception: unknown): {
    status: number;
    message: string;
    extra?: Record<string, unknown>;
  } {
    if (exception instanceof HttpException) {
      const body = exception.getResponse();
      if (typeof body === 'string') return { status: exception.getStatus(), message: body };
      // Keep structured details (e.g. the health check's) next to the standard fields.
      const { message: raw, statusCode: _s, error: _e, ...extra } = body as Record<string, unknown>;
      const message = Array.isArray(raw)
        ? raw.join('; ')
        : typeof raw === 'string'
          ? raw
          : defaultMessage(exception.getStatus());
      return { status: exception.getStatus(), message, extra };
    }
    const e = (exception ?? {}) as StatusError;
    const status = e.status ?? e.statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return {
        status,
        message:
          PARSER_MESSAGES[e.type ?? ''] ??
          (e.expose && e.message ? e.message : STATUS_CODES[status]!),
      };
    }
    this.logger.error(exception instanceof Error ? exception.stack : String(exception));
    return {
      status: HttpStatus.INTERNAL_SERVER_ERROR,
      message: 'internal error; the request id is in the X-Request-Id header',
    };
  }
}
