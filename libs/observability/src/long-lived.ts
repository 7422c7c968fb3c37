import type { IncomingMessage } from 'node:http';

const LEAVE = Symbol('long-lived');

type Marked = IncomingMessage & { [LEAVE]?: () => void };

/**
 * A request whose response is known only once its body is read to be a long-lived stream (a
 * 2026-07-28 `subscriptions/listen`) says so here, so that graceful shutdown does not wait for it
 * like an ordinary request; whoever counts requests registers with `onLongLived`.
 */
export function markLongLived(req: IncomingMessage): void {
  const leave = (req as Marked)[LEAVE];
  (req as Marked)[LEAVE] = undefined;
  leave?.();
}

export function onLongLived(req: IncomingMessage, leave: () => void): void {
  (req as Marked)[LEAVE] = leave;
}
