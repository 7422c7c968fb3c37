import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Inject, Injectable, NestMiddleware, OnApplicationShutdown } from '@nestjs/common';
import type { Params } from 'nestjs-pino';
import pino from 'pino';
import { PlatformConfig, tenantEndpointOf } from '@app/config';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** Paths whose values never reach a log line, wherever they appear. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'secret',
  '*.secret',
  'token',
  '*.token',
  'password',
  '*.password',
  'adminToken',
  '*.adminToken',
];

/** The path of a URL with every query value masked: credentials sometimes arrive there. */
export function loggableUrl(url: string | undefined): string {
  if (!url) return '';
  const q = url.indexOf('?');
  if (q === -1) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  const names = [...new Set(params.keys())].map((k) => `${encodeURIComponent(k)}=[redacted]`);
  return `${url.slice(0, q)}?${names.join('&')}`;
}

/** Assigns the request id before anything else runs, so every response carries it. */
export function requestIdMiddleware(
  req: IncomingMessage,
  res: ServerResponse,
  next: () => void,
): void {
  requestId(req, res);
  next();
}

export function requestId(req: IncomingMessage, res: ServerResponse): string {
  const assigned = res.getHeader('X-Request-Id');
  if (typeof assigned === 'string') return assigned;
  const incoming = req.headers['x-request-id'];
  const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
  res.setHeader('X-Request-Id', id);
  // Handlers further down (the MCP SDK) only see request headers.
  req.headers['x-request-id'] = id;
  return id;
}

const serializers = {
  req: (req: IncomingMessage & { id?: string }) => ({
    id: req.id,
    method: req.method,
    url: loggableUrl(req.url),
    userAgent: req.headers['user-agent'],
  }),
  res: (res: ServerResponse) => ({ statusCode: res.statusCode }),
};

/** The process's one pino logger: under the Nest logger (nestjs-pino) and the access log. */
export abstract class RootLogger {
  static create(config: PlatformConfig): pino.Logger {
    // Asynchronous writes keep logging off the request path; pino flushes them on exit.
    const stream = pino.destination({
      dest: config.logFile ?? 1,
      sync: false,
      mkdir: true,
      append: true,
    });
    return pino(
      {
        level: config.logLevel,
        redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
        serializers,
      },
      stream,
    );
  }
}

/** Health probes come every few seconds from orchestrators; their lines would drown the rest. */
const UNLOGGED = new Set(['/healthz', '/readyz']);

/** Asynchronous log writes still buffered when the application closes are written out. */
@Injectable()
export class LogFlush implements OnApplicationShutdown {
  constructor(@Inject(RootLogger) private readonly log: pino.Logger) {}

  onApplicationShutdown(): Promise<void> {
    return new Promise((done) => this.log.flush(() => done()));
  }
}

/**
 * One line per request, written when it ends, from the root logger: no per-request child logger
 * and no request-scoped context (nestjs-pino's AsyncLocalStorage turns on async hooks for every
 * promise in the process, a measurable cost on the MCP hot path). Refusals are info, failures
 * error (503s during an outage debug), requests the client abandoned info. Successful requests are info on the admin API, but
 * debug on the tenant MCP routes (`/t/<slug>/mcp`, ...): those are the hot path, and every tool call is in the
 * audit log and the metrics already.
 */
@Injectable()
export class AccessLogMiddleware implements NestMiddleware {
  constructor(@Inject(RootLogger) private readonly log: pino.Logger) {}

  use(req: IncomingMessage & { id?: string }, res: ServerResponse, next: () => void): void {
    if (UNLOGGED.has(req.url ?? '')) return next();
    const started = performance.now();
    res.once('close', () => {
      const status = res.statusCode;
      const ended = res.writableFinished;
      const success = tenantEndpointOf(req.url) ? 'debug' : 'info';
      // A 503 with Retry-After is a deliberate answer during an outage, which DatabaseHealth logs
      // once when it starts and once when it ends: not an error line per request.
      const unavailable = status === 503 && res.hasHeader('Retry-After');
      const level = unavailable
        ? 'debug'
        : status >= 500
          ? 'error'
          : status >= 400 || !ended
            ? 'info'
            : success;
      if (!this.log.isLevelEnabled(level)) return;
      req.id = String(res.getHeader('X-Request-Id') ?? '');
      this.log[level](
        { req, res, responseTime: Math.round(performance.now() - started) },
        !ended
          ? 'request closed by the client'
          : status >= 500
            ? 'request errored'
            : 'request completed',
      );
    });
    next();
  }
}

/**
 * nestjs-pino provides the Nest logger over the root pino logger; its own request middleware
 * (pino-http plus a request-scoped AsyncLocalStorage) is mounted nowhere: AccessLogMiddleware
 * writes the access log, and the few request-related lines say their request id themselves.
 */
export function loggerParams(logger: pino.Logger): Params {
  return { pinoHttp: { logger }, forRoutes: [] };
}
