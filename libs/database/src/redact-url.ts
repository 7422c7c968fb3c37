/** A database URL fit for a log line: no password, no query parameters. */
export function redactDatabaseUrl(raw: string): string {
  try {
    const u = new URL(raw);
    const user = u.username ? `${decodeURIComponent(u.username)}@` : '';
    return `${u.protocol}//${user}${u.host}${u.pathname}`;
  } catch {
    return '(unparseable URL)';
  }
}
