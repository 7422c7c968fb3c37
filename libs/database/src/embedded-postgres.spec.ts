import { chmodSync, chownSync, existsSync, mkdirSync, statSync, symlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Client } from 'pg';
import { DriverUtils } from 'typeorm/driver/DriverUtils';
import { prepareSocketDir, socketUrl } from './embedded-postgres';

const modeOf = (path: string) => statSync(path).mode & 0o7777;

describe(prepareSocketDir.name, () => {
  const sut = prepareSocketDir;
  let dataDir: string;
  const made: string[] = [];
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'mcp-socket-dir-'));
  });
  afterEach(async () => {
    for (const dir of made.splice(0)) await rm(dir, { recursive: true, force: true });
    await rm(dataDir, { recursive: true, force: true });
  });

  it('makes <dataDir>/run with mode 0700 whatever the umask', () => {
    const umask = process.umask(0o777);
    let socket;
    try {
      socket = sut(dataDir);
    } finally {
      process.umask(umask);
    }
    expect(socket).toEqual({ dir: join(dataDir, 'run'), temporary: false });
    expect(modeOf(socket.dir)).toBe(0o700);
  });

  it('repairs the mode of a directory that is already there', () => {
    mkdirSync(join(dataDir, 'run'));
    chmodSync(join(dataDir, 'run'), 0o777);
    expect(sut(dataDir).dir).toBe(join(dataDir, 'run'));
    expect(modeOf(join(dataDir, 'run'))).toBe(0o700);
  });

  it('refuses a symbolic link in place of the directory', () => {
    mkdirSync(join(dataDir, 'elsewhere'), { mode: 0o700 });
    symlinkSync(join(dataDir, 'elsewhere'), join(dataDir, 'run'));
    expect(() => sut(dataDir)).toThrow(/must be a directory .* not a link or file/);
  });

  it('refuses a directory that belongs to another user', () => {
    mkdirSync(join(dataDir, 'run'), { mode: 0o700 });
    if (process.getuid?.() !== 0) {
      process.stderr.write(
        'embedded-postgres.spec: not root, cannot chown; ownership check not run\n',
      );
      return;
    }
    chownSync(join(dataDir, 'run'), 65534, 65534);
    expect(() => sut(dataDir)).toThrow(/belongs to uid 65534, not to this process's uid 0/);
  });

  it('uses a fresh private directory under os.tmpdir() for memory:// databases', () => {
    const first = sut(undefined);
    const second = sut(undefined);
    made.push(first.dir, second.dir);
    expect(first.temporary).toBe(true);
    expect(dirname(first.dir)).toBe(tmpdir());
    expect(modeOf(first.dir)).toBe(0o700);
    expect(second.dir).not.toBe(first.dir);
  });

  it('falls back to a private directory under os.tmpdir() when the socket path would be too long', () => {
    const deep = join(dataDir, 'd'.repeat(100));
    const socket = sut(deep);
    made.push(socket.dir);
    expect(socket.temporary).toBe(true);
    expect(dirname(socket.dir)).toBe(tmpdir());
    expect(modeOf(socket.dir)).toBe(0o700);
    expect(Buffer.byteLength(join(socket.dir, '.s.PGSQL.5432'))).toBeLessThanOrEqual(103);
    expect(existsSync(join(deep, 'run'))).toBe(false);
  });
});

describe(socketUrl.name, () => {
  const sut = socketUrl;
  const dirs = ['/srv/mcp/run', '/tmp/odd dir: #?@%+&=/run'];

  it.each(dirs)('names the socket directory %j as the host for pg, on port 5432', (dir) => {
    const client = new Client({ connectionString: sut(dir) });
    expect({ host: client.host, port: client.port, database: client.database }).toEqual({
      host: dir,
      port: 5432,
      database: 'postgres',
    });
    expect(client.user).toBe('postgres');
  });

  it.each(dirs)('keeps the database name TypeORM reads from the URL (%j)', (dir) => {
    expect(DriverUtils.buildDriverOptions({ url: sut(dir) })).toMatchObject({
      database: 'postgres',
      username: 'postgres',
      port: 5432,
    });
  });

  it('has no query string to lose, and no host that resolves to a TCP address', () => {
    const url = new URL(sut('/srv/mcp/run'));
    expect(url.search).toBe('');
    expect(url.hostname).toBe('%2Fsrv%2Fmcp%2Frun');
  });
});
