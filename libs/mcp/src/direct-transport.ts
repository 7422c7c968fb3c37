import type {
  Transport,
  TransportSendOptions,
} from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  ErrorCode,
  type JSONRPCMessage,
  type MessageExtraInfo,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';

/** JSON-RPC's conventional code for a cancelled request (MCP itself defines none). */
const REQUEST_CANCELLED = -32800;

interface Pending {
  originalId: RequestId;
  /** The caller and its own id, for the caller's notifications/cancelled. */
  callerKey: string;
  resolve: (message: JSONRPCMessage | undefined) => void;
}

/**
 * An SDK `Transport` that hands one JSON-RPC request at a time to a long-lived SDK `Server` and
 * resolves with its response: no per-request server, no Web Request/Response conversion, no SSE
 * framing. Request ids are remapped so concurrent requests of different callers (which may all
 * use id 1) never collide inside the shared server; a caller's `notifications/cancelled` is
 * mapped the same way, so it can only ever cancel that caller's own request.
 */
export class DirectTransport implements Transport {
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;

  private readonly pending = new Map<number, Pending>();
  private readonly byCaller = new Map<string, number>();
  private nextId = 1;

  start(): Promise<void> {
    return Promise.resolve();
  }

  /**
   * Delivers a message of `caller` (the session or principal it came from; by default the
   * principal in `extra`). A request's `response` resolves with the server's answer; `cancel()`
   * (the client went away) tells the server to stop and resolves it undefined. A notification
   * resolves undefined at once.
   */
  dispatch(
    message: JSONRPCMessage,
    extra: MessageExtraInfo,
    caller = extra.authInfo?.clientId ?? '',
  ): { response: Promise<JSONRPCMessage | undefined>; cancel: () => void } {
    if (!('id' in message) || !('method' in message)) {
      if ('method' in message && message.method === 'notifications/cancelled') {
        this.forwardCancel(message.params?.requestId, caller, extra);
      } else {
        this.onmessage?.(message, extra);
      }
      return { response: Promise.resolve(undefined), cancel: () => undefined };
    }
    const id = this.nextId++;
    const callerKey = `${caller}\u0000${JSON.stringify(message.id)}`;
    let resolve!: (message: JSONRPCMessage | undefined) => void;
    const response = new Promise<JSONRPCMessage | undefined>((r) => (resolve = r));
    this.pending.set(id, { originalId: message.id, callerKey, resolve });
    this.byCaller.set(callerKey, id);
    this.onmessage?.({ ...message, id }, extra);
    const cancel = () => {
      if (!this.settle(id)) return;
      this.cancelInServer(id, 'client disconnected');
      resolve(undefined);
    };
    return { response, cancel };
  }

  send(message: JSONRPCMessage, _options?: TransportSendOptions): Promise<void> {
    // Only responses have a place to go; server notifications outside a stream are dropped.
    if ('id' in message && typeof message.id === 'number' && !('method' in message)) {
      const p = this.settle(message.id);
      p?.resolve({ ...message, id: p.originalId });
    }
    return Promise.resolve();
  }

  /** Requests still running get an error answer rather than no answer at all. */
  close(): Promise<void> {
    for (const [id, p] of [...this.pending]) {
      this.settle(id);
      p.resolve({
        jsonrpc: '2.0',
        id: p.originalId,
        error: {
          code: ErrorCode.ConnectionClosed,
          message:
            'the server answering this request was closed (tenant changed or platform stopping); retry',
        },
      });
    }
    this.onclose?.();
    return Promise.resolve();
  }

  private settle(id: number): Pending | undefined {
    const p = this.pending.get(id);
    if (!p) return undefined;
    this.pending.delete(id);
    this.byCaller.delete(p.callerKey);
    return p;
  }

  private forwardCancel(requestId: unknown, caller: string, extra: MessageExtraInfo): void {
    const id = this.byCaller.get(`${caller}\u0000${JSON.stringify(requestId)}`);
    if (id === undefined) return; // not a request of this caller that is still running
    const p = this.settle(id)!;
    this.cancelInServer(id, 'cancelled by the client', extra);
    // The server sends nothing for a cancelled request, but its HTTP request still needs an end.
    p.resolve({
      jsonrpc: '2.0',
      id: p.originalId,
      error: { code: REQUEST_CANCELLED, message: 'request cancelled by the client' },
    });
  }

  private cancelInServer(id: number, reason: string, extra?: MessageExtraInfo): void {
    this.onmessage?.(
      { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason } },
      extra,
    );
  }
}
