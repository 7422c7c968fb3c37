import type { Metrics } from '@app/observability';
import type { ProtocolPosture } from '@app/tenancy';
import type { McpBodies, McpExchange, McpRequest } from '../mcp-exchange';
import { EraRouter } from './era-router';
import { ModernStrategy } from './modern.strategy';
import { SseStrategy } from './sse.strategy';
import { StreamableStrategy } from './streamable.strategy';

const ENVELOPE = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
};
const modernBody = {
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/list',
  params: { _meta: ENVELOPE },
};
const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: {
    protocolVersion: '2025-11-25',
    capabilities: {},
    clientInfo: { name: 'x', version: '1' },
  },
};

interface Case {
  endpoint?: McpExchange['endpoint'];
  method?: string;
  body?: unknown;
  session?: boolean;
  posture?: ProtocolPosture;
}

describe(EraRouter.name, () => {
  // The real strategies' claims (the modern one classifies with the SDK), their serving stubbed.
  const modern = new ModernStrategy(
    null as never,
    null as never,
    null as never,
    null as never,
    null as never,
    null as never,
  );
  const streamable = new StreamableStrategy(
    null as never,
    null as never,
    null as never,
    null as never,
    null as never,
    null as never,
  );
  const sse = new SseStrategy(null as never, null as never, null as never, null as never);
  const served = jest.fn<string, [string]>();
  for (const [name, s] of [
    ['modern', modern],
    ['streamable', streamable],
    ['sse', sse],
  ] as const) {
    jest.spyOn(s, 'serve').mockImplementation(() => {
      served(name);
      return Promise.resolve();
    });
  }
  const inc = jest.fn();
  let bodyOk = true;
  const receive = jest.fn((x: McpExchange) => {
    x.req.bodyRead = true;
    return Promise.resolve(bodyOk);
  });
  const router = new EraRouter(
    modern,
    streamable,
    sse,
    { receive } as unknown as McpBodies,
    { mcpRequests: { inc } } as unknown as Metrics,
  );

  beforeEach(() => {
    served.mockClear();
    receive.mockClear();
    inc.mockClear();
    bodyOk = true;
  });

  const route = async (c: Case) => {
    served.mockClear();
    const req = {
      method: c.method ?? 'POST',
      headers: c.session ? { 'mcp-session-id': 'abc' } : {},
      body: c.body,
      tenant: { settings: c.posture ? { protocol: c.posture } : {} },
    } as unknown as McpRequest;
    await router.serve({ req, res: {} as never, endpoint: c.endpoint ?? 'mcp', arrivedAt: 0 });
    return served.mock.calls.map(([name]) => name);
  };

  it.each<[string, string, Case]>([
    ['a POST with the 2026 envelope', 'modern', { body: modernBody }],
    ['an initialize', 'streamable', { body: initialize }],
    [
      'a request without an envelope',
      'streamable',
      { body: { jsonrpc: '2.0', id: 2, method: 'tools/list' } },
    ],
    [
      'a POST in a session (body not read first)',
      'streamable',
      { body: modernBody, session: true },
    ],
    ['a GET of the session stream', 'streamable', { method: 'GET' }],
    ['a DELETE of a session', 'streamable', { method: 'DELETE', session: true }],
    ['the legacy event stream', 'sse', { endpoint: 'sse', method: 'GET' }],
    ['a legacy message', 'sse', { endpoint: 'messages', body: initialize }],
    [
      'a malformed envelope (the modern arm refuses it)',
      'modern',
      {
        body: {
          ...modernBody,
          params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } },
        },
      },
    ],
    [
      'an unknown version in the envelope',
      'modern',
      {
        body: {
          ...modernBody,
          params: {
            _meta: { ...ENVELOPE, 'io.modelcontextprotocol/protocolVersion': '2099-01-01' },
          },
        },
      },
    ],
  ])('dual: %s goes to %s', async (_, expected, c) => {
    expect(await route({ ...c, posture: 'dual' })).toEqual([expected]);
    expect(await route(c)).toEqual([expected]);
  });

  it.each<[string, string, Case]>([
    ['modern-only', 'modern', { body: initialize }],
    ['modern-only', 'modern', { method: 'GET' }],
    ['modern-only', 'modern', { endpoint: 'sse', method: 'GET' }],
    ['modern-only', 'modern', { body: modernBody }],
    ['legacy-only', 'streamable', { body: modernBody }],
    ['legacy-only', 'sse', { endpoint: 'messages', body: initialize }],
    ['legacy-only', 'streamable', { body: initialize }],
  ])('%s: sends to %s the request %j', async (posture, expected, c) => {
    expect(await route({ ...c, posture: posture as ProtocolPosture })).toEqual([expected]);
  });

  it('reads the body of a sessionless POST only, before choosing', async () => {
    await route({ body: modernBody });
    expect(receive).toHaveBeenCalledTimes(1);
    await route({ body: modernBody, session: true });
    await route({ method: 'GET' });
    await route({ endpoint: 'messages', body: initialize });
    expect(receive).toHaveBeenCalledTimes(1);
  });

  it('serves nothing when the body was refused (the reader answered)', async () => {
    bodyOk = false;
    expect(await route({ body: modernBody })).toEqual([]);
    expect(inc).not.toHaveBeenCalled();
  });

  it('counts each request under the era it was sent in, and whether the posture allowed it', async () => {
    await route({ body: modernBody });
    await route({ endpoint: 'sse', method: 'GET' });
    await route({ body: initialize });
    await route({ body: initialize, posture: 'modern-only' });
    await route({ body: modernBody, posture: 'legacy-only' });
    expect(inc.mock.calls).toEqual([
      [{ era: '2026-07-28', transport: 'streamable-http', posture: 'allowed' }],
      [{ era: '2025', transport: 'sse', posture: 'allowed' }],
      [{ era: '2025', transport: 'streamable-http', posture: 'allowed' }],
      [{ era: '2025', transport: 'streamable-http', posture: 'refused' }],
      [{ era: '2026-07-28', transport: 'streamable-http', posture: 'refused' }],
    ]);
  });
});
