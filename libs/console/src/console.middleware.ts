import { Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CONSOLE_SECURITY_HEADERS, consoleDirectory, consoleTarget } from './console-files';

const errorBody = (statusCode: number, error: string, message: string) => ({
  statusCode,
  error,
  message,
});

/**
 * Serves the console's build at /console: hashed assets cached for a year, every other path the
 * SPA's index.html (never cached, so a new build is picked up at once), all with the console's
 * security headers. The files hold no data; the admin API behind them checks every call.
 */
@Injectable()
export class ConsoleMiddleware implements NestMiddleware {
  private readonly root = consoleDirectory();

  use(req: Request, res: Response, next: NextFunction): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    res.set(CONSOLE_SECURITY_HEADERS);
    const target = consoleTarget(req.path);
    if (target.kind === 'missing') {
      res.status(404).json(errorBody(404, 'Not Found', `The console has no file ${req.path}`));
      return;
    }
    if (!existsSync(join(this.root, 'index.html'))) {
      res
        .status(503)
        .json(
          errorBody(
            503,
            'Service Unavailable',
            'The console is not built: run `npm run build` (`npm start` builds it when missing)',
          ),
        );
      return;
    }
    const asset = target.kind === 'asset';
    res.sendFile(
      asset ? target.file : 'index.html',
      {
        root: this.root,
        dotfiles: 'deny',
        ...(asset ? { maxAge: '365d', immutable: true } : { cacheControl: false }),
        headers: asset ? {} : { 'Cache-Control': 'no-cache' },
      },
      (err?: Error & { status?: number }) => {
        if (!err || res.headersSent) return;
        const status = err.status === 404 ? 404 : 500;
        res
          .status(status)
          .json(
            status === 404
              ? errorBody(404, 'Not Found', `The console has no file ${req.path}`)
              : errorBody(500, 'Internal Server Error', 'The console file could not be read'),
          );
      },
    );
  }
}
