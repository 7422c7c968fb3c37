import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bearer } from './support/admin';
import { toolCallRequestIds } from './support/audit';
import { http, pollUntil, RawResponse, sleep } from './support/http';
import { rawCall, rawInitialize } from './support/mcp';
import { freezePostgres, isPostgresFrozen, thawPostgres } from './support/postgres';
import { PlatformProcess, spawnPlatform, untilReady, useProcesses } from './support/processes';
import { processState } from './support/procfs';

/** API_KEY_CACHE_TTL and DB_QUERY_TIMEOUT of the platform under test, in seconds. */
const CACHE_TTL_S = 2;
const QUERY_TIMEOUT_S = 2;
/** How long the database stays frozen while `add` is called: several cache lifetimes. */
const FROZEN_FOR_MS = 6 * CACHE_TTL_S * 1000;
/** Between the `add` calls while frozen: enough of them, not so many that the audit drain is slow. */
const PACE_MS = 10;
/** A bound against hangs only (a request that never answers fails the test, not jest). */
const REQUEST_TIMEOUT_MS = 20_000;

const UNAVAILABLE_LINE = /database unavailable \(first: /g;
const BACK_LINE = /database reachable again after [\d.]+ s; (\d+) requests answered 503 meanwhile/g;

/** The text of a tool result, or the JSON-RPC error message. */
const toolText = (r: RawResponse) => {
  const m = r.messages[0];
  return m?.error?.message ?? (m?.result?.content ?? []).map((c) => c.text ?? '').join(' ');
};

const describeResult = (r: RawResponse) => `${r.status}: ${r.text.slice(0, 300)}`;

/**
 * The database does not go away: it hangs (every server process SIGSTOPped), so connections stay
 * open and nothing answers. Requests that need no database (`add`, authenticated from the tenant,
 * key and grant caches) must keep being served for many cache lifetimes; requests that need it get
 * 503 + Retry-After (or a tool error saying so) once the query timeout fires, never a hang; after
 * SIGCONT everything recovers without a restart, and the outage is logged as two lines.
 */
describe('outage: the database hangs (SIGSTOP) and comes back', () => {
  const ops = useProcesses();
  let p: PlatformProcess;
  let slug: string;
  let session: Record<string, string>;
  let frozenAt = new Date();
  let calls = 0;
  /** Request ids of the `add` calls answered while the database was frozen. */
  const servedWhileFrozen: string[] = [];
  let refusedWithService503 = 0;
  /** The platform's own DATA_DIR: its audit spill is nobody else's. */
  const dataDir = mkdtempSync(join(tmpdir(), 'mcp-ops-freeze-'));

  beforeAll(async () => {
    p = await spawnPlatform(
      {
        DATABASE_URL: ops.pg.url,
        API_KEY_CACHE_TTL: String(CACHE_TTL_S),
        DB_QUERY_TIMEOUT: String(QUERY_TIMEOUT_S),
        DATA_DIR: dataDir,
      },
      { name: 'freeze', waitForReady: true },
    );
    slug = (await p.admin.createTenant('freeze')).slug;
    const k = await p.admin.createKey(slug, { scopes: ['math:use', 'notes:write', 'notes:read'] });
    session = (await rawInitialize(p, slug, bearer(k.secret))).headers;
    // Warm the tenant, key and grant caches (and the pool) on the paths used below.
    for (let i = 0; i < 3; i++) {
      const r = await add(i, i);
      if (r.res.status !== 200) throw new Error(`warm-up add: ${describeResult(r.res)}`);
      const n = await notesCreate();
      if (n.status !== 200 || n.messages[0]?.result?.isError) {
        throw new Error(`warm-up notes_create: ${describeResult(n)}`);
      }
    }
  }, 240_000);

  // useProcesses continues a frozen server before it stops anything.
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  /** What the platform logged: its log file under MCP_E2E_LOG_DIR (as spawnPlatform sets it up), and its output. */
  function platformLog(): string {
    const dir = process.env.MCP_E2E_LOG_DIR;
    const file = dir ? join(dir, `${p.name}.log`) : undefined;
    return `${file && existsSync(file) ? readFileSync(file, 'utf8') : ''}${p.output()}`;
  }

  async function add(a: number, b: number): Promise<{ res: RawResponse; requestId: string }> {
    calls += 1;
    const requestId = `freeze-add-${calls}`;
    const headers = { ...session, 'X-Request-Id': requestId };
    const res = await rawCall(p, slug, 'add', { a, b }, headers, REQUEST_TIMEOUT_MS);
    return { res, requestId };
  }

  function notesCreate(): Promise<RawResponse> {
    calls += 1;
    const args = { title: `note ${calls}` };
    return rawCall(p, slug, 'notes_create', args, session, REQUEST_TIMEOUT_MS);
  }

  const createKeyRequest = () =>
    p.admin.request(
      'POST',
      `/admin/tenants/${slug}/keys`,
      { name: 'during the freeze', scopes: ['math:use'] },
      undefined,
      REQUEST_TIMEOUT_MS,
    );

  function expectAdded(r: { res: RawResponse }, sum: number): void {
    const { res } = r;
    if (res.status !== 200 || res.messages[0]?.result?.isError) {
      throw new Error(`add while frozen: ${describeResult(res)}`);
    }
    expect(res.messages[0]?.result?.structuredContent).toEqual({ result: sum });
  }

  it('keeps answering add from warm caches for several cache lifetimes while the database hangs', async () => {
    frozenAt = new Date();
    const pids = freezePostgres(ops.pg);
    expect(pids.length).toBeGreaterThan(1); // the postmaster and its backends
    for (const pid of pids) expect(processState(pid) ?? 'T').toBe('T');

    const until = Date.now() + FROZEN_FOR_MS;
    let i = 0;
    while (Date.now() < until) {
      i += 1;
      const r = await add(i, 1000);
      expectAdded(r, i + 1000);
      servedWhileFrozen.push(r.requestId);
      await sleep(PACE_MS);
    }
    // Sequential calls over six cache lifetimes: had a cache waited for the database on expiry
    // (up to the connect timeout per cache, in turn) there would be a handful, not hundreds.
    expect(servedWhileFrozen.length).toBeGreaterThanOrEqual(20);
    expect(isPostgresFrozen()).toBe(true);
  }, 120_000);

  it('answers requests that need the database with a tool error or 503 + Retry-After, not a hang', async () => {
    const note = await notesCreate();
    expect(note.status).toBe(200);
    expect(note.messages[0]?.result?.isError).toBe(true);
    expect(toolText(note)).toMatch(/database is unavailable/i);

    const key = await createKeyRequest();
    expect(key.status).toBe(503);
    expect(key.headers.get('retry-after')).not.toBeNull();
    expect(key.json).toMatchObject({ statusCode: 503, message: expect.stringMatching(/database/) });
    refusedWithService503 += 1;

    const ready = await http(p.url, { path: '/readyz', timeoutMs: REQUEST_TIMEOUT_MS });
    expect(ready.status).toBe(503);
    refusedWithService503 += 1;

    // And the hot path is still served after those.
    for (let j = 0; j < 5; j++) {
      const r = await add(j, -j);
      expectAdded(r, 0);
      servedWhileFrozen.push(r.requestId);
    }
    expect(isPostgresFrozen()).toBe(true);
  }, 120_000);

  it('recovers after SIGCONT without a restart, and writes the audit events of the frozen period', async () => {
    thawPostgres();
    await untilReady(p, 30_000, 250);
    expect(p.child.exitCode).toBeNull();

    const key = await pollUntil(
      15_000,
      'POST keys succeeding again',
      async () => {
        const res = await createKeyRequest();
        return res.status === 201 ? res : undefined;
      },
      250,
    );
    expect(key.json).toMatchObject({ secret: expect.stringMatching(/^mcp_/) });
    const note = await notesCreate();
    expect(note.messages[0]?.result?.isError).toBeFalsy();
    expect(note.messages[0]?.result?.structuredContent).toMatchObject({
      title: expect.any(String),
    });

    const wanted = new Set(servedWhileFrozen);
    const from = new Date(frozenAt.getTime() - 1_000);
    let missing = wanted.size;
    // The audit writer backs off (up to 10 s) between attempts while the database is away.
    await pollUntil(
      60_000,
      `audit events of the ${wanted.size} add calls served while frozen`,
      async () => {
        const found = await toolCallRequestIds(p, slug, 'add', from);
        if (!found) return undefined;
        missing = [...wanted].filter((id) => !found.has(id)).length;
        return missing === 0 ? true : undefined;
      },
      500,
    ).catch((err: Error) => {
      throw new Error(`${err.message} (${missing} missing)`);
    });
  }, 120_000);

  it('logs the outage as one "unavailable" line and one "reachable again" line with the count', async () => {
    await pollUntil(
      15_000,
      'the "reachable again" line',
      () => Promise.resolve(platformLog().match(BACK_LINE) ? true : undefined),
      250,
    );
    const out = platformLog();
    const context = out.slice(-3_000);
    expect({ unavailable: out.match(UNAVAILABLE_LINE)?.length ?? 0, context }).toEqual({
      unavailable: 1,
      context,
    });
    const back = [...out.matchAll(BACK_LINE)];
    expect({ back: back.length, context }).toEqual({ back: 1, context });
    // Every 503 this suite saw was counted (the platform may have refused more: none from here).
    expect(Number(back[0][1])).toBeGreaterThanOrEqual(refusedWithService503);
    // The reachable-again line comes after the unavailable one.
    expect(out.search(BACK_LINE)).toBeGreaterThan(out.search(UNAVAILABLE_LINE));
    // And no error line per refused request.
    const errored503 = out
      .split('\n')
      .filter((line) => line.includes('request errored') && line.includes('"statusCode":503'));
    expect(errored503).toEqual([]);
  }, 60_000);
});
