import { Injectable } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import type { JSONRPCMessage, Tool } from '@modelcontextprotocol/sdk/types.js';
import fc from 'fast-check';
import { z } from 'zod';
import type { Principal } from '@app/auth';
import { loadConfig, PlatformConfig } from '@app/config';
import type { ToolGrantsService } from '@app/tenancy';
import {
  decideAccess,
  McpTool,
  RequireScopes,
  type TenantGrants,
  ToolCatalog,
  ToolRegistry,
  CapabilityRegistry,
} from '@app/tools';
import { DirectTransport } from './direct-transport';
import { McpServerFactory } from './mcp-server.factory';
import type { ToolCallRecorder } from './tool-call-recorder';
import { ToolSurface } from './tool-surface';

const none = z.object({});

/** Tools with every kind of requirement: none, one scope, two scopes (one from the class). */
@Injectable()
class OpenTools {
  @McpTool({ name: 'ping_tool', description: 'needs nothing', input: none })
  ping(): string {
    return 'pong';
  }

  @McpTool({ name: 'read_tool', description: 'needs notes:read', input: none })
  @RequireScopes('notes:read')
  read(): string {
    return 'read';
  }
}

@Injectable()
@RequireScopes('notes:read', 'notes:write')
class WriteTools {
  @McpTool({
    name: 'write_tool',
    title: 'Write',
    description: 'needs notes:read and notes:write',
    input: z.object({ text: z.string().describe('what to write') }),
    output: z.object({ ok: z.boolean() }),
    annotations: { destructiveHint: true },
  })
  write(): { ok: boolean } {
    return { ok: true };
  }

  @McpTool({ name: 'math_tool', description: 'needs math:use', input: none })
  @RequireScopes('math:use')
  math(): number {
    return 1;
  }
}

const ALL_TOOLS = ['math_tool', 'ping_tool', 'read_tool', 'write_tool'];

const principal = (p: Partial<Principal> = {}): Principal => ({
  kind: 'api-key',
  id: `key-${Math.random()}`,
  tenantId: 'tenant-1',
  scopes: [],
  ...p,
});

const names = (tools: readonly Tool[]) => tools.map((t) => t.name).sort();

describe(McpServerFactory.name, () => {
  let registry: ToolRegistry;
  let factory: ReturnType<typeof factoryWith>;

  /**
   * The factory over a ToolSurface whose grants service answers `grants` for every tenant, with
   * the surface's visibleTools beside it (the lists the factory's servers answer with).
   */
  const factoryWith = (grants?: () => TenantGrants) => {
    let current: TenantGrants | undefined;
    const surface = new ToolSurface(
      loadConfig({}),
      new ToolCatalog(registry),
      {
        forTenant: () => Promise.resolve(current ?? grants?.() ?? new Map()),
      } as unknown as ToolGrantsService,
      { record: jest.fn() } as unknown as ToolCallRecorder,
      null as never,
    );
    return Object.assign(new McpServerFactory(surface, null as never, null as never), {
      /** The list for this principal under these grants (the tenant's grants at that moment). */
      visibleTools: (p: Principal, g: TenantGrants) => {
        current = g;
        return surface.visibleTools(p, p.tenantId ?? 'tenant-1');
      },
    });
  };

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [DiscoveryModule],
      providers: [
        ToolRegistry,
        CapabilityRegistry,
        OpenTools,
        WriteTools,
        { provide: PlatformConfig, useValue: loadConfig({}) },
      ],
    }).compile();
    await moduleRef.init();
    registry = moduleRef.get(ToolRegistry);
  });

  beforeEach(() => {
    factory = factoryWith();
  });

  it('starts from a registry holding the test tools', () => {
    expect(registry.names().sort()).toEqual(ALL_TOOLS);
  });

  describe('visibleTools', () => {
    const everyScope = ['math:use', 'notes:read', 'notes:write'];

    it.each<[string, Partial<Principal>, TenantGrants, string[]]>([
      ['no scopes', {}, new Map(), ['ping_tool']],
      ['one scope', { scopes: ['notes:read'] }, new Map(), ['ping_tool', 'read_tool']],
      [
        'two scopes',
        { scopes: ['notes:write', 'notes:read'] },
        new Map(),
        ['ping_tool', 'read_tool', 'write_tool'],
      ],
      ['every scope', { scopes: everyScope }, new Map(), ALL_TOOLS],
      [
        'every scope, two tools disabled for the tenant',
        { scopes: everyScope },
        new Map([
          ['read_tool', false],
          ['math_tool', false],
          ['ping_tool', true],
        ]),
        ['ping_tool', 'write_tool'],
      ],
      [
        'a tool allow-list',
        { scopes: everyScope, tools: ['read_tool', 'math_tool'] },
        new Map(),
        ['math_tool', 'read_tool'],
      ],
      [
        'an allow-list naming a tool its scopes do not cover',
        { scopes: ['notes:read'], tools: ['read_tool', 'write_tool'] },
        new Map(),
        ['read_tool'],
      ],
      [
        'an allow-list naming a disabled tool',
        { scopes: everyScope, tools: ['read_tool'] },
        new Map([['read_tool', false]]),
        [],
      ],
      ['an empty allow-list', { scopes: everyScope, tools: [] }, new Map(), []],
      ['a null allow-list', { scopes: everyScope, tools: null }, new Map(), ALL_TOOLS],
      [
        'the platform admin',
        { kind: 'platform-admin', id: 'platform-admin', tenantId: null, scopes: [] },
        new Map(),
        ['ping_tool'],
      ],
    ])('lists what the policy allows for %s', async (_what, p, grants, expected) => {
      const sut = principal(p);
      const visible = await factory.visibleTools(sut, grants);

      expect(names(visible)).toEqual(expected);
      const allowed = [...registry.all()].filter(
        (t) => decideAccess(sut, t, grants).kind === 'allowed',
      );
      expect(names(visible)).toEqual(names(allowed.map((t) => t.listEntry)));
      // The entries are the registry's own tools/list entries.
      for (const t of visible) expect(t).toBe(registry.get(t.name)?.listEntry);
    });

    it('agrees with the policy for any sequence of principals and grants', async () => {
      const scopes = fc.subarray(['math:use', 'notes:read', 'notes:write', 'tenant:admin']);
      const tools = fc.option(fc.subarray([...ALL_TOOLS, 'no_such_tool']), { nil: undefined });
      const grants = fc
        .dictionary(fc.constantFrom(...ALL_TOOLS), fc.boolean())
        .map((d) => new Map(Object.entries(d)) as TenantGrants);
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.record({ scopes, tools }), { minLength: 1, maxLength: 8 }),
          fc.array(grants, { minLength: 1, maxLength: 3 }),
          async (shapes, grantMaps) => {
            const sut = factoryWith();
            for (const [i, shape] of shapes.entries()) {
              const p = principal(shape);
              const g = grantMaps[i % grantMaps.length];
              const expected = [...registry.all()]
                .filter((t) => decideAccess(p, t, g).kind === 'allowed')
                .map((t) => t.name)
                .sort();
              expect(names(await sut.visibleTools(p, g))).toEqual(expected);
            }
          },
        ),
      );
    });

    it('answers the same frozen array for the same grants and an equal principal shape', async () => {
      const grants: TenantGrants = new Map([['math_tool', false]]);
      const first = await factory.visibleTools(
        principal({ id: 'a', scopes: ['notes:read'], tools: ['read_tool', 'ping_tool'] }),
        grants,
      );
      const second = await factory.visibleTools(
        principal({
          id: 'b',
          kind: 'jwt',
          scopes: ['notes:read'],
          tools: ['read_tool', 'ping_tool'],
        }),
        grants,
      );

      expect(second).toBe(first);
      expect(Object.isFrozen(first)).toBe(true);
      expect(() => (first as Tool[]).push(first[0])).toThrow(TypeError);
      expect(names(first)).toEqual(['ping_tool', 'read_tool']);
    });

    it('answers anew when the grants change (a new grants map)', async () => {
      const p = principal({ scopes: ['notes:read'] });
      const before = await factory.visibleTools(p, new Map());
      const same = await factory.visibleTools(p, new Map());
      const changed = await factory.visibleTools(p, new Map([['read_tool', false]]));

      expect(same).not.toBe(before);
      expect(same).toEqual(before);
      expect(names(before)).toEqual(['ping_tool', 'read_tool']);
      expect(names(changed)).toEqual(['ping_tool']);
    });

    it('answers differently for different scopes or allow-lists under the same grants', async () => {
      const grants: TenantGrants = new Map();
      const reader = await factory.visibleTools(principal({ scopes: ['notes:read'] }), grants);
      const writer = await factory.visibleTools(
        principal({ scopes: ['notes:read', 'notes:write'] }),
        grants,
      );
      const limited = await factory.visibleTools(
        principal({ scopes: ['notes:read'], tools: ['ping_tool'] }),
        grants,
      );
      const noScopes = await factory.visibleTools(principal({ scopes: [] }), grants);

      expect(names(reader)).toEqual(['ping_tool', 'read_tool']);
      expect(names(writer)).toEqual(['ping_tool', 'read_tool', 'write_tool']);
      expect(names(limited)).toEqual(['ping_tool']);
      expect(names(noScopes)).toEqual(['ping_tool']);
      expect(await factory.visibleTools(principal({ scopes: ['notes:read'] }), grants)).toBe(
        reader,
      );
    });

    // JWT scopes come from the identity provider's claim as they are: an `scp` array may hold
    // one string with a space in it. That principal has neither scope, and must not share a cached
    // answer with one that has both (in either order of arrival).
    it('does not mix up one scope containing a space with two scopes', async () => {
      const grants: TenantGrants = new Map();
      const odd = principal({ kind: 'jwt', scopes: ['notes:read notes:write'] });
      const proper = principal({ kind: 'jwt', scopes: ['notes:read', 'notes:write'] });

      expect(names(await factory.visibleTools(odd, grants))).toEqual(['ping_tool']);
      expect(names(await factory.visibleTools(proper, grants))).toEqual([
        'ping_tool',
        'read_tool',
        'write_tool',
      ]);
    });
  });

  describe('stringify', () => {
    const expectSameJson = (message: JSONRPCMessage) => {
      const out = factory.stringify(message);
      expect(JSON.parse(out)).toEqual(JSON.parse(JSON.stringify(message)));
      return out;
    };
    const listResponse = (id: string | number, tools: readonly Tool[]): JSONRPCMessage => ({
      jsonrpc: '2.0',
      id,
      result: { tools },
    });

    it('writes a tools/list answer from a visibleTools array, with a string or numeric id', async () => {
      const tools = await factory.visibleTools(
        principal({ scopes: ['math:use', 'notes:read', 'notes:write'] }),
        new Map(),
      );
      expect(tools).toHaveLength(4);

      expectSameJson(listResponse(7, tools));
      expectSameJson(listResponse('req-"quoted"\\', tools));
      // Its JSON is kept per array; the id is still each response's own.
      expect(JSON.parse(factory.stringify(listResponse(0, tools)))).toMatchObject({ id: 0 });
      expect(JSON.parse(factory.stringify(listResponse('z', tools)))).toMatchObject({ id: 'z' });
    });

    it('writes an empty tools/list answer', async () => {
      const tools = await factory.visibleTools(principal({ tools: [] }), new Map());
      expect(tools).toEqual([]);
      expectSameJson(listResponse(1, tools));
    });

    it('writes a tools/list answer with a next cursor in full', async () => {
      const tools = await factory.visibleTools(principal({ scopes: ['notes:read'] }), new Map());
      const out = expectSameJson({
        jsonrpc: '2.0',
        id: 2,
        result: { tools, nextCursor: 'x' },
      });
      expect(JSON.parse(out)).toMatchObject({ result: { nextCursor: 'x' } });
    });

    it('writes other answers as they are', async () => {
      const tools = await factory.visibleTools(principal(), new Map());
      // A result whose one key is not `tools`.
      expectSameJson({
        jsonrpc: '2.0',
        id: 3,
        result: { content: [{ type: 'text', text: 'hi' }] },
      });
      // A tools array that is not one of the factory's (not frozen).
      expectSameJson({ jsonrpc: '2.0', id: 4, result: { tools: [...tools] } });
      expectSameJson({ jsonrpc: '2.0', id: 5, result: {} });
      expectSameJson({
        jsonrpc: '2.0',
        id: 'e',
        error: { code: -32602, message: 'Tool nope not found', data: { name: 'nope' } },
      });
      expectSameJson({
        jsonrpc: '2.0',
        method: 'notifications/tools/list_changed',
        params: {},
      });
      expectSameJson({ jsonrpc: '2.0', id: 6, method: 'ping' });
    });
  });

  describe('a server it creates', () => {
    it('answers tools/list with the cached visible tools, which stringify writes as JSON', async () => {
      const grants: TenantGrants = new Map([['math_tool', false]]);
      const sut = factoryWith(() => grants);
      const server = sut.create({ id: 'tenant-1', slug: 'acme' });
      const transport = new DirectTransport();
      await server.connect(transport);
      try {
        const caller = principal({ scopes: ['math:use', 'notes:read'] });
        const call = transport.dispatch(
          { jsonrpc: '2.0', id: 'l-1', method: 'tools/list', params: {} },
          {
            authInfo: { token: '', clientId: caller.id, scopes: [], extra: { principal: caller } },
          },
        );
        const response = await call.response;

        expect(response).toMatchObject({ id: 'l-1' });
        if (!response || !('result' in response)) throw new Error('tools/list was not answered');
        const tools = response.result.tools as readonly Tool[];
        expect(names(tools)).toEqual(['ping_tool', 'read_tool']);
        expect(tools).toBe(await sut.visibleTools(caller, grants));
        expect(JSON.parse(sut.stringify(response))).toEqual(JSON.parse(JSON.stringify(response)));
      } finally {
        await server.close();
      }
    });
  });
});
