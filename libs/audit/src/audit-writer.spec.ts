import { Logger } from '@nestjs/common';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { loadConfig } from '@app/config';
import { Metrics } from '@app/observability';
import { AUDIT_BATCH, AuditWriter, AuditWriterOptions, databaseTag } from './audit-writer';
import type { AuditRecord } from './audit.types';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const metricsOf = new Map<AuditWriter, Metrics>();

/** What an operator sees of a writer: its metrics. */
async function stats(sut: AuditWriter) {
  const registry = metricsOf.get(sut)!.registry;
  const value = async (name: string) =>
    (await registry.getSingleMetric(name)!.get()).values.reduce((sum, v) => sum + v.value, 0);
  return {
    written: await value('audit_events_written_total'),
    dropped: await value('audit_events_dropped_total'),
    spilled: await value('audit_events_spilled_total'),
    queued: await value('audit_queue_depth'),
  };
}

/**
 * Stands in for Postgres: keeps rows by event id and, like `ON CONFLICT (event_id) DO NOTHING`,
 * skips an event it has. `down` refuses connections; `hang` holds queries until released (then
 * they commit, as a query the writer gave up on may); a row whose actor is `poison` fails its
 * statement with a data exception.
 */
class FakeDatabase {
  isInitialized = true;
  mode: 'up' | 'down' | 'hang' = 'up';
  readonly rows = new Map<string, { requestId: string | null; actorId: string }>();
  statements = 0;
  private held: (() => void)[] = [];

  query(_sql: string, params: unknown[][]): Promise<{ n: number }[]> {
    this.statements += 1;
    if (this.mode === 'down') {
      return Promise.reject(
        Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
      );
    }
    const commit = () => {
      const [ids, , , , actors] = params as string[][];
      if (actors.includes('poison')) {
        throw Object.assign(new Error('invalid input syntax'), { code: '22P02' });
      }
      const requestIds = params[10] as (string | null)[];
      let n = 0;
      ids.forEach((id, i) => {
        if (this.rows.has(id)) return;
        this.rows.set(id, { requestId: requestIds[i], actorId: actors[i] });
        n += 1;
      });
      return [{ n }];
    };
    if (this.mode === 'hang') {
      return new Promise((resolve) => this.held.push(() => resolve(commit())));
    }
    return new Promise((resolve) => resolve(commit())); // a throw rejects
  }

  /** Lets the held queries finish (and commit). */
  release(): void {
    for (const done of this.held.splice(0)) done();
  }

  requestIds(): string[] {
    return [...this.rows.values()].map((r) => r.requestId ?? '').sort();
  }
}

const event = (requestId: string, actorId = 'key-1'): AuditRecord => ({
  tenantId: null,
  actorKind: 'api-key',
  actorId,
  action: 'tool.call',
  tool: 'echo',
  outcome: 'ok',
  durationMs: 1.4,
  requestId,
  detail: { n: requestId },
});
const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
const sorted = (xs: string[]) => [...xs].sort();

describe(AuditWriter.name, () => {
  let root: string;
  let spillDir: string;
  const started: AuditWriter[] = [];

  beforeAll(() => Logger.overrideLogger(false));
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'audit-writer-spec-'));
    spillDir = join(root, 'audit-spill');
  });
  afterEach(async () => {
    for (const w of started.splice(0)) await stop(w);
    rmSync(root, { recursive: true, force: true });
  });

  async function start(db: FakeDatabase, options: AuditWriterOptions = {}): Promise<AuditWriter> {
    const config = loadConfig({ DATA_DIR: root });
    const ds = db as unknown as DataSource;
    const metrics = new Metrics(ds);
    const sut = new AuditWriter(ds, metrics, config, { writeTimeoutMs: 200, ...options });
    metricsOf.set(sut, metrics);
    await sut.onModuleInit();
    started.push(sut);
    return sut;
  }
  async function stop(sut: AuditWriter): Promise<void> {
    const i = started.indexOf(sut);
    if (i >= 0) started.splice(i, 1);
    await sut.beforeApplicationShutdown();
    await sut.onApplicationShutdown();
  }
  const segments = () =>
    existsSync(spillDir) ? readdirSync(spillDir).filter((n) => n.endsWith('.ndjson')) : [];
  /** Drains until `done` holds (the writer backs off after failures). */
  async function drainUntil(sut: AuditWriter, done: () => boolean): Promise<void> {
    for (const deadline = Date.now() + 10_000; !done();) {
      if (Date.now() > deadline) throw new Error('not drained within 10 s');
      await sut.drainAll();
      if (!done()) await sleep(100);
    }
  }

  it('writes what is queued in multi-row batches, each event once', async () => {
    const db = new FakeDatabase();
    const sut = await start(db);
    const sent = ids('ok', 1_200);
    for (const id of sent) sut.record(event(id));
    await sut.flush();
    expect(db.requestIds()).toEqual(sorted(sent));
    expect(db.statements).toBe(Math.ceil(1_200 / AUDIT_BATCH));
    expect(await stats(sut)).toMatchObject({ written: 1_200, dropped: 0, spilled: 0, queued: 0 });
    expect(segments()).toEqual([]);
  });

  it('spills what the database cannot take, keeps memory bounded, and writes it all once when the database is back', async () => {
    const db = new FakeDatabase();
    const sut = await start(db, { memoryQueue: 50, segmentBytes: 8 * 1024 });
    db.mode = 'down';
    const sent = ids('down', 400);
    let deepest = 0;
    for (const [i, id] of sent.entries()) {
      sut.record(event(id));
      deepest = Math.max(deepest, sut.depth);
      if (i % 100 === 99) await sut.flush();
    }
    await sut.flush();
    expect(deepest).toBeLessThanOrEqual(50);
    expect(sut.depth).toBe(0);
    expect(await stats(sut)).toMatchObject({ spilled: 400, dropped: 0, written: 0 });
    expect(segments().length).toBeGreaterThan(1);
    expect(sut.spilledBytes).toBeGreaterThan(0);

    db.mode = 'up';
    await drainUntil(sut, () => db.rows.size === 400 && segments().length === 0);
    expect(db.requestIds()).toEqual(sorted(sent));
    expect(await stats(sut)).toMatchObject({ written: 400, dropped: 0 });
    expect(sut.spilledBytes).toBe(0);
  });

  it('writes nothing twice when a drained segment is drained again (a crash before its deletion)', async () => {
    const db = new FakeDatabase();
    const first = await start(db, { segmentBytes: 4 * 1024 });
    db.mode = 'down';
    const sent = ids('crash', 300);
    for (const id of sent) first.record(event(id));
    await first.flush();
    const copies = join(root, 'copies');
    cpSync(spillDir, copies, { recursive: true });
    db.mode = 'up';
    await drainUntil(first, () => segments().length === 0);
    expect(db.rows.size).toBe(300);
    await stop(first);

    // Put the segments back as a process that died before deleting them would have left them.
    for (const name of readdirSync(copies).filter((n) => n.endsWith('.ndjson'))) {
      const [tag, , seq] = name.split('.');
      renameSync(join(copies, name), join(spillDir, `${tag}.dead-1-0000.${seq}.ndjson`));
    }
    const statementsBefore = db.statements;
    const second = await start(db);
    await drainUntil(second, () => segments().length === 0);
    expect(db.statements).toBeGreaterThan(statementsBefore); // they were written again ...
    expect(db.requestIds()).toEqual(sorted(sent)); // ... and skipped as already there
    expect((await stats(second)).written).toBe(0);
  });

  it('drops a poison event of a drained segment and writes the rest: the drain goes on', async () => {
    const db = new FakeDatabase();
    const sut = await start(db);
    db.mode = 'down';
    const good = ids('good', 20);
    for (const id of good.slice(0, 10)) sut.record(event(id));
    sut.record(event('bad', 'poison'));
    for (const id of good.slice(10)) sut.record(event(id));
    await sut.flush();
    expect(segments().length).toBe(1);
    db.mode = 'up';
    await drainUntil(sut, () => segments().length === 0);
    expect(db.requestIds()).toEqual(sorted(good));
    expect(await stats(sut)).toMatchObject({ written: 20, dropped: 1 });
  });

  it('skips damaged spill lines, counting them as dropped', async () => {
    mkdirSync(spillDir);
    writeFileSync(
      join(spillDir, `${databaseTag(undefined)}.gone-2-0000.00000001.ndjson`),
      [
        JSON.stringify({
          ...event('fine'),
          eventId: '018f0000-0000-7000-8000-000000000001',
          at: new Date(),
        }),
        JSON.stringify({ ...event('no-id') }),
        '{"eventId":"018f0000-0000-7000-8000-00000000',
      ].join('\n'),
    );
    const db = new FakeDatabase();
    const next = await start(db);
    await drainUntil(next, () => segments().length === 0);
    expect(db.requestIds()).toEqual(['fine']);
    expect((await stats(next)).dropped).toBe(2);
  });

  it('spills a batch whose write times out; when that write commits late, nothing is doubled', async () => {
    const db = new FakeDatabase();
    const sut = await start(db, { writeTimeoutMs: 50 });
    db.mode = 'hang';
    const sent = ids('slow', 5);
    for (const id of sent) sut.record(event(id));
    await sut.flush();
    expect((await stats(sut)).spilled).toBe(5);
    db.release(); // the abandoned insert commits after all
    expect(db.rows.size).toBe(5);
    db.mode = 'up';
    await drainUntil(sut, () => segments().length === 0);
    expect(db.requestIds()).toEqual(sorted(sent));
  });

  it('on a graceful shutdown with the database down, spills everything; the next start writes it', async () => {
    const db = new FakeDatabase();
    const first = await start(db);
    db.mode = 'down';
    const sent = ids('restart', 30);
    for (const id of sent) first.record(event(id));
    await stop(first);
    expect(await stats(first)).toMatchObject({ spilled: 30, dropped: 0 });
    expect(segments().length).toBe(1);
    expect(readdirSync(spillDir).filter((n) => n.endsWith('.lock'))).toEqual([]);

    db.mode = 'up';
    const second = await start(db);
    await drainUntil(second, () => segments().length === 0);
    expect(db.requestIds()).toEqual(sorted(sent));
  });

  it('holds events in memory as before when the spill directory cannot be used', async () => {
    writeFileSync(join(root, 'file'), '');
    const db = new FakeDatabase();
    const sut = await start(db, { spillDir: join(root, 'file', 'audit-spill'), memoryQueue: 10 });
    db.mode = 'down';
    for (const id of ids('memory', 100)) sut.record(event(id));
    await sut.flush();
    expect(sut.depth).toBe(100);
    expect(await stats(sut)).toMatchObject({ dropped: 0, spilled: 0 });
    db.mode = 'up';
    await drainUntil(sut, () => db.rows.size === 100);
  });

  it('when the disk does not take the spill, keeps the memory bound and drops only beyond it', async () => {
    const db = new FakeDatabase();
    const sut = await start(db, { memoryQueue: 50 });
    rmSync(spillDir, { recursive: true, force: true });
    db.mode = 'down';
    for (const id of ids('full', 200)) sut.record(event(id));
    await sut.flush();
    expect(sut.depth).toBe(50);
    expect(await stats(sut)).toMatchObject({ dropped: 150, spilled: 0 });
  });
});
