import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  type JSONRPCMessage,
  ListToolsRequestSchema,
  type MessageExtraInfo,
  type ServerNotification,
  type ServerRequest,
} from '@modelcontextprotocol/sdk/types.js';
import { DirectTransport } from './direct-transport';

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** A promise and the function that resolves it. */
function gate<T = void>(): { promise: Promise<T>; open: (value: T) => void } {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => (open = resolve));
  return { promise, open };
}

/** Resolves after everything already queued (promise jobs and I/O callbacks) has run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The extra info a caller attaches to its message, naming it. */
const as = (caller: string): MessageExtraInfo => ({
  authInfo: { token: '', clientId: caller, scopes: [] },
});

const listTools = (id: string | number): JSONRPCMessage => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/list',
  params: {},
});

describe(DirectTransport.name, () => {
  let server: Server;
  let transport: DirectTransport;
  /** Every message the server was handed, as it was handed over. */
  let delivered: JSONRPCMessage[];
  /** How each tools/list call is answered; by default at once, with a tool named after the caller. */
  let onList: (
    extra: Extra,
  ) => Promise<{ tools: { name: string; inputSchema: { type: 'object' } }[] }>;

  const tool = (name: string) => ({ name, inputSchema: { type: 'object' as const } });
  /** `caller`'s notifications/cancelled of its request `requestId`. */
  const cancel = (requestId: string | number, caller: string) =>
    transport.dispatch(
      { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId } },
      as(caller),
    );
  /** tools/list calls from now on never answer; resolves with the first one's abort signal. */
  const listsHang = () => {
    const started = gate<AbortSignal>();
    onList = async (extra) => {
      started.open(extra.signal);
      await new Promise(() => undefined);
      return { tools: [] };
    };
    return started.promise;
  };

  beforeEach(async () => {
    server = new Server({ name: 'test', version: '1.0.0' }, { capabilities: { tools: {} } });
    onList = (extra) => Promise.resolve({ tools: [tool(extra.authInfo?.clientId ?? '?')] });
    server.setRequestHandler(ListToolsRequestSchema, (_req, extra) => onList(extra));
    transport = new DirectTransport();
    await server.connect(transport);
    const inner = transport.onmessage;
    delivered = [];
    transport.onmessage = (message, extra) => {
      delivered.push(message);
      inner?.(message, extra);
    };
  });

  afterEach(async () => {
    await server.close();
  });

  it('answers a request with the caller its own response under its own id', async () => {
    const call = transport.dispatch(listTools('abc'), as('alice'));
    expect(await call.response).toEqual({
      jsonrpc: '2.0',
      id: 'abc',
      result: { tools: [tool('alice')] },
    });
  });

  it('keeps concurrent requests that use the same id apart, whatever order they finish in', async () => {
    const aliceMayAnswer = gate();
    onList = async (extra) => {
      const caller = extra.authInfo?.clientId ?? '?';
      if (caller === 'alice') await aliceMayAnswer.promise;
      return { tools: [tool(caller)] };
    };

    const alice = transport.dispatch(listTools(1), as('alice'));
    const bob = transport.dispatch(listTools(1), as('bob'));
    // Bob's answer comes first while Alice's handler still waits.
    expect(await bob.response).toEqual({ jsonrpc: '2.0', id: 1, result: { tools: [tool('bob')] } });
    aliceMayAnswer.open();
    expect(await alice.response).toEqual({
      jsonrpc: '2.0',
      id: 1,
      result: { tools: [tool('alice')] },
    });

    // Inside the server the two requests never shared an id.
    const ids = delivered.map((m) => ('id' in m ? m.id : undefined));
    expect(new Set(ids).size).toBe(2);
  });

  it('answers an error response under the caller id too', async () => {
    const call = transport.dispatch(
      { jsonrpc: '2.0', id: 'x-1', method: 'no/such/method' },
      as('alice'),
    );
    expect(await call.response).toMatchObject({
      jsonrpc: '2.0',
      id: 'x-1',
      error: { code: -32601 },
    });
  });

  it('delivers a notification and resolves its response undefined at once', async () => {
    const initialized = jest.fn();
    server.oninitialized = initialized;

    const call = transport.dispatch(
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      as('alice'),
    );

    expect(await call.response).toBeUndefined();
    await settle();
    expect(initialized).toHaveBeenCalledTimes(1);
    call.cancel(); // nothing to cancel
    expect(delivered).toHaveLength(1);
  });

  it('cancel() stops a slow request: undefined response, aborted handler, late answer dropped', async () => {
    const started = gate<AbortSignal>();
    const mayAnswer = gate();
    let handlerFinished = false;
    onList = async (extra) => {
      started.open(extra.signal);
      await mayAnswer.promise;
      handlerFinished = true;
      return { tools: [tool('late')] };
    };
    const call = transport.dispatch(listTools(9), as('alice'));
    const signal = await started.promise;
    expect(signal.aborted).toBe(false);

    call.cancel();

    expect(await call.response).toBeUndefined();
    await settle();
    expect(signal.aborted).toBe(true);
    const cancellations = () =>
      delivered.filter((m) => 'method' in m && m.method.endsWith('cancelled'));
    expect(cancellations()).toHaveLength(1);
    const internalId = 'id' in delivered[0] ? delivered[0].id : undefined;
    expect(cancellations()[0]).toMatchObject({ params: { requestId: internalId } });

    // A second cancel() does nothing.
    call.cancel();
    await settle();
    expect(cancellations()).toHaveLength(1);

    // The handler finishing late is harmless, and so is a response for the cancelled id.
    mayAnswer.open();
    await settle();
    expect(handlerFinished).toBe(true);
    await expect(
      transport.send({ jsonrpc: '2.0', id: internalId!, result: { tools: [] } }),
    ).resolves.toBeUndefined();
    expect(await call.response).toBeUndefined();

    // The transport still serves requests afterwards.
    onList = (extra) => Promise.resolve({ tools: [tool(extra.authInfo?.clientId ?? '?')] });
    const next = transport.dispatch(listTools(9), as('bob'));
    expect(await next.response).toEqual({
      jsonrpc: '2.0',
      id: 9,
      result: { tools: [tool('bob')] },
    });
  });

  it('cancel() after the response arrived does nothing', async () => {
    const call = transport.dispatch(listTools(3), as('alice'));
    const response = await call.response;
    call.cancel();
    await settle();
    expect(response).toMatchObject({ id: 3 });
    expect(delivered.filter((m) => 'method' in m && m.method.endsWith('cancelled'))).toEqual([]);
  });

  // A client's notifications/cancelled names the request by the id the client chose. The shared
  // server knows requests only by their remapped ids, so passing the notification on as it is
  // aborts whichever request of whichever caller happens to hold that id inside the server.
  it("a caller's notifications/cancelled never aborts another caller's request", async () => {
    const started = gate<AbortSignal>();
    const mayAnswer = gate();
    onList = async (extra) => {
      started.open(extra.signal);
      await mayAnswer.promise;
      return { tools: [tool(extra.authInfo?.clientId ?? '?')] };
    };
    const alice = transport.dispatch(listTools('a-1'), as('alice'));
    const aliceSignal = await started.promise;
    const internalId = 'id' in delivered[0] ? delivered[0].id : undefined;

    // Bob cancels "his" request, which has the number Alice's request got inside the server.
    cancel(internalId!, 'bob');
    await settle();

    expect(aliceSignal.aborted).toBe(false);
    mayAnswer.open();
    expect(await alice.response).toMatchObject({ id: 'a-1', result: { tools: [tool('alice')] } });
  });

  it("a caller's notifications/cancelled cancels its own request, which ends with an error", async () => {
    const started = listsHang();
    const mine = transport.dispatch(listTools('x-7'), as('alice'));
    const signal = await started;
    // Another caller using the same id changes nothing; the owner's cancel does.
    cancel('x-7', 'bob');
    await settle();
    expect(signal.aborted).toBe(false);
    cancel('x-7', 'alice');
    expect(await mine.response).toEqual({
      jsonrpc: '2.0',
      id: 'x-7',
      error: { code: -32800, message: 'request cancelled by the client' },
    });
    await settle();
    expect(signal.aborted).toBe(true);
  });

  // The shared server is closed when its tenant changes; requests still in flight then must get
  // an answer (or at least settle), or their HTTP requests hang until the client gives up.
  it('settles requests still in flight when the server closes', async () => {
    const started = listsHang();
    const call = transport.dispatch(listTools(5), as('alice'));
    await started;

    await server.close();

    const outcome = await Promise.race([
      call.response.then(
        () => 'settled',
        () => 'settled',
      ),
      settle().then(() => 'pending'),
    ]);
    expect(outcome).toBe('settled');
    expect(await call.response).toMatchObject({
      id: 5,
      error: { code: -32000, message: expect.stringContaining('retry') as unknown },
    });
  });
});
