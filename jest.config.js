const { existsSync, readdirSync, readFileSync, realpathSync } = require('node:fs');
const { spawnSync } = require('node:child_process');
const { delimiter, dirname, join } = require('node:path');

const paths = {
  '^@app/(config|database|tenancy|auth|admin|observability|audit|tools|mcp|ratelimit|ops)$': '<rootDir>/libs/$1/src',
};
// Transpile only, for speed: `npm run typecheck` (run by CI) type-checks every spec and source.
const transform = { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] };

/**
 * The operations suites (test/{replicas,outage,shutdown}-*.e2e-spec.ts) run their own PostgreSQL
 * server, so they are collected only where its binaries are (the same search as
 * test/support/proc-postgres.ts). REQUIRE_OPS_TESTS=1 turns their absence into an error.
 */
const OPS_SPECS = '<rootDir>/test/{replicas,outage,shutdown}-*.e2e-spec.ts';

function postgresBinDir() {
  const required = ['initdb', 'pg_ctl', 'postgres'];
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
  return candidates.find((dir) => required.every((b) => existsSync(join(dir, b))));
}

function opsUnavailableReason() {
  const bin = postgresBinDir();
  if (!bin) return 'no PostgreSQL server binaries (initdb, pg_ctl, postgres) on PATH or in /usr/lib/postgresql/*/bin';
  if (typeof process.getuid === 'function' && process.getuid() === 0) {
    // initdb refuses to run as root: the suites run the server as the postgres account.
    let passwd = '';
    try {
      passwd = readFileSync('/etc/passwd', 'utf8');
    } catch {
      /* no passwd file */
    }
    if (!/^postgres:/m.test(passwd)) return `running as root and there is no postgres user to run ${bin}/initdb as`;
    const switcher = ['/usr/sbin/runuser', '/sbin/runuser', '/usr/bin/su', '/bin/su'].some((p) => existsSync(p));
    if (!switcher) return 'running as root and neither runuser nor su is available to run initdb as postgres';
  }
  return undefined;
}

const opsMissing = opsUnavailableReason();
if (opsMissing) {
  if (process.env.REQUIRE_OPS_TESTS === '1') {
    throw new Error(`REQUIRE_OPS_TESTS=1 but the ops suites cannot run: ${opsMissing}`);
  }
  process.stderr.write(`jest: ops suites (test/{replicas,outage,shutdown}-*) not collected: ${opsMissing}\n`);
}

const projects = [
  {
    displayName: 'unit',
    rootDir: __dirname,
    testEnvironment: 'node',
    moduleFileExtensions: ['js', 'json', 'ts'],
    testMatch: ['<rootDir>/libs/**/*.spec.ts', '<rootDir>/apps/**/*.spec.ts'],
    transform,
    moduleNameMapper: paths,
  },
  {
    displayName: 'e2e',
    rootDir: __dirname,
    testEnvironment: 'node',
    moduleFileExtensions: ['js', 'json', 'ts'],
    testMatch: ['<rootDir>/test/**/*.e2e-spec.ts', '!**/test/{replicas,outage,shutdown}-*.e2e-spec.ts'],
    transform,
    moduleNameMapper: paths,
  },
];
if (!opsMissing) {
  projects.push({
    displayName: 'ops',
    rootDir: __dirname,
    testEnvironment: 'node',
    moduleFileExtensions: ['js', 'json', 'ts'],
    testMatch: [OPS_SPECS],
    transform,
    moduleNameMapper: paths,
  });
}

module.exports = {
  testTimeout: 60000,
  globalSetup: '<rootDir>/test/global-setup.js',
  globalTeardown: '<rootDir>/test/global-teardown.js',
  projects,
};
