import type { IncomingMessage } from 'node:http';

const LEAVE = Symbol('long-lived');

type Marked = IncomingMessage & { [LEAVE]?: (() => void)[] };

/**
 * A request whose response is known only once its body is read to be a long-lived stream (a
 * 2026-07-28 `subscriptions/listen`) says so here: whoever counts requests in flight (graceful
 * shutdown, the concurrency caps) registers with `onLongLived` and stops counting it, as it does
 * not count the GET event streams of 2025 sessions.
 */
export function markLongLived(req: IncomingMessage): void {
  const leave = (req as Marked)[LEAVE];
  (req as Marked)[LEAVE] = undefined;
  leave?.forEach((l) => l());
}

export function onLongLived(req: IncomingMessage, leave: () => void): void {
  ((req as Marked)[LEAVE] ??= []).push(leave);
}
