import fc from 'fast-check';
import { findUnstorableText, MAX_JSON_DEPTH, storableJson, TextProblem } from './storable-text';

/**
 * The oracle: the straightforward walk this module used before (a path string and a tuple per
 * element). The real one must find exactly what this finds, in the same order.
 */
function referenceFindUnstorableText(value: unknown): TextProblem | null {
  const bad = (s: string) => s.includes('\u0000') || !s.isWellFormed();
  const stack: [unknown, string, number][] = [[value, '', 0]];
  while (stack.length) {
    const [v, path, depth] = stack.pop()!;
    if (typeof v === 'string') {
      if (bad(v)) return { path: path || '(body)', kind: 'unstorable' };
      continue;
    }
    if (!v || typeof v !== 'object') continue;
    if (depth >= MAX_JSON_DEPTH) return { path: path || '(body)', kind: 'too_deep' };
    const entries = Array.isArray(v) ? v.map((x, i) => [String(i), x] as const) : Object.entries(v);
    for (const [k, child] of entries) {
      const here = path ? `${path}.${k}` : k;
      if (bad(k)) return { path: here, kind: 'unstorable' };
      stack.push([child, here, depth + 1]);
    }
  }
  return null;
}

/** Mostly ordinary text, sometimes a NUL, a lone surrogate or an empty string. */
const text = fc.oneof(
  { weight: 6, arbitrary: fc.string({ maxLength: 6 }) },
  { weight: 1, arbitrary: fc.constantFrom('', '\u0000', 'a\ud800', '\udfffb', '🌍', 'x\u0000y') },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 4 }) },
);
const leaf = fc.oneof(text, fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
const json = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(text, tie('value'), { maxKeys: 5 }),
  ),
})).value;
/** A value wrapped in a chain of arrays and objects around the depth limit (keys mostly clean). */
const wrapper = fc.oneof(
  { weight: 10, arbitrary: fc.oneof(fc.constant(null), fc.string({ maxLength: 3 })) },
  { weight: 1, arbitrary: text },
);
const deep = fc
  .tuple(json, fc.array(wrapper, { minLength: MAX_JSON_DEPTH - 4, maxLength: MAX_JSON_DEPTH + 4 }))
  .map(([inner, wrappers]) =>
    wrappers.reduce<unknown>((v, k) => (k === null ? ['ok', v, 1] : { [k]: v, z: 1 }), inner),
  );

describe(findUnstorableText.name, () => {
  it('accepts ordinary text, emoji and nested values', () => {
    expect(findUnstorableText({ a: 'héllo 🌍', b: [1, 'x', { c: null }] })).toBeNull();
  });

  it.each([
    [{ name: 'a\u0000b' }, 'name'],
    [{ list: ['ok', 'x\ud800'] }, 'list.1'],
    [{ deep: { k: '\udfff' } }, 'deep.k'],
    ['\u0000', '(body)'],
    [{ 'bad\u0000key': 1 }, 'bad\u0000key'],
    [{ a: [{ 'b\ud800': 1 }] }, 'a.0.b\ud800'],
  ])('finds %j at %s', (value, path) => {
    expect(findUnstorableText(value)).toEqual({ path, kind: 'unstorable' });
  });

  it('refuses hostile nesting without overflowing the stack', () => {
    let v: unknown = 'leaf';
    for (let i = 0; i < 100_000; i++) v = [v];
    expect(findUnstorableText(v)?.kind).toBe('too_deep');
    let o: unknown = 'leaf';
    for (let i = 0; i < 100_000; i++) o = { o };
    expect(findUnstorableText(o)).toEqual({
      path: Array<string>(MAX_JSON_DEPTH).fill('o').join('.'),
      kind: 'too_deep',
    });
  });

  it('allows exactly MAX_JSON_DEPTH levels of containers', () => {
    const nest = (levels: number) => {
      let v: unknown = 'leaf';
      for (let i = 0; i < levels; i++) v = { d: v };
      return v;
    };
    expect(findUnstorableText(nest(MAX_JSON_DEPTH))).toBeNull();
    expect(findUnstorableText(nest(MAX_JSON_DEPTH + 1))?.kind).toBe('too_deep');
  });

  it('checks a flat array of 500k numbers (and finds a bad string at its end)', () => {
    const big: unknown[] = Array.from({ length: 500_000 }, (_, i) => i * 1.5);
    expect(findUnstorableText({ big })).toBeNull();
    big.push('bad\u0000');
    expect(findUnstorableText({ big })).toEqual({ path: 'big.500000', kind: 'unstorable' });
  });

  it('agrees with the reference walk on arbitrary JSON values', () => {
    fc.assert(
      fc.property(json, (v) => {
        expect(findUnstorableText(v)).toEqual(referenceFindUnstorableText(v));
      }),
      { numRuns: 2000 },
    );
  });

  it('agrees with the reference walk around the depth limit', () => {
    fc.assert(
      fc.property(deep, (v) => {
        expect(findUnstorableText(v)).toEqual(referenceFindUnstorableText(v));
      }),
      { numRuns: 500 },
    );
  });
});

describe(storableJson.name, () => {
  it('replaces NUL and lone surrogates and cuts deep nesting', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < MAX_JSON_DEPTH + 5; i++) deep = { d: deep };
    const out = storableJson({ m: 'a\u0000b\ud800', deep }) as { m: string };
    expect(out.m).toBe('a\uFFFDb\uFFFD');
    expect(JSON.stringify(out)).toContain('[too deep]');
  });
});
