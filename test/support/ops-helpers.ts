import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import Redis from 'ioredis';
import { ADMIN, TestPlatform } from './platform';
import { RawResponse, rawPost, toolsList, within } from './mcp-raw';
import { freePort } from './proc-net';

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

/** One page of a tenant's audit log (the raw supertest response, for status checks). */
export function auditRequest(
  p: TestPlatform,
  slug: string,
  query: Record<string, string | number> = {},
  auth: Record<string, string> = ADMIN,
) {
  return p.http().get(`/admin/tenants/${slug}/audit`).query(query).set(auth);
}

/** One page of a tenant's audit log; fails unless the answer is 200. */
export async function auditPage(
  p: TestPlatform,
  slug: string,
  query: Record<string, string | number> = {},
  auth: Record<string, string> = ADMIN,
): Promise<AuditPage> {
  const res = await auditRequest(p, slug, query, auth);
  if (res.status !== 200) throw new Error(`audit query answered ${res.status}: ${res.text}`);
  return res.body as AuditPage;
}

/** Every event of a tenant's audit log matching `query`, walking all pages, newest first. */
export async function allAudit(
  p: TestPlatform,
  slug: string,
  query: Record<string, string | number> = {},
): Promise<AuditEventBody[]> {
  const out: AuditEventBody[] = [];
  let cursor: string | null = null;
  do {
    const page: AuditPage = await auditPage(p, slug, {
      limit: 200,
      ...query,
      ...(cursor ? { cursor } : {}),
    });
    out.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

/**
 * Polls the tenant's audit log (up to `ms`) until at least `count` events satisfy `match`, and
 * returns those events (newest first).
 */
export async function waitForAudit(
  p: TestPlatform,
  slug: string,
  match: (e: AuditEventBody) => boolean,
  opts: { count?: number; ms?: number; query?: Record<string, string | number> } = {},
): Promise<AuditEventBody[]> {
  const count = opts.count ?? 1;
  let seen: AuditEventBody[] = [];
  try {
    return await within(opts.ms ?? AUDIT_WAIT_MS, async () => {
      seen = (await allAudit(p, slug, opts.query)).filter(match);
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
  p: TestPlatform,
  slug: string,
  requestId: string,
  count = 1,
): Promise<AuditEventBody[]> => waitForAudit(p, slug, (e) => e.requestId === requestId, { count });

/**
 * A real SDK client whose every HTTP request carries the X-Request-Id most recently given to
 * `use()` (none until then), and which remembers the X-Request-Id of each response.
 */
export async function tracedClient(
  p: TestPlatform,
  slug: string,
  headers: Record<string, string>,
): Promise<{
  client: Client;
  transport: StreamableHTTPClientTransport;
  use: (requestId: string | undefined) => void;
  responseIds: string[];
}> {
  let current: string | undefined;
  const responseIds: string[] = [];
  const transport = new StreamableHTTPClientTransport(new URL(`${p.url}/t/${slug}/mcp`), {
    requestInit: { headers },
    fetch: async (url, init) => {
      const h = new Headers(init?.headers);
      if (current !== undefined) h.set('X-Request-Id', current);
      const res = await fetch(url, { ...init, headers: h });
      const id = res.headers.get('x-request-id');
      if (id) responseIds.push(id);
      return res;
    },
  });
  const client = new Client({ name: 'ops-e2e', version: '1.0.0' });
  await client.connect(transport);
  return { client, transport, use: (id) => (current = id), responseIds };
}

/** One sample line of the Prometheus text format. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text exposition format (comments skipped). */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]] = l[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    const raw = m[3];
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    out.push({ name: m[1], labels, value });
  }
  return out;
}

/** The samples named `name` whose labels include every label in `labels`. */
export function samples(text: string, name: string, labels: Record<string, string> = {}): Sample[] {
  return parseMetrics(text).filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
}

/** The sum of the matching samples (0 when there are none, as for a counter never incremented). */
export const metricValue = (text: string, name: string, labels: Record<string, string> = {}) =>
  samples(text, name, labels).reduce((sum, s) => sum + s.value, 0);

/** GET /metrics (with a bearer token when given); fails unless 200. */
export async function scrape(p: TestPlatform, token?: string): Promise<string> {
  const req = p.http().get('/metrics');
  if (token !== undefined) req.set('Authorization', `Bearer ${token}`);
  const res = await req;
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}: ${res.text}`);
  return res.text;
}

/**
 * One authenticated MCP request that needs no session (for an app started with
 * MCP_STATELESS=true): `tools/list`.
 */
export function statelessList(
  p: TestPlatform,
  slug: string,
  auth: Record<string, string>,
): Promise<RawResponse> {
  return rawPost(p, slug, toolsList(), {
    ...auth,
    'MCP-Protocol-Version': LATEST_PROTOCOL_VERSION,
  });
}

/** True when a `redis-server` binary is on PATH. */
export function hasRedisServer(): boolean {
  return spawnSync('which', ['redis-server'], { stdio: 'ignore' }).status === 0;
}

/** A throwaway redis-server on a free loopback port, with no persistence. */
export interface LocalRedis {
  url: string;
  /** A client of the test's own; it reconnects by itself after a restart. */
  client: Redis;
  /** Stops the server (an outage); `restart` brings it back on the same port, empty. */
  kill: () => Promise<void>;
  restart: () => Promise<void>;
  /** The end: the client closed and the server stopped. Safe to call more than once. */
  stop: () => Promise<void>;
}

export async function startRedis(): Promise<LocalRedis> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let proc: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const spawnServer = () => {
    proc = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    const p = proc;
    exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
  };
  const kill = async () => {
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      await exited;
    }
  };
  const client = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  client.on('error', () => undefined);
  const answering = () =>
    within(10_000, async () => {
      try {
        return (await client.ping()) === 'PONG' ? true : undefined;
      } catch {
        return undefined;
      }
    });
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
      else client.disconnect();
      await kill();
    })());
  spawnServer();
  try {
    await answering();
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    client,
    kill,
    restart: async () => {
      await kill();
      spawnServer();
      await answering();
    },
    stop,
  };
}
