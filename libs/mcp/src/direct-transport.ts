import type {
  Transport,
  TransportSendOptions,
} from '@modelcontextprotocol/sdk/shared/transport.js';
import type {
  JSONRPCMessage,
  MessageExtraInfo,
  RequestId,
} from '@modelcontextprotocol/sdk/types.js';

interface Pending {
  originalId: RequestId;
  resolve: (message: JSONRPCMessage) => void;
}

/**
 * An SDK `Transport` that hands one JSON-RPC request at a time to a long-lived SDK `Server` and
 * resolves with its response: no per-request server, no Web Request/Response conversion, no SSE
 * framing. Request ids are remapped so concurrent requests of different clients (which may all
 * use id 1) never collide inside the shared server.
 */
export class DirectTransport implements Transport {
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;

  private readonly pending = new Map<RequestId, Pending>();
  private nextId = 1;

  start(): Promise<void> {
    return Promise.resolve();
  }

  /**
   * Delivers a message. A request resolves with its response (undefined if `signal` aborts first:
   * the server is told to cancel); a notification resolves undefined at once.
   */
  dispatch(
    message: JSONRPCMessage,
    extra: MessageExtraInfo,
    signal?: AbortSignal,
  ): Promise<JSONRPCMessage | undefined> {
    if (!('id' in message) || !('method' in message)) {
      this.onmessage?.(message, extra);
      return Promise.resolve(undefined);
    }
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, { originalId: message.id, resolve });
      signal?.addEventListener('abort', () => {
        if (!this.pending.delete(id)) return;
        this.onmessage?.({
          jsonrpc: '2.0',
          method: 'notifications/cancelled',
          params: { requestId: id, reason: 'client disconnected' },
        });
        resolve(undefined);
      });
      this.onmessage?.({ ...message, id }, extra);
    });
  }

  send(message: JSONRPCMessage, _options?: TransportSendOptions): Promise<void> {
    // Only responses have a place to go; server notifications outside a stream are dropped.
    if ('id' in message && message.id !== undefined && !('method' in message)) {
      const p = this.pending.get(message.id);
      if (p) {
        this.pending.delete(message.id);
        p.resolve({ ...message, id: p.originalId });
      }
    }
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.pending.clear();
    this.onclose?.();
    return Promise.resolve();
  }
}
