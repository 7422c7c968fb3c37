/** How deep a JSON value may nest before it is refused (nobody needs more; recursion does). */
export const MAX_JSON_DEPTH = 64;

export type TextProblem = { path: string; kind: 'unstorable' | 'too_deep' };

const bad = (s: string) => s.includes('\u0000') || !s.isWellFormed();

/**
 * The first place inside `value` that Postgres cannot store as sent (a NUL character, or an
 * unpaired UTF-16 surrogate that would silently become U+FFFD), or where it nests deeper than
 * MAX_JSON_DEPTH; null if none.
 *
 * Linear and, on the happy path, allocation-free apart from one key list per object: the walk is
 * iterative (hostile nesting cannot overflow the stack) and keeps one frame per open container —
 * the container, its keys (null for an array) and the index of the child being visited — so the
 * stacks never hold more than MAX_JSON_DEPTH frames and no path is built until a problem is
 * found. Children are visited last first and an object's keys are checked before its members, so
 * the problem reported when there are several is the same one as always.
 */
export function findUnstorableText(value: unknown): TextProblem | null {
  const nodes: object[] = [];
  const keyLists: (string[] | null)[] = [];
  const positions: number[] = [];
  let depth = 0; // open frames; also the depth of the value being visited
  let v = value;
  for (;;) {
    if (typeof v === 'string') {
      if (bad(v)) return problemAt(keyLists, positions, depth, undefined, 'unstorable');
    } else if (v && typeof v === 'object') {
      if (depth >= MAX_JSON_DEPTH) {
        return problemAt(keyLists, positions, depth, undefined, 'too_deep');
      }
      let keys: string[] | null = null;
      let length: number;
      if (Array.isArray(v)) {
        length = v.length;
      } else {
        keys = Object.keys(v);
        length = keys.length;
        for (let i = 0; i < length; i++) {
          if (bad(keys[i])) return problemAt(keyLists, positions, depth, keys[i], 'unstorable');
        }
      }
      nodes[depth] = v;
      keyLists[depth] = keys;
      positions[depth] = length;
      depth++;
    }
    // The next child to visit: the one before the current in the innermost unfinished container.
    while (depth > 0 && --positions[depth - 1] < 0) depth--;
    if (depth === 0) return null;
    const keys = keyLists[depth - 1];
    const node = nodes[depth - 1];
    const i = positions[depth - 1];
    v = keys ? (node as Record<string, unknown>)[keys[i]] : (node as unknown[])[i];
  }
}

/** Only once something is wrong: the path of the value under the open frames (and `key`). */
function problemAt(
  keyLists: readonly (string[] | null)[],
  positions: readonly number[],
  depth: number,
  key: string | undefined,
  kind: TextProblem['kind'],
): TextProblem {
  let path = '';
  const join = (k: string) => (path = path ? `${path}.${k}` : k);
  for (let f = 0; f < depth; f++) {
    const keys = keyLists[f];
    join(keys ? keys[positions[f]] : String(positions[f]));
  }
  if (key !== undefined) join(key);
  return { path: path || '(body)', kind };
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
