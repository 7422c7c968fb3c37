const { opsUnavailableReason } = require('./test/support/postgres-bin');
const { browserUnavailableReason } = require('./test/support/chromium');

const paths = {
  '^@app/(config|database|tenancy|auth|admin|observability|audit|tools|mcp|ratelimit|ops|egress|sources|console)$':
    '<rootDir>/libs/$1/src',
};
/**
 * Transpile only. tsconfig.json sets `isolatedModules`, so ts-jest compiles each file on its own
 * and cannot see type errors, whatever `diagnostics` says (it still reports syntax errors). A
 * type-checking transform (isolatedModules off: a language service per worker) was measured at
 * 30 s → 50 s for the unit project and 25 s → 40 s for four e2e files (--runInBand, no cache),
 * and ts-jest warns that the node16 module kind needs isolatedModules; `tsc --noEmit` checks every
 * spec and source in about 11 s. So `npm test` type-checks first (the `pretest` script runs
 * `npm run typecheck`), as CI does.
 */
const transform = { '^.+\\.ts$': ['ts-jest', { diagnostics: true }] };

const project = (displayName, testMatch) => ({
  displayName,
  rootDir: __dirname,
  testEnvironment: 'node',
  moduleFileExtensions: ['js', 'json', 'ts'],
  testMatch,
  transform,
  moduleNameMapper: paths,
});

/**
 * The operations suites (test/{replicas,outage,shutdown}-*.e2e-spec.ts) run their own PostgreSQL
 * server, so they are collected only where its binaries are (found by test/support/postgres-bin.js,
 * as the suites themselves find them). REQUIRE_OPS_TESTS=1 turns their absence into an error.
 */
const OPS_SPECS = '<rootDir>/test/{replicas,outage,shutdown}-*.e2e-spec.ts';
const opsMissing = opsUnavailableReason();
if (opsMissing) {
  if (process.env.REQUIRE_OPS_TESTS === '1') {
    throw new Error(`REQUIRE_OPS_TESTS=1 but the ops suites cannot run: ${opsMissing}`);
  }
  process.stderr.write(
    `jest: ops suites (test/{replicas,outage,shutdown}-*) not collected: ${opsMissing}\n`,
  );
}

/**
 * The browser suites (test/browser-*.e2e-spec.ts) drive Debian's Chromium with playwright-core;
 * they are collected only where it is installed. REQUIRE_BROWSER_TESTS=1 (CI) makes its absence an
 * error.
 */
const BROWSER_SPECS = '<rootDir>/test/browser-*.e2e-spec.ts';
const browserMissing = browserUnavailableReason();
if (browserMissing) {
  if (process.env.REQUIRE_BROWSER_TESTS === '1') {
    throw new Error(`REQUIRE_BROWSER_TESTS=1 but the browser suites cannot run: ${browserMissing}`);
  }
  process.stderr.write(`jest: browser suites (test/browser-*) not collected: ${browserMissing}\n`);
}

const projects = [
  project('unit', ['<rootDir>/libs/**/*.spec.ts', '<rootDir>/apps/**/*.spec.ts']),
  project('e2e', [
    '<rootDir>/test/**/*.e2e-spec.ts',
    '!**/test/{replicas,outage,shutdown}-*.e2e-spec.ts',
    '!**/test/browser-*.e2e-spec.ts',
  ]),
];
if (!opsMissing) projects.push(project('ops', [OPS_SPECS]));
if (!browserMissing) projects.push(project('browser', [BROWSER_SPECS]));

module.exports = {
  testTimeout: 60000,
  globalSetup: '<rootDir>/test/global-setup.js',
  globalTeardown: '<rootDir>/test/global-teardown.js',
  projects,
};
