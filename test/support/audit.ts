import { randomBytes } from 'node:crypto';
import { ADMIN, baseUrl, Target } from './admin';
import { http, pollUntil, RawResponse } from './http';

/** Audit events are written in batches every second; this bounds every wait for one to show up. */
export const AUDIT_WAIT_MS = 3_000;

/** An audit event as `GET /admin/tenants/:tenant/audit` returns it. */
export interface AuditEventBody {
  id: string;
  at: string;
  actorKind: string;
  actorId: string;
  action: string;
  tool: string | null;
  keyId: string | null;
  outcome: 'ok' | 'error' | 'denied' | null;
  durationMs: number | null;
  requestId: string | null;
  detail: Record<string, unknown>;
}

export interface AuditPage {
  items: AuditEventBody[];
  nextCursor: string | null;
}

/** A request id nobody else sends, so an event can be found by it. */
export const newRequestId = (what = 'ops') => `${what}-${randomBytes(8).toString('hex')}`;

/** One page of a tenant's audit log, whatever the answer (for status checks). */
export function auditRequest(
  target: Target,
  slug: string,
  query: Record<string, string | number> = {},
  auth: Record<string, string> = ADMIN,
): Promise<RawResponse> {
  const qs = new URLSearchParams(
    Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]),
  );
  const path = `/admin/tenants/${slug}/audit${qs.size ? `?${qs.toString()}` : ''}`;
  return http(baseUrl(target), { path, headers: auth });
}

/** One page of a tenant's audit log; fails unless the answer is 200. */
export async function auditPage(
  target: Target,
  slug: string,
  query: Record<string, string | number> = {},
  auth: Record<string, string> = ADMIN,
): Promise<AuditPage> {
  const res = await auditRequest(target, slug, query, auth);
  if (res.status !== 200) throw new Error(`audit query answered ${res.status}: ${res.text}`);
  return res.json as AuditPage;
}

/** Every event of a tenant's audit log matching `query`, walking at most `maxPages`, newest first. */
export async function allAudit(
  target: Target,
  slug: string,
  query: Record<string, string | number> = {},
  maxPages = Infinity,
): Promise<AuditEventBody[]> {
  const out: AuditEventBody[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < maxPages; page++) {
    const next: AuditPage = await auditPage(target, slug, {
      limit: 200,
      ...query,
      ...(cursor ? { cursor } : {}),
    });
    out.push(...next.items);
    cursor = next.nextCursor;
    if (!cursor) break;
  }
  return out;
}

/**
 * Polls the tenant's audit log (up to `ms`) until at least `count` events satisfy `match`, and
 * returns those events (newest first).
 */
export async function waitForAudit(
  target: Target,
  slug: string,
  match: (e: AuditEventBody) => boolean,
  opts: { count?: number; ms?: number; query?: Record<string, string | number> } = {},
): Promise<AuditEventBody[]> {
  const count = opts.count ?? 1;
  let seen: AuditEventBody[] = [];
  try {
    return await pollUntil(opts.ms ?? AUDIT_WAIT_MS, 'the audit events', async () => {
      seen = (await allAudit(target, slug, opts.query)).filter(match);
      return seen.length >= count ? seen : undefined;
    });
  } catch (err) {
    throw new Error(
      `${(err as Error).message}: wanted ${count} matching audit events in "${slug}", ` +
        `found ${seen.length}: ${JSON.stringify(seen).slice(0, 1500)}`,
    );
  }
}

/** The events carrying this request id, once `count` of them are there. */
export const waitForRequest = (
  target: Target,
  slug: string,
  requestId: string,
  count = 1,
): Promise<AuditEventBody[]> =>
  waitForAudit(target, slug, (e) => e.requestId === requestId, { count });

/**
 * Request ids of the `tool.call` audit events of `tool` since `from`, read page by page (at most
 * `maxPages`); undefined while the API cannot answer (a database that is still away).
 */
export async function toolCallRequestIds(
  target: Target,
  slug: string,
  tool: string,
  from: Date,
  maxPages = 100,
): Promise<Set<string | null> | undefined> {
  const query = { tool, from: from.toISOString(), action: 'tool.call' };
  try {
    const events = await allAudit(target, slug, query, maxPages);
    return new Set(events.map((e) => e.requestId));
  } catch {
    return undefined;
  }
}
