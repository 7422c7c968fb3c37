import { Injectable } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import fc from 'fast-check';
import { z } from 'zod';
import { loadConfig, PlatformConfig, type ToolArgumentLimits } from '@app/config';
import {
  ARGUMENT_BYTES_CEILING,
  checkArgumentBytes,
  checkArgumentShape,
  resolveArgumentLimits,
} from './argument-limits';
import { CoreTools } from './builtin/core.tools';
import { CapabilityRegistry } from './capability-registry';
import { McpTool } from './decorators';
import type { ToolContext } from './tool-context';
import type { ToolCallResult } from './tool-invoker';
import { invokeTool } from './tool-invoker';
import { ContributedTool, ToolContributor, ToolRegistry, ToolSource } from './tool-registry';

const limits = (l: Partial<ToolArgumentLimits> = {}): ToolArgumentLimits => ({
  maxBytes: 1000,
  maxElements: 10,
  maxDepth: 3,
  ...l,
});

const nest = (levels: number, leaf: unknown = 1): unknown => {
  let v = leaf;
  for (let i = 0; i < levels; i++) v = i % 2 ? [v] : { v };
  return v;
};

/** The oracle: elements (array items + object members, every level) and levels, in full. */
function measure(v: unknown): { elements: number; depth: number } {
  if (!v || typeof v !== 'object') return { elements: 0, depth: 0 };
  const children: unknown[] = Array.isArray(v) ? v : Object.values(v);
  let elements = children.length;
  let depth = 0;
  for (const c of children) {
    const m = measure(c);
    elements += m.elements;
    depth = Math.max(depth, m.depth);
  }
  return { elements, depth: depth + 1 };
}

describe(checkArgumentShape.name, () => {
  it('accepts arguments within the caps, and non-objects', () => {
    expect(checkArgumentShape({ a: 1, b: [1, 2, { c: 'x' }] }, limits())).toBeNull();
    for (const v of [undefined, null, 1, 'x', {}, []]) {
      expect(checkArgumentShape(v, limits())).toBeNull();
    }
  });

  it('counts array items and object members through every level', () => {
    // 2 members + 3 items + 1 member + 4 items = 10
    const args = { a: [1, 2, { b: [1, 2, 3, 4] }], c: 'x' };
    expect(checkArgumentShape(args, limits({ maxElements: 10, maxDepth: 10 }))).toBeNull();
    expect(checkArgumentShape(args, limits({ maxElements: 9, maxDepth: 10 }))).toBe(
      "arguments have more than 9 elements (limit for this tool; set by MAX_ARGUMENT_ELEMENTS or the tool's limits)",
    );
  });

  it('allows exactly maxDepth levels, the arguments object being the first', () => {
    expect(checkArgumentShape(nest(3), limits())).toBeNull();
    expect(checkArgumentShape(nest(4), limits(), 'notes_create')).toBe(
      "arguments nest deeper than 3 levels (limit for tool notes_create; set by MAX_ARGUMENT_DEPTH or the tool's limits)",
    );
  });

  it('refuses a 500k-element array from its length alone', () => {
    const big = { values: Array.from({ length: 500_000 }, (_, i) => i) };
    expect(checkArgumentShape(big, limits({ maxElements: 10_000 }))).toMatch(
      /more than 10000 elements/,
    );
    // And lets it through, walking all of it, when the cap allows it.
    expect(checkArgumentShape(big, limits({ maxElements: 500_001 }))).toBeNull();
  });

  it('refuses hostile nesting without overflowing the stack', () => {
    const deep = nest(100_000);
    expect(checkArgumentShape(deep, limits({ maxDepth: 64, maxElements: 1e9 }))).toMatch(
      /deeper than 64 levels/,
    );
  });

  it('refuses exactly the values a full measurement says are over a cap', () => {
    const json = fc.letrec<{ value: unknown }>((tie) => ({
      value: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.oneof(fc.integer(), fc.string({ maxLength: 3 }), fc.constant(null)),
        fc.array(tie('value'), { maxLength: 6 }),
        fc.dictionary(fc.string({ maxLength: 3 }), tie('value'), { maxKeys: 6 }),
      ),
    })).value;
    fc.assert(
      fc.property(
        json,
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 6 }),
        (v, maxElements, maxDepth) => {
          const m = measure(v);
          const got = checkArgumentShape(v, limits({ maxElements, maxDepth }));
          if (m.elements <= maxElements && m.depth <= maxDepth) expect(got).toBeNull();
          else if (got?.includes('elements')) expect(m.elements).toBeGreaterThan(maxElements);
          else expect(m.depth).toBeGreaterThan(maxDepth);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe(checkArgumentBytes.name, () => {
  const tool = { name: 'echo', limits: limits({ maxBytes: 1000 }) };
  it('allows up to maxBytes and says what to change beyond', () => {
    expect(checkArgumentBytes(1000, tool)).toBeNull();
    expect(checkArgumentBytes(1001, tool)).toBe(
      "the tools/call message is 1001 bytes, more than the 1000 allowed (limit for tool echo; set by MAX_ARGUMENT_BYTES or the tool's limits)",
    );
  });
});

describe(resolveArgumentLimits.name, () => {
  const defaults = limits({ maxBytes: 256 * 1024, maxElements: 10_000, maxDepth: 32 });
  it('lays the tool’s own limits over the defaults', () => {
    expect(resolveArgumentLimits(defaults, undefined, 't')).toEqual(defaults);
    expect(resolveArgumentLimits(defaults, { maxDepth: 64, maxElements: 5 }, 't')).toEqual({
      maxBytes: 256 * 1024,
      maxElements: 5,
      maxDepth: 64,
    });
  });

  it.each<[Partial<ToolArgumentLimits>, RegExp]>([
    [{ maxDepth: 65 }, /limits\.maxDepth must be an integer from 1 to 64, not 65/],
    [{ maxBytes: ARGUMENT_BYTES_CEILING + 1 }, /limits\.maxBytes must be an integer from 1 to/],
    [{ maxElements: 0 }, /limits\.maxElements must be an integer/],
    [{ maxElements: 1.5 }, /limits\.maxElements must be an integer/],
    [{ maxBytes: Number.NaN }, /limits\.maxBytes must be an integer/],
    [{ maxItems: 3 } as Partial<ToolArgumentLimits>, /unknown limit "maxItems"/],
  ])('refuses %j', (own, message) => {
    expect(() => resolveArgumentLimits(defaults, own, 'bad_tool')).toThrow(message);
  });
});

const Input = z.object({ items: z.array(z.unknown()).optional(), text: z.string().optional() });

@Injectable()
class LimitedTools {
  readonly calls: unknown[] = [];

  @McpTool({ name: 'plain_tool', description: 'the defaults', input: Input })
  plain(args: unknown): string {
    this.calls.push(args);
    return 'ok';
  }

  @McpTool({
    name: 'wide_tool',
    description: 'its own caps',
    input: Input,
    limits: { maxBytes: 512 * 1024, maxElements: 100_000, maxDepth: 64 },
  })
  wide(args: unknown): string {
    this.calls.push(args);
    return 'ok';
  }

  @McpTool({
    name: 'narrow_tool',
    description: 'a lower cap on one limit',
    input: Input,
    limits: { maxElements: 3 },
  })
  narrow(args: unknown): string {
    this.calls.push(args);
    return 'ok';
  }
}

@Injectable()
class TooDeepTool {
  @McpTool({ name: 'too_deep_tool', description: 'x', input: Input, limits: { maxDepth: 65 } })
  deep(): string {
    return 'no';
  }
}

/** Tools given as data through the registry's seam, as the bench platform's tool pack is. */
@Injectable()
@ToolSource()
class ContributedTools implements ToolContributor {
  static extra: ContributedTool[] = [];

  tools(): ContributedTool[] {
    return [
      {
        options: { name: 'contributed_tool', description: 'the defaults', input: Input },
        handler: () => 'ok',
      },
      {
        options: {
          name: 'contributed_narrow',
          description: 'its own cap',
          input: Input,
          limits: { maxDepth: 4 },
        },
        requiredScopes: ['things:use'],
        handler: () => 'ok',
      },
      ...ContributedTools.extra,
    ];
  }
}

async function registryWith(env: Record<string, string>, ...tools: (new () => object)[]) {
  const moduleRef = await Test.createTestingModule({
    imports: [DiscoveryModule],
    providers: [
      ToolRegistry,
      CapabilityRegistry,
      ...tools,
      { provide: PlatformConfig, useValue: loadConfig(env) },
    ],
  }).compile();
  await moduleRef.init();
  return moduleRef;
}

describe('ToolRegistry argument limits', () => {
  const ctx = { signal: new AbortController().signal } as ToolContext;

  it('gives each tool the defaults with its own limits on top, contributed tools too', async () => {
    const moduleRef = await registryWith(
      { MAX_ARGUMENT_ELEMENTS: '50' },
      LimitedTools,
      ContributedTools,
    );
    const registry = moduleRef.get(ToolRegistry);
    const defaults = { maxBytes: 256 * 1024, maxElements: 50, maxDepth: 32 };
    expect(registry.get('plain_tool')?.limits).toEqual(defaults);
    expect(registry.get('contributed_tool')?.limits).toEqual(defaults);
    expect(registry.get('contributed_narrow')?.limits).toEqual({ ...defaults, maxDepth: 4 });
    expect(registry.get('contributed_narrow')?.requiredScopes).toEqual(['things:use']);
    expect(registry.scopes()).toContain('things:use');
    expect(registry.get('wide_tool')?.limits).toEqual({
      maxBytes: 512 * 1024,
      maxElements: 100_000,
      maxDepth: 64,
    });
    expect(registry.get('narrow_tool')?.limits).toEqual({ ...defaults, maxElements: 3 });
    expect(registry.largestArgumentBytes()).toBe(512 * 1024);
    await moduleRef.close();
  });

  it('answers the largest maxBytes of the tools there are', async () => {
    const moduleRef = await registryWith({ MAX_ARGUMENT_BYTES: '1000' }, LimitedTools);
    expect(moduleRef.get(ToolRegistry).largestArgumentBytes()).toBe(512 * 1024);
    await moduleRef.close();
    const empty = await registryWith({ MAX_ARGUMENT_BYTES: '1000' });
    expect(empty.get(ToolRegistry).largestArgumentBytes()).toBe(1000);
    await empty.close();
  });

  it('gives echo room for its longest text, so the largest message a tools/call may be is 640 KiB', async () => {
    const moduleRef = await registryWith({}, CoreTools);
    const registry = moduleRef.get(ToolRegistry);
    expect(registry.get('echo')?.limits).toEqual({
      maxBytes: 640 * 1024,
      maxElements: 10_000,
      maxDepth: 32,
    });
    expect(registry.get('whoami')?.limits.maxBytes).toBe(256 * 1024);
    expect(registry.largestArgumentBytes()).toBe(640 * 1024);
    await moduleRef.close();
  });

  it('refuses to boot when a contributed tool takes the name of another tool', async () => {
    ContributedTools.extra = [
      { options: { name: 'plain_tool', description: 'x', input: Input }, handler: () => 'no' },
    ];
    try {
      await expect(registryWith({}, LimitedTools, ContributedTools)).rejects.toThrow(
        'duplicate MCP tool name "plain_tool" (on ContributedTools.tools())',
      );
    } finally {
      ContributedTools.extra = [];
    }
  });

  it('refuses to boot with a tool deeper than MAX_JSON_DEPTH', async () => {
    await expect(registryWith({}, TooDeepTool)).rejects.toThrow(
      'MCP tool "too_deep_tool": limits.maxDepth must be an integer from 1 to 64, not 65',
    );
  });

  it('invokeTool refuses over-cap arguments as a tool error, before anything else looks at them', async () => {
    const moduleRef = await registryWith({ MAX_ARGUMENT_ELEMENTS: '50' }, LimitedTools);
    const registry = moduleRef.get(ToolRegistry);
    const tools = moduleRef.get(LimitedTools);
    const tool = (name: string) => registry.get(name)!;
    const many = { items: Array.from({ length: 60 }, (_, i) => i) };

    expect(await invokeTool(tool('plain_tool'), many, ctx)).toEqual({
      isError: true,
      content: [
        {
          type: 'text',
          text: "invalid arguments for plain_tool: arguments have more than 50 elements (limit for this tool; set by MAX_ARGUMENT_ELEMENTS or the tool's limits)",
        },
      ],
    });
    expect(await invokeTool(tool('wide_tool'), many, ctx)).toEqual({
      content: [{ type: 'text', text: 'ok' }],
    });
    expect(
      ((await invokeTool(tool('narrow_tool'), { items: [1, 2, 3] }, ctx)) as ToolCallResult)
        .content,
    ).toMatchObject([{ text: /more than 3 elements/ }]);

    // Too deep for the cap and unstorable: the cap answers, findUnstorableText never ran.
    const deep = { items: [nest(40, 'nul\u0000')] };
    const refused = (await invokeTool(tool('plain_tool'), deep, ctx)) as ToolCallResult;
    expect(refused.isError).toBe(true);
    expect(refused.content).toMatchObject([{ text: /nest deeper than 32 levels/ }]);
    // Within the wide tool's depth the storable-text check still finds the NUL.
    expect(
      ((await invokeTool(tool('wide_tool'), deep, ctx)) as ToolCallResult).content,
    ).toMatchObject([
      { text: /invalid arguments for wide_tool: items\.0\..*must be valid Unicode text/ },
    ]);
    expect(tools.calls).toEqual([many]);
    await moduleRef.close();
  });
});
