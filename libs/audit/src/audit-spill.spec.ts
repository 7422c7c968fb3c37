import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditSpill, AuditSpillOptions } from './audit-spill';

const segmentsIn = (dir: string) =>
  readdirSync(dir)
    .filter((n) => n.endsWith('.ndjson'))
    .sort();
const locksIn = (dir: string) => readdirSync(dir).filter((n) => n.endsWith('.lock'));
const records = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => ({
    n: from + i,
    text: `event ${from + i} ${'x'.repeat(40)}`,
  }));

async function readAll(spill: AuditSpill): Promise<{ items: unknown[]; corrupt: number }> {
  const out = { items: [] as unknown[], corrupt: 0 };
  for (const name of spill.segments()) {
    const r = await spill.read(name);
    out.items.push(...r.items);
    out.corrupt += r.corrupt;
  }
  return out;
}

describe(AuditSpill.name, () => {
  let root: string;
  let dir: string;
  const opened: AuditSpill[] = [];
  /** Another "process" on this host; dead unless listed in `alive`. */
  const alive = new Set<number>();
  const open = async (o: Partial<AuditSpillOptions> = {}) => {
    const r = await AuditSpill.open({
      dir,
      database: 'db1',
      segmentBytes: 4096,
      host: 'host-a',
      pid: 1000 + opened.length,
      isAlive: (pid) => alive.has(pid),
      ...o,
    });
    opened.push(r.spill);
    return r;
  };

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'audit-spill-spec-'));
    dir = join(root, 'audit-spill');
    alive.clear();
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close().catch(() => undefined)));
    rmSync(root, { recursive: true, force: true });
  });

  it('creates its directory with mode 0700 and holds a lock file in it', async () => {
    const { spill } = await open();
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(locksIn(dir)).toEqual([`${spill.owner}.lock`]);
    expect(spill.hasPending).toBe(false);
  });

  it('appends records as lines, rotates at the segment size and reads them back in order', async () => {
    const { spill } = await open();
    await spill.append(records(0, 10));
    expect(spill.hasPending).toBe(true);
    expect(spill.segments()).toEqual([]); // still being written
    for (let i = 10; i < 200; i += 10) await spill.append(records(i, 10));
    await spill.rotate();
    const names = spill.segments();
    expect(names.length).toBeGreaterThan(3);
    expect(segmentsIn(dir)).toEqual([...names].sort());
    for (const name of names) {
      // A segment is sealed once past the size: at most one append's chunk beyond it.
      expect(statSync(join(dir, name)).size).toBeLessThan(4096 + 10 * 100);
      expect(statSync(join(dir, name)).mode & 0o777).toBe(0o600);
    }
    const back = await readAll(spill);
    expect(back.corrupt).toBe(0);
    expect(back.items).toEqual(records(0, 200));
    expect(spill.pendingBytes).toBe(names.reduce((n, s) => n + statSync(join(dir, s)).size, 0));
  });

  it('deletes a drained segment whole', async () => {
    const { spill } = await open();
    await spill.append(records(0, 100));
    await spill.rotate();
    const [first, ...rest] = spill.segments();
    await spill.remove(first);
    expect(spill.segments()).toEqual(rest);
    expect(segmentsIn(dir)).toEqual([...rest].sort());
    for (const name of rest) await spill.remove(name);
    expect(spill.hasPending).toBe(false);
    expect(spill.pendingBytes).toBe(0);
    expect(segmentsIn(dir)).toEqual([]);
  });

  it('skips a torn last line (a write cut short by a crash) and keeps the rest', async () => {
    const { spill } = await open({ segmentBytes: 1 << 20 });
    await spill.append(records(0, 5));
    await spill.rotate();
    const [name] = spill.segments();
    appendFileSync(join(dir, name), '{"n":5,"text":"event 5 xx');
    const r = await spill.read(name);
    expect(r.items).toEqual(records(0, 5));
    expect(r.corrupt).toBe(1);
  });

  it('after a crash, the next process takes over the leftover segments and the stale lock', async () => {
    const crashed = await open({ pid: 4242 });
    for (let i = 0; i < 120; i += 10) await crashed.spill.append(records(i, 10));
    // Crashed: never closed; its lock file and its unsealed last segment stay behind.
    const left = segmentsIn(dir);
    expect(left.length).toBeGreaterThan(1);
    const next = await open({ pid: 4343 });
    expect(next.claim).toEqual({ claimed: left.length, foreign: 0 });
    expect(locksIn(dir)).toEqual([`${next.spill.owner}.lock`]);
    expect(next.spill.segments().every((n) => n.includes(next.spill.owner))).toBe(true);
    expect((await readAll(next.spill)).items).toEqual(records(0, 120));
  });

  it('takes over what a process left on a graceful close', async () => {
    const first = await open();
    await first.spill.append(records(0, 30));
    await first.spill.close();
    expect(locksIn(dir)).toEqual([]);
    const next = await open();
    expect(next.claim.claimed).toBe(1);
    expect((await readAll(next.spill)).items).toEqual(records(0, 30));
  });

  it('leaves a live writer’s segments alone until its lock goes stale', async () => {
    const live = await open({ pid: 5000 });
    alive.add(5000);
    await live.spill.append(records(0, 100));
    await live.spill.rotate();
    const other = await open({ pid: 5001, staleMs: 60_000 });
    expect(other.claim.claimed).toBe(0);
    expect(other.spill.hasPending).toBe(false);
    // On another host (the pid means nothing there) only the lock's age counts.
    const elsewhere = await open({ pid: 6000, host: 'host-b', staleMs: 60_000 });
    expect(elsewhere.claim.claimed).toBe(0);
    const old = new Date(Date.now() - 120_000);
    utimesSync(join(dir, `${live.spill.owner}.lock`), old, old);
    const took = await elsewhere.spill.maintain();
    expect(took.claimed).toBe(live.spill.segments().length);
    expect((await readAll(elsewhere.spill)).items).toEqual(records(0, 100));
  });

  it('treats a lock with this process’s own pid under another owner as an earlier incarnation', async () => {
    // pid 1 in a container restarted with the same hostname.
    const earlier = 'earlier-1-abcd';
    mkdirSync(dir);
    writeFileSync(join(dir, `${earlier}.lock`), JSON.stringify({ pid: 1, host: 'host-a' }));
    writeFileSync(join(dir, `db1.${earlier}.00000001.ndjson`), '{"n":1}\n');
    const now = await open({ pid: 1 });
    expect(now.claim.claimed).toBe(1);
    expect(locksIn(dir)).not.toContain(`${earlier}.lock`);
  });

  it('gives each leftover segment to exactly one of two processes claiming at once', async () => {
    const crashed = await open({ pid: 7000 });
    for (let i = 0; i < 400; i += 20) await crashed.spill.append(records(i, 20));
    await crashed.spill.rotate();
    const count = crashed.spill.segments().length;
    const [a, b] = await Promise.all([open({ pid: 7001 }), open({ pid: 7002 })]);
    expect(a.claim.claimed + b.claim.claimed).toBe(count);
    const items = [...(await readAll(a.spill)).items, ...(await readAll(b.spill)).items];
    expect((items as { n: number }[]).map((r) => r.n).sort((x, y) => x - y)).toEqual(
      records(0, 400).map((r) => r.n),
    );
  });

  it('leaves segments meant for another database where they are', async () => {
    const other = await open({ database: 'db2', pid: 8000 });
    await other.spill.append(records(0, 3));
    await other.spill.close();
    const mine = await open({ database: 'db1', pid: 8001 });
    expect(mine.claim).toEqual({ claimed: 0, foreign: 1 });
    expect(mine.spill.hasPending).toBe(false);
    expect(segmentsIn(dir).filter((n) => n.startsWith('db2.'))).toHaveLength(1);
  });

  it('notices when its lock was taken for dead, re-creates it and starts a new segment', async () => {
    const { spill } = await open();
    await spill.append(records(0, 3));
    rmSync(join(dir, `${spill.owner}.lock`));
    const m = await spill.maintain();
    expect(m.lockLost).toBe(true);
    expect(locksIn(dir)).toEqual([`${spill.owner}.lock`]);
    expect(spill.segments()).toHaveLength(1); // the one written so far is sealed
    await spill.append(records(3, 1));
    await spill.rotate();
    expect(spill.segments()).toHaveLength(2);
  });

  it('rejects an append the disk does not take, and takes appends again once it can', async () => {
    const { spill } = await open();
    await spill.append(records(0, 2));
    await spill.rotate();
    const kept = spill.segments();
    rmSync(dir, { recursive: true, force: true }); // the next segment cannot be created
    await expect(spill.append(records(2, 1))).rejects.toThrow(/ENOENT/);
    mkdirSync(dir);
    await spill.append(records(3, 1));
    await spill.rotate();
    const [added] = spill.segments().filter((n) => !kept.includes(n));
    expect((await spill.read(added)).items).toEqual(records(3, 1));
  });
});
