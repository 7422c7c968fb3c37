/** True when any of `entries` is missing or older than a `.ts` file below one of `sourceDirs`. */
export function isStale(entries: string[], sourceDirs: string[]): boolean;
