import { clearSession, loadSession } from './session';

/** An API refusal: its status and message as the platform sent them, and per-field messages. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** `field path → message`, parsed from a 400's `path: message; path: message` list. */
    readonly fields: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Fired when the API refuses the signed-in credential: the app asks to sign in again. */
export const SIGNED_OUT = 'console:signed-out';

const messageParts = (message: string) =>
  message.replace(/^invalid (request body|query): /, '').split('; ');
const FIELD_PART = /^([A-Za-z][\w.[\]-]*): (.+)$/s;

function fieldsOf(message: string): Record<string, string> {
  const fields: Record<string, string> = {};
  let last: string | undefined;
  for (const part of messageParts(message)) {
    const m = FIELD_PART.exec(part);
    if (m) {
      last = fields[m[1]] === undefined ? m[1] : undefined;
      if (last) fields[last] = m[2];
    } else if (last) {
      // A message that itself holds "; " (e.g. the egress refusal's advice) stays whole.
      fields[last] += `; ${part}`;
    }
  }
  return fields;
}

/**
 * True when part of a refusal is not shown next to a field of the form that sent it (`names`: its
 * fields' API paths): not a 400, a part without a field path, a path no field there shows, or a part
 * that only continues the one before. Then the whole message goes in an ErrorBox as well.
 */
export function unshown(error: unknown, names: string[]): boolean {
  if (!error) return false;
  if (!(error instanceof ApiError) || error.status !== 400) return true;
  return messageParts(error.message).some((part) => {
    const path = FIELD_PART.exec(part)?.[1];
    return !path || !names.some((n) => path === n || path.startsWith(`${n}.`));
  });
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/**
 * Calls the admin API with the session's bearer. A refusal becomes an ApiError carrying the
 * platform's own message; a 401 also ends the session.
 */
export async function api<T>(
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  path: string,
  body?: unknown,
  token = loadSession()?.token,
): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'The platform could not be reached: check that it is running.');
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const message = (json as { message?: unknown } | undefined)?.message;
    const text =
      typeof message === 'string'
        ? message
        : Array.isArray(message)
          ? message.map(String).join('; ')
          : `${res.status} ${res.statusText || 'error'}`;
    if (res.status === 401 && token && token === loadSession()?.token) {
      clearSession();
      window.dispatchEvent(new CustomEvent(SIGNED_OUT, { detail: text }));
    }
    throw new ApiError(res.status, text, res.status === 400 ? fieldsOf(text) : {});
  }
  return json as T;
}

/** `?a=1&b=2` from the defined values of `params`. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export const enc = encodeURIComponent;
