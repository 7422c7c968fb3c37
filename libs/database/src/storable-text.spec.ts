import { findUnstorableText, MAX_JSON_DEPTH, storableJson } from './storable-text';

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
  ])('finds %j at %s', (value, path) => {
    expect(findUnstorableText(value)).toEqual({ path, kind: 'unstorable' });
  });

  it('refuses hostile nesting without overflowing the stack', () => {
    let v: unknown = 'leaf';
    for (let i = 0; i < 100_000; i++) v = [v];
    expect(findUnstorableText(v)?.kind).toBe('too_deep');
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
