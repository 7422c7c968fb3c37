/**
 * The signed-in credential, kept for this tab only (sessionStorage): never a cookie (so no CSRF), never
 * in a URL. Signing out, or the API refusing it, forgets it.
 */
export type Role = 'platform' | 'tenant';

export interface Session {
  token: string;
  role: Role;
  /** The tenant a tenant admin manages; unset for the platform admin. */
  tenant?: string;
}

const KEY = 'mcp-console-session';

export function loadSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (!raw) return null;
    const s = JSON.parse(raw) as Partial<Session>;
    if (typeof s.token !== 'string' || (s.role !== 'platform' && s.role !== 'tenant')) return null;
    return { token: s.token, role: s.role, ...(s.tenant ? { tenant: s.tenant } : {}) };
  } catch {
    return null;
  }
}

export function saveSession(s: Session): void {
  sessionStorage.setItem(KEY, JSON.stringify(s));
}

export function clearSession(): void {
  sessionStorage.removeItem(KEY);
}
