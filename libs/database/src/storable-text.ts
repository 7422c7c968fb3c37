/**
 * The first string inside `value` that Postgres cannot store as sent (a NUL character, or an
 * unpaired UTF-16 surrogate that would silently turn into U+FFFD), with its path; null if none.
 */
export function findUnstorableText(value: unknown, path = ''): string | null {
  if (typeof value === 'string') {
    return value.includes('\u0000') || !value.isWellFormed() ? path || '(body)' : null;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnstorableText(value[i], path ? `${path}.${i}` : String(i));
      if (found) return found;
    }
    return null;
  }
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const here = path ? `${path}.${k}` : k;
      if (k.includes('\u0000') || !k.isWellFormed()) return here;
      const found = findUnstorableText(v, here);
      if (found) return found;
    }
  }
  return null;
}

export const UNSTORABLE_TEXT_MESSAGE =
  'must be valid Unicode text without NUL characters or unpaired surrogates';
