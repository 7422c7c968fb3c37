// Turning what a person typed into what the admin API takes.

/** `a, b c` → `['a', 'b', 'c']`: scopes, header names, origins, algorithms. */
export const splitList = (s: string): string[] =>
  s
    .split(/[\s,]+/)
    .map((x) => x.trim())
    .filter(Boolean);

/**
 * A datetime-local value (local time, no zone) as the ISO instant the API takes; empty is unset,
 * and an unreadable one goes as typed, for the API's 400 to name.
 */
export function toInstant(local: string): string | undefined {
  if (!local) return undefined;
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? local : d.toISOString();
}
