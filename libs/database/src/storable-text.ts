/** How deep a JSON value may nest before it is refused (nobody needs more; recursion does). */
export const MAX_JSON_DEPTH = 64;

export type TextProblem = { path: string; kind: 'unstorable' | 'too_deep' };

const bad = (s: string) => s.includes('\u0000') || !s.isWellFormed();

/**
 * The first place inside `value` that Postgres cannot store as sent (a NUL character, or an
 * unpaired UTF-16 surrogate that would silently become U+FFFD), or where it nests deeper than
 * MAX_JSON_DEPTH; null if none. Iterative, so hostile nesting cannot overflow the stack.
 */
export function findUnstorableText(value: unknown): TextProblem | null {
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

export function describeTextProblem(p: TextProblem): string {
  return p.kind === 'too_deep'
    ? `${p.path}: nested more than ${MAX_JSON_DEPTH} levels deep`
    : `${p.path}: must be valid Unicode text without NUL characters or unpaired surrogates`;
}

/** Makes any string storable: NUL and unpaired surrogates become U+FFFD. For audit details. */
export function storableText(s: string): string {
  return s.replaceAll('\u0000', '\uFFFD').toWellFormed();
}

/** A JSON-safe copy of `value` with every string made storable and nesting cut at MAX_JSON_DEPTH. */
export function storableJson(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return storableText(value);
  if (!value || typeof value !== 'object') return value;
  if (depth >= MAX_JSON_DEPTH) return '[too deep]';
  if (Array.isArray(value)) return value.map((v) => storableJson(v, depth + 1));
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [storableText(k), storableJson(v, depth + 1)]),
  );
}
