#!/usr/bin/env node
'use strict';
// Runs the official MCP conformance suite against a tenant endpoint of a freshly started
// conformance platform (conformance/platform: the product's bootstrap and AppModule with the
// suite's test_* tools, resources, prompts and completions beside them, none of which is in the
// product's catalog), reached through an API key, once per protocol revision, each against its
// expected-failures baseline (scripts/conformance-baseline-<revision>.yml). Exits non-zero on an
// unexpected failure or on a baseline entry that now passes.
//
//   node scripts/conformance.js                      both revisions
//   node scripts/conformance.js 2025-11-25           one revision
//   node scripts/conformance.js 2026-07-28 --scenario caching
//
// Reports: ci-artifacts/conformance/<revision>/ (checks.json per scenario, the suite's output),
// ci-artifacts/conformance/platform.log (at CONFORMANCE_LOG_LEVEL, default info),
// ci-artifacts/conformance/summary.txt.

const { spawn, spawnSync } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { isStale } = require('./build-freshness');

const ROOT = path.join(__dirname, '..');
const SUITE_DIR = path.join(ROOT, '.ci', 'conformance');
const SUITE_PKG = '@modelcontextprotocol/conformance';
const SUITE_CLI = path.join(SUITE_DIR, 'node_modules', SUITE_PKG, 'dist', 'index.js');
const NODE22 = path.join(SUITE_DIR, 'node_modules', '.bin', 'node');
/**
 * The conformance platform (conformance/platform, nest project "conformance-platform"): the
 * product's bootstrap and AppModule with the suite's fixtures beside them, none of which is in
 * the product's catalog. `nest build conformance-platform` empties and fills only this directory,
 * and a plain `nest build` only dist/apps/platform.
 */
const DIST = path.join(ROOT, 'dist', 'conformance-platform');
const MAIN_REL = path.join('conformance', 'platform', 'main.js');
/** What it is compiled from: the product and the conformance app around it. */
const SOURCES = ['apps', 'libs', 'conformance'].map((dir) => path.join(ROOT, dir));
const ARTIFACTS = path.join(ROOT, 'ci-artifacts', 'conformance');
const REVISIONS = ['2025-11-25', '2026-07-28'];
const TENANT = 'conf';

// The suite runs these with every --requirements run but does not score them (added after the
// revision was frozen, or pending); the platform is held to them all the same.
const ALSO_REQUIRED = {
  '2025-11-25': ['server-session-lifecycle'],
  '2026-07-28': ['http-header-validation'],
};

const log = (msg) => process.stderr.write(`conformance: ${msg}\n`);

class Failure extends Error {}

function usage() {
  return [
    'usage: node scripts/conformance.js [revision ...] [--scenario <name>]',
    `  revisions: ${REVISIONS.join(', ')} (default: all)`,
    "  --scenario <name>  run one scenario at each given revision (at that revision's wire)",
  ].join('\n');
}

function parseArgs(argv) {
  const opts = { revisions: [], scenario: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') {
      process.stdout.write(`${usage()}\n`);
      process.exit(0);
    } else if (a === '--scenario') {
      opts.scenario = argv[++i];
      if (!opts.scenario) throw new Failure(`--scenario needs a name\n${usage()}`);
    } else if (REVISIONS.includes(a)) {
      if (!opts.revisions.includes(a)) opts.revisions.push(a);
    } else {
      throw new Failure(`unknown argument "${a}"\n${usage()}`);
    }
  }
  if (opts.revisions.length === 0) opts.revisions = [...REVISIONS];
  return opts;
}

// ---- the suite and its Node 22 --------------------------------------------------------------

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Why the installed suite is unusable (missing, or not the pinned versions), or undefined. */
function suiteProblem() {
  const wanted = readJson(path.join(SUITE_DIR, 'package.json'))?.dependencies ?? {};
  for (const name of Object.keys(wanted)) {
    const got = readJson(path.join(SUITE_DIR, 'node_modules', name, 'package.json'))?.version;
    if (got !== wanted[name]) return `${name}@${wanted[name]} is ${got ? `at ${got}` : 'missing'}`;
  }
  if (!fs.existsSync(NODE22) || !fs.existsSync(SUITE_CLI))
    return 'the node binary or CLI is missing';
  const v = spawnSync(NODE22, ['--version'], { encoding: 'utf8' });
  const major = Number(/^v(\d+)/.exec(v.stdout ?? '')?.[1]);
  if (!(major >= 22)) return `${NODE22} does not run as Node >= 22 (${v.stdout || v.error})`;
  return undefined;
}

function ensureSuite() {
  const problem = suiteProblem();
  if (!problem) return;
  const locked = fs.existsSync(path.join(SUITE_DIR, 'package-lock.json'));
  const args = locked ? ['ci', '--prefix', SUITE_DIR] : ['install', '--prefix', SUITE_DIR];
  log(`installing the suite into .ci/conformance (${problem}): npm ${args.join(' ')}`);
  const npm = spawnSync('npm', [...args, '--no-audit', '--no-fund'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  if (npm.status !== 0) throw new Failure(`npm ${args[0]} in .ci/conformance failed`);
  const still = suiteProblem();
  if (still) throw new Failure(`after npm ${args[0]}, the suite is still unusable: ${still}`);
}

// ---- the platform ----------------------------------------------------------------------------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const distStale = () => isStale([path.join(DIST, MAIN_REL)], SOURCES);

/**
 * `nest build conformance-platform` when its build is missing or stale, as `npm start` decides
 * for the product. Type errors do not stop tsc from emitting (CI type-checks before this runs),
 * so, as in the test harness, a build that reports errors but emitted a fresh main.js is used
 * with a warning.
 */
function build() {
  if (!distStale()) return;
  log(
    'dist/conformance-platform is missing or older than the sources: nest build conformance-platform',
  );
  const nest = path.join(ROOT, 'node_modules', '@nestjs', 'cli', 'bin', 'nest.js');
  const res = spawnSync(process.execPath, [nest, 'build', 'conformance-platform'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  if (res.status === 0) return;
  if (distStale())
    throw new Failure(
      `nest build conformance-platform failed (exit ${res.status ?? res.signal}) and emitted no fresh dist/conformance-platform`,
    );
  log(
    'warning: nest build conformance-platform reported errors but emitted its build; running that',
  );
}

/**
 * A private copy of the build (nest build empties and refills it, and someone may rebuild while
 * the suite runs), at the same depth below the project as dist/conformance-platform, so the
 * compiled code resolves node_modules/ and its source maps point at the real sources in the
 * platform's stack traces.
 */
async function copyDist(cleanup) {
  for (let attempt = 1; ; attempt++) {
    const dir = path.join(ROOT, `.conformance-dist-${randomBytes(6).toString('hex')}`);
    const copy = path.join(dir, path.basename(DIST));
    cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const before = fs.statSync(path.join(DIST, MAIN_REL), { throwIfNoEntry: false })?.mtimeMs;
    try {
      fs.cpSync(DIST, copy, { recursive: true });
      const after = fs.statSync(path.join(DIST, MAIN_REL), { throwIfNoEntry: false })?.mtimeMs;
      if (before !== undefined && before === after && fs.existsSync(path.join(copy, MAIN_REL)))
        return path.join(copy, MAIN_REL);
    } catch (err) {
      if (attempt >= 4) throw err;
    }
    fs.rmSync(dir, { recursive: true, force: true });
    if (attempt >= 4)
      throw new Failure('dist/conformance-platform kept changing while it was copied; try again');
    await sleep(3000); // a build elsewhere is emptying and refilling it
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function startPlatform({ main, port, dataDir, adminToken, publicUrl, cleanup }) {
  const env = { ...process.env };
  // The run must use the embedded database and nothing the caller's shell happens to set.
  for (const k of ['DATABASE_URL', 'REDIS_URL', 'LOG_FILE', 'MCP_STATELESS', 'NODE_OPTIONS'])
    delete env[k];
  Object.assign(env, {
    HOST: '127.0.0.1',
    PORT: String(port),
    PUBLIC_URL: publicUrl,
    DATA_DIR: dataDir,
    ADMIN_TOKEN: adminToken,
    LOG_LEVEL: process.env.CONFORMANCE_LOG_LEVEL ?? 'info',
    // The suite sends hundreds of requests, some deliberately refused, from one address.
    AUTH_FAILURES_PER_MINUTE: '0',
    ADMIN_AUTH_FAILURES_PER_MINUTE: '0',
    RATE_LIMIT_KEY_PER_MINUTE: '0',
    RATE_LIMIT_TENANT_PER_MINUTE: '0',
  });
  const logFile = path.join(ARTIFACTS, 'platform.log');
  const out = fs.createWriteStream(logFile);
  let tail = '';
  // On Node 22, where most users run it; `npm test` covers Node 20 (the oldest supported).
  const child = spawn(NODE22, [main], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const s of [child.stdout, child.stderr]) {
    s.on('data', (c) => {
      out.write(c);
      tail = (tail + c.toString('utf8')).slice(-4000);
    });
  }
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let gone;
  void exited.then((e) => (gone = e));
  const stop = async () => {
    if (!gone) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    await new Promise((r) => out.end(r));
  };
  cleanup.push(stop);
  return {
    child,
    exited: () => gone,
    tail: () => tail,
    logFile,
  };
}

async function waitReady(base, platform, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    const gone = platform.exited();
    if (gone)
      throw new Failure(
        `the platform exited (${gone.code ?? gone.signal}) before it was ready:\n${platform.tail()}`,
      );
    try {
      const res = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(3000) });
      if (res.status === 200) return;
      last = `${res.status} ${await res.text()}`;
    } catch (err) {
      last = err.cause?.code ?? err.message;
    }
    await sleep(200);
  }
  throw new Failure(
    `the platform did not answer GET /readyz with 200 within ${timeoutMs / 1000}s (last: ${last}); see ${path.relative(ROOT, platform.logFile)}`,
  );
}

async function admin(base, token, method, route, body, expected) {
  const res = await fetch(`${base}${route}`, {
    method,
    headers: {
      Authorization: `Bearer ${token}`,
      ...(body ? { 'Content-Type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  if (res.status !== expected)
    throw new Failure(`${method} ${route}: expected ${expected}, got ${res.status}: ${text}`);
  return JSON.parse(text);
}

/** Tenant `conf` and a key holding every scope a tool in the catalog asks for; returns the key. */
async function provision(base, token) {
  await admin(base, token, 'POST', '/admin/tenants', { slug: TENANT, name: 'Conformance' }, 201);
  const { items } = await admin(
    base,
    token,
    'GET',
    `/admin/tenants/${TENANT}/tools`,
    undefined,
    200,
  );
  const scopes = [...new Set(items.flatMap((t) => t.requiredScopes))].sort();
  const key = await admin(
    base,
    token,
    'POST',
    `/admin/tenants/${TENANT}/keys`,
    { name: 'conformance', scopes },
    201,
  );
  log(`tenant "${TENANT}", ${items.length} tools, key with scopes [${scopes.join(', ')}]`);
  return key.secret;
}

// ---- the header-injecting proxy ---------------------------------------------------------------

/**
 * Adds the API key to every request (the suite cannot send an Authorization header) and changes
 * nothing else: Host and Origin reach the platform as the suite sent them (the DNS-rebinding
 * scenario needs the platform itself to refuse bad ones), responses stream through unbuffered
 * (SSE) with the platform's status and headers.
 */
function startProxy(upstreamPort, apiKey, cleanup) {
  // apiKey is a function: the key exists only once the platform is up, after the proxy.
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    const headers = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      if (req.rawHeaders[i].toLowerCase() !== 'authorization')
        headers.push(req.rawHeaders[i], req.rawHeaders[i + 1]);
    }
    headers.push('Authorization', `Bearer ${apiKey()}`);
    const up = http.request({
      host: '127.0.0.1',
      port: upstreamPort,
      method: req.method,
      path: req.url,
      headers,
      agent,
      setHost: false,
    });
    up.on('response', (ures) => {
      res.writeHead(ures.statusCode, ures.statusMessage, ures.rawHeaders);
      res.flushHeaders();
      ures.pipe(res);
      ures.on('error', () => res.destroy());
    });
    up.on('error', (err) => {
      if (res.headersSent) return res.destroy();
      res.writeHead(502, { 'Content-Type': 'application/json' });
      res.end(
        JSON.stringify({
          statusCode: 502,
          error: 'Bad Gateway',
          message: `conformance proxy: ${err.message}`,
        }),
      );
    });
    // A client that goes away (an SSE stream it is done with) ends the upstream request too.
    res.on('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    req.pipe(up);
  });
  server.keepAliveTimeout = 5000;
  cleanup.push(
    () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      }),
  );
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server.address().port));
  });
}

// ---- one suite run ---------------------------------------------------------------------------

let suiteChild;

function runSuite(revision, url, scenario) {
  const outDir = path.join(ARTIFACTS, revision);
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(outDir, { recursive: true });
  const baseline = path.join(__dirname, `conformance-baseline-${revision}.yml`);
  const args = [SUITE_CLI, 'server', '--url', url, '-o', outDir];
  if (scenario) args.push('--spec-version', revision, '--scenario', scenario);
  else args.push('--requirements', revision);
  if (fs.existsSync(baseline)) args.push('--expected-failures', baseline);
  else log(`no baseline ${path.relative(ROOT, baseline)}: every scored failure counts`);
  log(
    `${revision}: ${path.relative(ROOT, NODE22)} ${args.map((a) => (path.isAbsolute(a) ? path.relative(ROOT, a) : a)).join(' ')}`,
  );
  const output = fs.createWriteStream(path.join(outDir, 'output.txt'));
  return new Promise((resolve, reject) => {
    const child = spawn(NODE22, args, {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    suiteChild = child;
    let text = '';
    const tee = (dest) => (c) => {
      dest.write(c);
      output.write(c);
      text += c.toString('utf8');
    };
    child.stdout.on('data', tee(process.stdout));
    child.stderr.on('data', tee(process.stderr));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      suiteChild = undefined;
      output.end(() => resolve({ code: code ?? 1, signal, text, outDir, baseline }));
    });
  });
}

function readBaseline(file) {
  // The suite parses and validates the file; this only needs its scenario names.
  if (!fs.existsSync(file)) return { scenarios: new Set(), checks: new Set() };
  const { parse } = require(path.join(SUITE_DIR, 'node_modules', 'yaml'));
  const entries = (parse(fs.readFileSync(file, 'utf8')) ?? {}).server ?? [];
  return {
    scenarios: new Set(entries.filter((e) => !String(e).includes(':')).map(String)),
    checks: new Set(entries.filter((e) => String(e).includes(':')).map(String)),
  };
}

/** Per scenario: counts of its checks, from the checks.json files of one run. */
function results(outDir, text) {
  const rows = new Map();
  for (const entry of fs.readdirSync(outDir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const name = entry.name.replace(/^server-/, '').replace(/-\d{4}-\d{2}-\d{2}T[\d-]+Z$/, '');
    const checks = readJson(path.join(outDir, entry.name, 'checks.json')) ?? [];
    const count = (s) => checks.filter((c) => c.status === s).length;
    rows.set(name, {
      scenario: name,
      passed: count('SUCCESS'),
      failed: count('FAILURE'),
      warnings: count('WARNING'),
      failing: [
        ...new Set(
          checks.filter((c) => c.status === 'FAILURE' || c.status === 'WARNING').map((c) => c.id),
        ),
      ],
      succeeded: checks.filter((c) => c.status === 'SUCCESS').map((c) => c.id),
    });
  }
  // A scenario that threw is reported by the suite but leaves no checks.json.
  for (const m of text.matchAll(/^=== Running scenario: (\S+) ===$/gm)) {
    if (!rows.has(m[1]))
      rows.set(m[1], {
        scenario: m[1],
        passed: 0,
        failed: 1,
        warnings: 0,
        failing: [m[1]],
        succeeded: [],
        noResult: true,
      });
  }
  // In the order the suite ran them.
  const order = [...text.matchAll(/^=== Running scenario: (\S+) ===$/gm)].map((m) => m[1]);
  const rank = (n) => (order.includes(n) ? order.indexOf(n) : order.length);
  return [...rows.values()].sort((a, b) => rank(a.scenario) - rank(b.scenario));
}

/** The server scenarios the suite scores at `revision`, from its own `list`. */
function scoredScenarios(revision) {
  const res = spawnSync(NODE22, [SUITE_CLI, 'list', '--server', '--requirements', revision], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  const section = /^Server scenarios[^\n]*:\n((?:  - .*\n)*)/m.exec(res.stdout ?? '')?.[1];
  if (res.status !== 0 || !section)
    throw new Failure(
      `conformance list --server --requirements ${revision} did not list server scenarios:\n${res.stdout}${res.stderr}`,
    );
  return new Set([...section.matchAll(/^  - (\S+)/gm)].map((m) => m[1]));
}

function verdicts(revision, rows, run) {
  const base = readBaseline(run.baseline);
  const scored = scoredScenarios(revision);
  const held = ALSO_REQUIRED[revision] ?? [];
  const problems = [];
  for (const r of rows) {
    const bad = r.failed + r.warnings > 0;
    if (held.includes(r.scenario)) {
      r.verdict = bad
        ? 'FAIL (required, unscored by the suite)'
        : 'ok (required, unscored by the suite)';
      if (bad)
        problems.push(
          `${revision} ${r.scenario} (not scored by the suite, required here): ${r.failing.join(', ')}`,
        );
    } else if (!scored.has(r.scenario)) {
      r.verdict = bad ? 'fails, not scored' : 'ok, not scored';
    } else if (base.scenarios.has(r.scenario)) {
      r.verdict = bad ? 'expected failure (baseline)' : 'STALE baseline entry';
    } else {
      const entries = [...base.checks]
        .filter((c) => c.startsWith(`${r.scenario}:`))
        .map((c) => c.slice(r.scenario.length + 1));
      const unexpected = r.failing.filter((id) => !entries.includes(id));
      const stale = entries.filter((id) => r.succeeded.includes(id));
      if (unexpected.length) r.verdict = 'FAIL';
      else if (stale.length) r.verdict = 'STALE baseline check';
      else r.verdict = entries.length ? 'expected failure (baseline checks)' : 'ok';
    }
    if (r.noResult) r.verdict += ', no result (scenario threw)';
  }
  for (const s of held) {
    if (!rows.some((r) => r.scenario === s) && !run.scenarioOnly)
      problems.push(`${revision} ${s}: required, but the suite did not run it`);
  }
  return problems;
}

function table(revision, rows) {
  const head = ['scenario', 'passed', 'failed', 'warnings', 'verdict'];
  const body = rows.map((r) => [
    r.scenario,
    String(r.passed),
    String(r.failed),
    String(r.warnings),
    r.verdict,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) =>
    cells
      .map((c, i) => (i >= 1 && i <= 3 ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [
    `${revision}`,
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...body.map(line),
  ].join('\n');
}

// ---- main ------------------------------------------------------------------------------------

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const cleanup = [];
  let interrupted = false;
  const onSignal = (sig) => {
    if (interrupted) return;
    interrupted = true;
    log(`${sig}: stopping`);
    suiteChild?.kill(sig);
    void runCleanup(cleanup).then(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    ensureSuite();
    build();
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const main = await copyDist(cleanup);
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-conformance-'));
    cleanup.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));

    const port = await freePort();
    const adminToken = randomBytes(30).toString('base64url').slice(0, 40);
    const base = `http://127.0.0.1:${port}`;
    // The proxy comes first so PUBLIC_URL can name the address clients really use.
    let apiKey = '';
    const proxyPort = await startProxy(port, () => apiKey, cleanup);
    const publicUrl = `http://localhost:${proxyPort}`;
    const platform = startPlatform({ main, port, dataDir, adminToken, publicUrl, cleanup });
    await waitReady(base, platform);
    apiKey = await provision(base, adminToken);

    const url = `${publicUrl}/t/${TENANT}/mcp`;
    const summaries = [];
    const problems = [];
    let failed = false;
    for (const revision of opts.revisions) {
      if (interrupted) break;
      const run = await runSuite(revision, url, opts.scenario);
      if (interrupted) return; // the signal handler cleans up and exits
      run.scenarioOnly = !!opts.scenario;
      if (run.signal) throw new Failure(`the suite was ended by ${run.signal}`);
      const rows = results(run.outDir, run.text);
      problems.push(...verdicts(revision, rows, run));
      summaries.push(`${table(revision, rows)}\nsuite exit code: ${run.code}`);
      if (run.code !== 0) failed = true;
      const gone = platform.exited();
      if (gone)
        throw new Failure(
          `the platform exited (${gone.code ?? gone.signal}) during the ${revision} run:\n${platform.tail()}`,
        );
    }
    if (problems.length)
      summaries.push(['also required:', ...problems.map((p) => `  ${p}`)].join('\n'));
    const report = summaries.join('\n\n');
    fs.writeFileSync(path.join(ARTIFACTS, 'summary.txt'), `${report}\n`);
    process.stdout.write(
      `\n========== conformance summary ==========\n${report}\n\nfull reports: ${path.relative(ROOT, ARTIFACTS)}/\n`,
    );
    if (failed || problems.length) {
      log(
        'FAILED: see the suite\'s "Unexpected failures" / "Stale baseline entries" above and the table',
      );
      process.exitCode = 1;
    } else {
      log('all revisions conform (within their baselines)');
    }
  } finally {
    if (!interrupted) await runCleanup(cleanup);
  }
}

async function runCleanup(cleanup) {
  for (const fn of cleanup.splice(0).reverse()) {
    try {
      await fn();
    } catch (err) {
      log(`cleanup: ${err.message}`);
    }
  }
}

main().catch((err) => {
  log(err instanceof Failure ? err.message : err.stack);
  process.exitCode = 1;
});
