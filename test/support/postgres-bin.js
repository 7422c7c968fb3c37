// Where the PostgreSQL server binaries are, and whether the ops suites can run here. Plain
// CommonJS, because jest.config.js needs it before anything is transpiled; test/support/postgres.ts
// uses the same functions to start its servers.
const { spawnSync } = require('node:child_process');
const { existsSync, readdirSync, readFileSync, realpathSync } = require('node:fs');
const { delimiter, dirname, join } = require('node:path');

const REQUIRED = ['initdb', 'pg_ctl', 'postgres'];

/**
 * The directory holding `initdb`, `pg_ctl` and `postgres`: PG_BINDIR, `pg_config --bindir`, the
 * directory of an `initdb` on PATH (symlinks resolved), or the newest /usr/lib/postgresql/<v>/bin
 * (and the like); undefined when there is none.
 */
function findPostgresBinDir() {
  const candidates = [];
  if (process.env.PG_BINDIR) candidates.push(process.env.PG_BINDIR);
  const pgConfig = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  if (pgConfig.status === 0 && pgConfig.stdout.trim()) candidates.push(pgConfig.stdout.trim());
  for (const dir of (process.env.PATH || '').split(delimiter).filter(Boolean)) {
    const initdb = join(dir, 'initdb');
    if (existsSync(initdb)) candidates.push(dirname(realpathSync(initdb)));
  }
  for (const base of ['/usr/lib/postgresql', '/usr/local/pgsql', '/opt/homebrew/opt']) {
    if (!existsSync(base)) continue;
    if (existsSync(join(base, 'bin'))) candidates.push(join(base, 'bin'));
    const versions = readdirSync(base).sort((a, b) => parseFloat(b) - parseFloat(a));
    for (const v of versions) candidates.push(join(base, v, 'bin'));
  }
  return candidates.find((dir) => REQUIRED.every((b) => existsSync(join(dir, b))));
}

/** The `postgres` account's line of /etc/passwd, if there is one. */
function postgresPasswdLine() {
  try {
    return readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('postgres:'));
  } catch {
    return undefined;
  }
}

/** Paths of the tools that run a command as another user, in order of preference. */
const SWITCHERS = ['/usr/sbin/runuser', '/sbin/runuser', '/usr/bin/su', '/bin/su'];

/** Why the ops suites cannot run a PostgreSQL server of their own here; undefined when they can. */
function opsUnavailableReason() {
  const bin = findPostgresBinDir();
  if (!bin) {
    return 'no PostgreSQL server binaries (initdb, pg_ctl, postgres) on PATH or in /usr/lib/postgresql/*/bin';
  }
  if (typeof process.getuid === 'function' && process.getuid() === 0) {
    // initdb refuses to run as root: the suites run the server as the postgres account.
    if (!postgresPasswdLine()) {
      return `running as root and there is no postgres user to run ${bin}/initdb as`;
    }
    if (!SWITCHERS.some((p) => existsSync(p))) {
      return 'running as root and neither runuser nor su is available to run initdb as postgres';
    }
  }
  return undefined;
}

module.exports = { findPostgresBinDir, opsUnavailableReason, postgresPasswdLine, SWITCHERS };
