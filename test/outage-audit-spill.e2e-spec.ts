import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bearer } from './support/admin';
import { http, pollUntil, sleep } from './support/http';
import { rawCall, rawInitialize } from './support/mcp';
import { metricNow as counter } from './support/metrics';
import { Exit, PlatformProcess, spawnPlatform, useProcesses } from './support/processes';

/** Far below the calls made while the database is down: most of them must go to disk. */
const MEMORY_QUEUE = 40;
const WORKERS = 8;
/** The writer backs off up to 10 s between attempts while the database is away. */
const DRAIN_MS = 45_000;

/**
 * Audit events that cannot be written while the database is away spill to `<DATA_DIR>/audit-spill`
 * and are written exactly once when it is back: by the same process, by the next one after a
 * graceful stop during the outage, and by the next one after a crash. A segment drained a second
 * time (as after a crash between "inserted" and "segment deleted") adds nothing.
 */
describe('outage: audit events spill to disk and are written once when the database is back', () => {
  const ops = useProcesses();
  let dataDir: string;
  let spillDir: string;
  let p: PlatformProcess;
  let slug: string;
  let tenantId: string;
  let auth: Record<string, string>;
  const run = randomBytes(4).toString('hex');
  let calls = 0;

  const env = () => ({
    DATABASE_URL: ops.pg.url,
    DATA_DIR: dataDir,
    AUDIT_MEMORY_QUEUE: String(MEMORY_QUEUE),
    // Keys and tenants stay resolvable from the caches for the whole outage.
    API_KEY_CACHE_TTL: '3600',
  });
  const start = (name: string) => spawnPlatform(env(), { name, waitForReady: true });

  const segments = () =>
    existsSync(spillDir) ? readdirSync(spillDir).filter((n) => n.endsWith('.ndjson')) : [];
  const locks = () =>
    existsSync(spillDir) ? readdirSync(spillDir).filter((n) => n.endsWith('.lock')) : [];

  /**
   * Echo calls in one session, `WORKERS` at a time; returns the request ids of those served. The
   * session is opened first: while the database is away, a key must already be in the cache.
   */
  async function echoCalls(
    phase: string,
    n: number,
    session?: Record<string, string>,
  ): Promise<string[]> {
    session ??= (await rawInitialize(p, slug, auth)).headers;
    const served: string[] = [];
    const failures: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: WORKERS }, async () => {
        while (next < n) {
          next += 1;
          calls += 1;
          const id = `spill-${run}-${phase}-${calls}`;
          const headers = { ...session, 'X-Request-Id': id };
          const res = await rawCall(p, slug, 'echo', { text: id }, headers, 15_000);
          const text = res.messages[0]?.result?.content?.[0]?.text;
          if (res.status === 200 && text === id) served.push(id);
          else failures.push(`${id}: ${res.status} ${res.text.slice(0, 200)}`);
        }
      }),
    );
    expect(failures).toEqual([]);
    return served;
  }

  /**
   * A session whose next tool calls need no database: opened, and one call made in it (that
   * fills the caches a call reads; they are emptied when the change feed reconnects after an
   * outage). Returns the session and the call's request id.
   */
  async function warmSession(): Promise<{ session: Record<string, string>; warm: string[] }> {
    const { headers: session } = await rawInitialize(p, slug, auth);
    return { session, warm: await echoCalls('warm', 1, session) };
  }

  /** How often each of `ids` is in audit_events (straight from the database). */
  async function stored(ids: string[]): Promise<Map<string, number>> {
    const rows = await ops.pg.query<{ request_id: string; n: number }>(
      `SELECT request_id, count(*)::int AS n FROM audit_events
        WHERE tenant_id = $1 AND action = 'tool.call' AND request_id = ANY($2::text[])
        GROUP BY request_id`,
      [tenantId, ids],
    );
    return new Map(rows.map((r) => [r.request_id, r.n]));
  }

  /** Waits until every id is stored and the spill is empty; then each must be there exactly once. */
  async function expectWrittenOnce(ids: string[], what: string): Promise<void> {
    await pollUntil(
      DRAIN_MS,
      `${what}: all ${ids.length} events in audit_events and the spill empty`,
      async () => ((await stored(ids)).size === ids.length && segments().length === 0) || undefined,
      250,
    ).catch((err: Error) => {
      throw new Error(
        `${err.message}\nsegments: ${segments().join(', ')}\n${p.output().slice(-3_000)}`,
      );
    });
    const counts = await stored(ids);
    const notOnce = ids
      .filter((id) => counts.get(id) !== 1)
      .map((id) => `${id}: ${counts.get(id)}`);
    expect(notOnce).toEqual([]);
  }

  /** Waits until the process has moved everything it held in memory to disk. */
  async function untilSpilled(min: number): Promise<void> {
    await pollUntil(
      15_000,
      `${min} events in the spill and none left in memory`,
      async () =>
        (await counter(p, 'audit_events_spilled_total', {})) >= min &&
        (await counter(p, 'audit_queue_depth', {})) === 0
          ? true
          : undefined,
      200,
    );
  }

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mcp-audit-spill-'));
    spillDir = join(dataDir, 'audit-spill');
    p = await start('spill');
    ({ slug, id: tenantId } = await p.admin.createTenant('spill'));
    auth = bearer((await p.admin.createKey(slug)).secret);
  }, 240_000);

  afterAll(() => dataDir && rmSync(dataDir, { recursive: true, force: true }));

  it('keeps memory bounded during the outage, spills the rest, and writes every event once after', async () => {
    expect(statSync(spillDir).mode & 0o777).toBe(0o700);
    const before = await echoCalls('before', 20);
    await expectWrittenOnce(before, 'before the outage');

    const { session, warm } = await warmSession();
    await ops.pg.stop();
    const depths: number[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        depths.push(await counter(p, 'audit_queue_depth', {}));
        await sleep(50);
      }
    })();
    const during = [...warm, ...(await echoCalls('down', 15 * MEMORY_QUEUE, session))];
    await untilSpilled(during.length);
    sampling = false;
    await sampler;
    expect(during).toHaveLength(15 * MEMORY_QUEUE + 1);
    expect(Math.max(...depths)).toBeLessThanOrEqual(MEMORY_QUEUE);
    expect(segments().length).toBeGreaterThan(0);
    expect(await counter(p, 'audit_spill_pending_bytes', {})).toBeGreaterThan(0);

    // What is on disk now, to be put back after the drain (a crash before the deletion).
    const snapshot = join(dataDir, 'snapshot');
    mkdirSync(snapshot);
    for (const name of segments()) copyFileSync(join(spillDir, name), join(snapshot, name));

    await ops.pg.start();
    await expectWrittenOnce([...before, ...during], 'after the outage');
    expect(await counter(p, 'audit_events_dropped_total', {})).toBe(0);
    expect(await counter(p, 'audit_spill_pending_bytes', {})).toBe(0);

    // Segments of a process that died after inserting them, before deleting them: adopted by
    // the running one (it looks for such every 10 s), drained again, and nothing is doubled.
    const copies = readdirSync(snapshot);
    expect(copies.length).toBeGreaterThan(0);
    const written = await counter(p, 'audit_events_written_total', {});
    for (const [i, name] of copies.entries()) {
      const tag = name.split('.')[0];
      const seq = String(i + 1).padStart(8, '0');
      renameSync(join(snapshot, name), join(spillDir, `${tag}.replayed-1-0000.${seq}.ndjson`));
    }
    await pollUntil(30_000, 'the replayed segments adopted and drained', () =>
      Promise.resolve(segments().length === 0 ? true : undefined),
    );
    await expectWrittenOnce([...before, ...during], 'after the replay');
    expect(await counter(p, 'audit_events_written_total', {})).toBe(written);
    // Skipped by ON CONFLICT, not refused by the unique index (that would count as dropped).
    expect(await counter(p, 'audit_events_dropped_total', {})).toBe(0);
  }, 180_000);

  it('writes what was spilled when the platform was stopped during the outage, after a restart', async () => {
    const { session, warm } = await warmSession();
    await ops.pg.stop();
    const during = [...warm, ...(await echoCalls('stopped', 300, session))];
    const stopped: Exit = await p.stop('SIGTERM');
    expect({ stopped, output: stopped.code === 0 ? '' : p.output().slice(-3_000) }).toEqual({
      stopped: { code: 0, signal: null },
      output: '',
    });
    // Nothing was left in memory: it is all on disk, and the lock is given up.
    expect(segments().length).toBeGreaterThan(0);
    expect(locks()).toEqual([]);

    await ops.pg.start();
    p = await start('spill-restarted');
    await expectWrittenOnce(during, 'after the restart');
  }, 180_000);

  it('writes what was spilled before the platform crashed during the outage, after a restart', async () => {
    const { session, warm } = await warmSession();
    await ops.pg.stop();
    const spilledBefore = await counter(p, 'audit_events_spilled_total', {});
    const during = [...warm, ...(await echoCalls('crashed', 200, session))];
    await untilSpilled(spilledBefore + during.length);
    await p.stop('SIGKILL');
    expect(locks()).toHaveLength(1); // the dead process's

    await ops.pg.start();
    p = await start('spill-after-crash');
    await expectWrittenOnce(during, 'after the crash');
    expect(locks()).toHaveLength(1); // the new process's only
    const ready = await http(p.url, { path: '/readyz' });
    expect(ready.status).toBe(200);
  }, 180_000);
});
