import { findUnstorableText } from './storable-text';

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
    expect(findUnstorableText(value)).toBe(path);
  });
});
