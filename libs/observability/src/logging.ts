import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  Inject,
  Injectable,
  NestMiddleware,
  OnApplicationShutdown,
  RequestMethod,
} from '@nestjs/common';
import type { Params } from 'nestjs-pino';
import pino from 'pino';
import { PlatformConfig } from '@app/config';

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

/** The process's one pino logger: pino-http's and the lean access log's. */
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

/**
 * Tenant MCP traffic (`/t/...`) is the hot path: every tool call is already in the audit log and
 * the metrics, while pino-http's per-request child logger took about a seventh of a tool call's CPU
 * in the benchmark's profile. Those routes get a lean line instead: refusals and failures at info
 * and error as usual, successful requests only when LOG_LEVEL is debug.
 */
export const LEAN_LOGGED_ROUTES = 't/{*path}';

/** Asynchronous log writes still buffered when the application closes are written out. */
@Injectable()
export class LogFlush implements OnApplicationShutdown {
  constructor(@Inject(RootLogger) private readonly log: pino.Logger) {}

  onApplicationShutdown(): Promise<void> {
    return new Promise((done) => this.log.flush(() => done()));
  }
}

@Injectable()
export class LeanAccessLogMiddleware implements NestMiddleware {
  constructor(@Inject(RootLogger) private readonly log: pino.Logger) {}

  use(req: IncomingMessage & { id?: string }, res: ServerResponse, next: () => void): void {
    const started = performance.now();
    res.once('close', () => {
      const status = res.statusCode;
      // A client that goes away (or ends an event stream) is routine: info, like a refusal.
      const ended = res.writableFinished;
      const level = status >= 500 ? 'error' : status >= 400 || !ended ? 'info' : 'debug';
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

export function loggerParams(logger: pino.Logger): Params {
  return {
    exclude: [{ path: LEAN_LOGGED_ROUTES, method: RequestMethod.ALL }],
    pinoHttp: {
      logger,
      // pino-http puts its own serializers over the logger's unless given these.
      serializers,
      genReqId: requestId,
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' },
      // Clients' mistakes are routine; only the server's own failures are warnings.
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
    },
  };
}
