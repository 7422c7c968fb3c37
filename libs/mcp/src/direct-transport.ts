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
  resolve: (message: JSONRPCMessage | undefined) => void;
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
   * Delivers a message. A request's `response` resolves with the server's answer; `cancel()` (the
   * client went away) tells the server to stop and resolves it undefined. A notification resolves
   * undefined at once.
   */
  dispatch(
    message: JSONRPCMessage,
    extra: MessageExtraInfo,
  ): { response: Promise<JSONRPCMessage | undefined>; cancel: () => void } {
    if (!('id' in message) || !('method' in message)) {
      this.onmessage?.(message, extra);
      return { response: Promise.resolve(undefined), cancel: () => undefined };
    }
    const id = this.nextId++;
    let resolve!: (message: JSONRPCMessage | undefined) => void;
    const response = new Promise<JSONRPCMessage | undefined>((r) => (resolve = r));
    this.pending.set(id, { originalId: message.id, resolve });
    this.onmessage?.({ ...message, id }, extra);
    const cancel = () => {
      if (!this.pending.delete(id)) return;
      this.onmessage?.({
        jsonrpc: '2.0',
        method: 'notifications/cancelled',
        params: { requestId: id, reason: 'client disconnected' },
      });
      resolve(undefined);
    };
    return { response, cancel };
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
