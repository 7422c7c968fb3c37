import type { IncomingMessage, ServerResponse } from 'node:http';
import { onLongLived, tenantEndpointOf } from '@app/config';

/**
 * Long-lived event streams (a GET of mcp or sse): they end when their session closes. A POST that
 * turns out to be one (2026-07-28 `subscriptions/listen`) leaves the count through `markLongLived`.
 */
const isStream = (req: IncomingMessage) => {
  if (req.method !== 'GET') return false;
  const endpoint = tenantEndpointOf(req.url);
  return endpoint === 'mcp' || endpoint === 'sse';
};

/** Counts requests being answered, other than event streams, so shutdown can wait for them. */
export class InFlight {
  private count = 0;
  private waiters: (() => void)[] = [];

  readonly middleware = (req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    if (isStream(req)) return next();
    this.count += 1;
    let counted = true;
    const leave = () => {
      if (!counted) return;
      counted = false;
      this.count -= 1;
      if (this.count === 0) this.waiters.splice(0).forEach((w) => w());
    };
    res.once('close', leave);
    onLongLived(req, leave);
    next();
  };

  /** Resolves when no ordinary request is running, or after `ms`. */
  idle(ms: number): Promise<void> {
    if (this.count === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
