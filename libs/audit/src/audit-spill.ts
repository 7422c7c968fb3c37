import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import {
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  utimes,
  writeFile,
  type FileHandle,
} from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';

/** A segment is sealed (fsynced, closed, ready to drain) once it has grown past this. */
export const SPILL_SEGMENT_BYTES = 1024 * 1024;
/** A writer whose lock file has not been touched for this long is presumed dead. */
export const SPILL_STALE_MS = 60_000;
/** Lines are written in chunks of this many, so a segment overshoots its size by one chunk at most. */
const CHUNK = 256;

/** `<database>.<owner>.<seq>.ndjson`: the database tag keeps apart spills meant for different databases. */
const SEGMENT = /^([a-z0-9]+)\.([a-z0-9-]+)\.(\d{8})\.ndjson$/;
const LOCK = /^([a-z0-9-]+)\.lock$/;

/** Owners opened by this process: a lock with our pid but not in here is a previous incarnation's. */
const LIVE_OWNERS = new Set<string>();

export interface AuditSpillOptions {
  /** The spill directory; created with mode 0700 when missing. */
  dir: string;
  /** Which database the events are for ([a-z0-9]+); segments tagged otherwise are left alone. */
  database: string;
  segmentBytes?: number;
  staleMs?: number;
  /** Tests: who this process is, and whether a pid on this host is alive. */
  pid?: number;
  host?: string;
  isAlive?: (pid: number) => boolean;
}

export interface SpillSegmentRead {
  /** Every line that parsed as JSON, in order. */
  items: unknown[];
  /** Lines that did not (a write torn by a crash or a full disk leaves one at the end). */
  corrupt: number;
}

export interface SpillClaim {
  /** Segments of dead writers this store took over. */
  claimed: number;
  /** Segments for another database, left where they are. */
  foreign: number;
}

interface Segment {
  name: string;
  bytes: number;
}

/**
 * An append-only spill of JSON records on disk, in segment files of about `segmentBytes`, so that
 * a drained segment can be deleted whole. Each process writes segments named after itself and
 * holds a lock file it touches now and then; segments whose writer is gone (no lock file, a lock
 * of a dead pid on this host, or one not touched for `staleMs`) are taken over with an atomic
 * rename, so two processes sharing the directory never drain the same segment. Appends,
 * rotations and take-overs run one at a time.
 *
 * Durability: a record is in the file (and survives a crash of this process) once its append
 * resolved; a segment is fsynced when it is sealed, so a power failure can lose the unsealed tail.
 */
export class AuditSpill {
  readonly owner: string;
  readonly dir: string;
  private readonly tag: string;
  private readonly segmentBytes: number;
  private readonly staleMs: number;
  private readonly pid: number;
  private readonly host: string;
  private readonly isAlive: (pid: number) => boolean;
  private seq = 0;
  private active?: Segment & { handle: FileHandle };
  private readonly sealed: Segment[] = [];
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(o: AuditSpillOptions) {
    if (!/^[a-z0-9]+$/.test(o.database)) throw new Error(`bad spill database tag ${o.database}`);
    this.dir = o.dir;
    this.tag = o.database;
    this.segmentBytes = o.segmentBytes ?? SPILL_SEGMENT_BYTES;
    this.staleMs = o.staleMs ?? SPILL_STALE_MS;
    this.pid = o.pid ?? process.pid;
    this.host = o.host ?? hostname();
    this.isAlive = o.isAlive ?? pidAlive;
    this.owner = `${Date.now().toString(36)}-${this.pid}-${randomBytes(4).toString('hex')}`;
  }

  /** Creates the directory if needed, takes a lock and adopts the segments of dead writers. */
  static async open(options: AuditSpillOptions): Promise<{ spill: AuditSpill; claim: SpillClaim }> {
    await mkdir(options.dir, { recursive: true, mode: 0o700 });
    const spill = new AuditSpill(options);
    await spill.writeLock();
    LIVE_OWNERS.add(spill.owner);
    const claim = await spill.claimOrphans();
    return { spill, claim };
  }

  /** Sealed segments waiting to be drained, oldest first. */
  segments(): string[] {
    return this.sealed.map((s) => s.name);
  }

  /** Anything on disk not drained yet, the segment being written included. */
  get hasPending(): boolean {
    return this.sealed.length > 0 || (this.active?.bytes ?? 0) > 0;
  }

  get pendingBytes(): number {
    return this.sealed.reduce((n, s) => n + s.bytes, 0) + (this.active?.bytes ?? 0);
  }

  /** Appends one line per record. On a write error the segment is sealed (its torn tail stays last). */
  append(records: readonly object[]): Promise<void> {
    return this.serial(async () => {
      if (this.closed) throw new Error('the audit spill is closed');
      for (let i = 0; i < records.length; i += CHUNK) {
        const lines = records.slice(i, i + CHUNK).map((r) => `${JSON.stringify(r)}\n`);
        const data = Buffer.from(lines.join(''), 'utf8');
        const seg = this.active ?? (await this.openSegment());
        try {
          await writeAll(seg.handle, data);
          seg.bytes += data.length;
        } catch (err) {
          seg.bytes = await seg.handle.stat().then(
            (s) => s.size,
            () => seg.bytes,
          );
          await this.seal().catch(() => undefined);
          throw err;
        }
        if (seg.bytes >= this.segmentBytes) await this.seal();
      }
    });
  }

  /** Seals the segment being written (fsync, close), so that it can be drained. */
  rotate(): Promise<void> {
    return this.serial(() => this.seal());
  }

  async read(name: string): Promise<SpillSegmentRead> {
    const text = await readFile(join(this.dir, name), 'utf8');
    const items: unknown[] = [];
    let corrupt = 0;
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        items.push(JSON.parse(line));
      } catch {
        corrupt += 1;
      }
    }
    return { items, corrupt };
  }

  /** Deletes a drained segment. */
  remove(name: string): Promise<void> {
    return this.serial(async () => {
      const i = this.sealed.findIndex((s) => s.name === name);
      if (i >= 0) this.sealed.splice(i, 1);
      await rm(join(this.dir, name), { force: true });
    });
  }

  /** Sets a segment that cannot be read aside (`.unreadable`), out of the drain. */
  quarantine(name: string): Promise<void> {
    return this.serial(async () => {
      const i = this.sealed.findIndex((s) => s.name === name);
      if (i >= 0) this.sealed.splice(i, 1);
      await rename(join(this.dir, name), join(this.dir, `${name}.unreadable`)).catch(
        () => undefined,
      );
    });
  }

  /**
   * Touches the lock (re-creating it, and starting a new segment, if another process took this
   * one for dead) and adopts segments of writers that died since.
   */
  maintain(): Promise<SpillClaim & { lockLost: boolean }> {
    return this.serial(async () => {
      let lockLost = false;
      const now = new Date();
      try {
        await utimes(this.lockFile(this.owner), now, now);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        lockLost = true;
        await this.writeLock();
        await this.seal();
      }
      return { ...(await this.claimNow()), lockLost };
    });
  }

  /** Adopts the segments of dead writers (for this database). */
  claimOrphans(): Promise<SpillClaim> {
    return this.serial(() => this.claimNow());
  }

  /** Seals the current segment and gives up the lock; what is on disk stays for the next process. */
  close(): Promise<void> {
    return this.serial(async () => {
      if (this.closed) return;
      this.closed = true;
      try {
        await this.seal();
      } finally {
        LIVE_OWNERS.delete(this.owner);
        await rm(this.lockFile(this.owner), { force: true });
      }
    });
  }

  private serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.chain.then(op, op);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private lockFile(owner: string): string {
    return join(this.dir, `${owner}.lock`);
  }

  private async writeLock(): Promise<void> {
    const file = this.lockFile(this.owner);
    const info = JSON.stringify({ pid: this.pid, host: this.host, started: new Date() });
    await writeFile(`${file}.tmp`, info, { mode: 0o600 });
    await rename(`${file}.tmp`, file);
  }

  private nextName(): string {
    this.seq += 1;
    return `${this.tag}.${this.owner}.${String(this.seq).padStart(8, '0')}.ndjson`;
  }

  private async openSegment(): Promise<Segment & { handle: FileHandle }> {
    const name = this.nextName();
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_APPEND;
    const handle = await open(join(this.dir, name), flags, 0o600);
    this.active = { name, bytes: 0, handle };
    return this.active;
  }

  private async seal(): Promise<void> {
    const seg = this.active;
    if (!seg) return;
    this.active = undefined;
    try {
      await seg.handle.sync();
    } finally {
      await seg.handle.close();
      if (seg.bytes > 0) this.sealed.push({ name: seg.name, bytes: seg.bytes });
      else await rm(join(this.dir, seg.name), { force: true });
    }
  }

  private async claimNow(): Promise<SpillClaim> {
    const names = (await readdir(this.dir)).sort();
    const dead = new Map<string, boolean>();
    const isDead = async (owner: string) => {
      let d = dead.get(owner);
      if (d === undefined) dead.set(owner, (d = await this.ownerIsDead(owner)));
      return d;
    };
    let claimed = 0;
    let foreign = 0;
    for (const name of names) {
      const m = SEGMENT.exec(name);
      if (!m || m[2] === this.owner) continue;
      if (m[1] !== this.tag) {
        foreign += 1;
        continue;
      }
      if (!(await isDead(m[2]))) continue;
      const to = this.nextName();
      try {
        await rename(join(this.dir, name), join(this.dir, to));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // another process won
        throw err;
      }
      const { size } = await stat(join(this.dir, to));
      this.sealed.push({ name: to, bytes: size });
      claimed += 1;
    }
    // Locks of dead writers, whether they left segments or not.
    for (const name of names) {
      const m = LOCK.exec(name);
      if (m && m[1] !== this.owner && (await isDead(m[1]))) {
        await rm(join(this.dir, name), { force: true });
      }
    }
    return { claimed, foreign };
  }

  private async ownerIsDead(owner: string): Promise<boolean> {
    const file = this.lockFile(owner);
    let mtimeMs: number;
    try {
      mtimeMs = (await stat(file)).mtimeMs;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
      throw err;
    }
    let info: { pid?: unknown; host?: unknown } | undefined;
    try {
      info = JSON.parse(await readFile(file, 'utf8')) as typeof info;
    } catch {
      info = undefined; // unreadable: only its age can tell
    }
    if (info?.host === this.host && typeof info.pid === 'number') {
      // Our own pid under another owner: an earlier process (pid 1 in a restarted container).
      if (info.pid === this.pid ? !LIVE_OWNERS.has(owner) : !this.isAlive(info.pid)) {
        return true;
      }
    }
    return Date.now() - mtimeMs > this.staleMs;
  }
}

async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset);
    offset += bytesWritten;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
