import type { ToolArgumentLimits } from '@app/config';
import { defineDataTool, TOOL_NAME_RULE } from './data-tool';

const limits: ToolArgumentLimits = { maxBytes: 1000, maxElements: 100, maxDepth: 10 };
const origin = { sourceId: 's1', sourceName: 'up' };
const define = (inputSchema: Record<string, unknown>) =>
  defineDataTool(
    {
      name: 'up_tool',
      description: 'd',
      inputSchema: { type: 'object', ...inputSchema },
      requiredScopes: ['b:use', 'a:use', 'a:use'],
      origin,
      handler: () => Promise.resolve('x'),
    },
    limits,
  );

describe(defineDataTool.name, () => {
  it('checks arguments against the JSON Schema and says where they are wrong', () => {
    const sut = define({
      properties: {
        n: { type: 'integer', minimum: 1 },
        tags: { type: 'array', items: { type: 'string' } },
      },
      required: ['n'],
      additionalProperties: false,
    });

    expect(sut.parse({ n: 2, tags: ['a'] })).toEqual({
      success: true,
      data: { n: 2, tags: ['a'] },
    });
    expect(sut.parse({})).toEqual({ success: false, problem: "must have required property 'n'" });
    expect(sut.parse({ n: 0 })).toEqual({ success: false, problem: 'n: must be >= 1' });
    expect(sut.parse({ n: 1, tags: [3] })).toEqual({
      success: false,
      problem: 'tags.0: must be string',
    });
    expect(sut.parse({ n: 1, x: 1 })).toEqual({
      success: false,
      problem: 'must NOT have additional properties (x)',
    });
  });

  it('does not run a tenant’s patterns (they could stall every tenant) nor fetch remote refs', () => {
    const sut = define({
      properties: {
        s: { type: 'string', pattern: '^(a+)+$' },
        r: { $ref: 'https://example.com/schema.json' },
      },
    });
    const started = performance.now();

    expect(sut.parse({ s: `${'a'.repeat(40)}!`, r: 1 }).success).toBe(true);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('a schema that cannot be compiled refuses calls with a message instead of throwing', () => {
    const sut = define({ properties: { a: { type: 'no-such-type' } } });

    const parsed = sut.parse({ a: 1 });
    expect(parsed.success).toBe(false);
    expect(!parsed.success && parsed.problem).toMatch(/input schema of up_tool cannot be used/);
  });

  it('lists the schema as given, with sorted unique scopes and its origin', () => {
    const sut = define({ properties: { a: { type: 'string', pattern: 'x' } } });

    expect(sut.listEntry.inputSchema).toEqual({
      type: 'object',
      properties: { a: { type: 'string', pattern: 'x' } },
    });
    expect(sut.requiredScopes).toEqual(['a:use', 'b:use']);
    expect(sut.origin).toBe(origin);
    expect(Object.isFrozen(sut)).toBe(true);
  });
});

describe('TOOL_NAME_RULE', () => {
  it.each(['a', 'up_tool', 'A.b-c_9', 'x'.repeat(128)])('accepts %s', (n) =>
    expect(TOOL_NAME_RULE.test(n)).toBe(true),
  );
  it.each(['', 'a b', 'a/b', 'é', 'x'.repeat(129), 'a:b'])('refuses %p', (n) =>
    expect(TOOL_NAME_RULE.test(n)).toBe(false),
  );
});
