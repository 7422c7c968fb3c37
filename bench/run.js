#!/usr/bin/env node
'use strict';
/**
 * `npm run bench` — the platform against a bare SDK + Express reference server.
 *
 *   npm run bench                   load comparison: tools/call `add`, stateful and stateless
 *   npm run bench -- --quick        the same as a ~30 s smoke run
 *   npm run bench -- --scale        scale figures only (RSS with idle sessions, tools/list
 *                                   latency, API-key verification with 1 vs many tenants)
 *   npm run bench -- --all          both
 *   npm run bench -- --noisy        the noisy-neighbour figure only (also part of the default run):
 *                                   tenant B's `add` latency alone and while tenant A sends 1 MiB
 *                                   arguments as fast as it can
 *
 * Environment: BENCH_DURATION (s per measured run), BENCH_WARMUP (s), BENCH_ROUNDS,
 * BENCH_CONNECTIONS, BENCH_TENANTS (extra tenants for the auth figure, inserted with SQL; default
 * 10,000, 200 with --quick), BENCH_SESSIONS (e.g. "1000,5000"), BENCH_RATE_LIMIT_PER_MINUTE (the
 * platform's per-key and per-tenant limits, default 1,000,000: on, but never reached), BENCH_NO_BUILD=1 (run the existing dist/ as is), BENCH_LOG_LEVEL (the platform's
 * LOG_LEVEL, default warn), DATABASE_URL (a Postgres server: every platform process gets a
 * scratch database on it, dropped at the end).
 *
 * The platform is built first when dist/ is missing or older than the sources (as `npm start`
 * does), and every platform process runs from a private copy of that build. Every server runs in
 * its own process on 127.0.0.1; the load generator (autocannon) runs in this one. The numbers go
 * to bench/results/<timestamp>.json and bench/results/latest.json. See bench/README.md.
 */
const { spawn, spawnSync, execFileSync } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { performance } = require('node:perf_hooks');
const autocannon = require('autocannon');
const { LATEST_PROTOCOL_VERSION } = require('@modelcontextprotocol/sdk/types.js');

const ROOT = path.join(__dirname, '..');
const RESULTS_DIR = path.join(__dirname, 'results');
const DIST = path.join(ROOT, 'dist/apps/platform');
const MAIN_REL = 'apps/platform/src/main.js';
const CODEC_REL = 'libs/tenancy/src/api-key-codec.js';
const EMBEDDED_REL = 'libs/database/src/embedded-postgres.js';
const MAIN_JS = path.join(DIST, MAIN_REL);
/** The compiled app this run starts: a private copy of dist/ (see snapshotBuild). */
let appDir = DIST;
const HOST = '127.0.0.1';
const RUN_ID = randomBytes(3).toString('hex');
const ADMIN_TOKEN = `bench-admin-${randomBytes(24).toString('hex')}`;
const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}` };
const MCP_HEADERS = {
  accept: 'application/json, text/event-stream',
  'content-type': 'application/json',
};
/** What every correct `add(40, 2)` response contains, JSON body or SSE frame alike. */
const ADD_MARKER = '"structuredContent":{"result":42}';
const SESSIONS_PER_TENANT = 500; // below MAX_SESSIONS_PER_TENANT (default 1000)
const KEYS_PER_TENANT = 10;

// ---------------------------------------------------------------------------------------------
// Options

const argv = process.argv.slice(2);
const has = (flag) => argv.includes(flag);
if (require.main === module && (has('--help') || has('-h'))) {
  const doc = fs.readFileSync(__filename, 'utf8').split(' */')[0].split('/**\n')[1];
  process.stdout.write(`${doc.replace(/^ \* ?/gm, '')}`);
  process.exit(0);
}
if (require.main === module) {
  for (const a of argv) {
    if (!['--quick', '--scale', '--all', '--noisy'].includes(a)) {
      process.stderr.write(`unknown argument ${a} (expected --quick, --scale, --all, --noisy)\n`);
      process.exit(2);
    }
  }
}
const QUICK = has('--quick');
const RUN_LOAD = has('--all') || (!has('--scale') && !has('--noisy'));
const RUN_SCALE = has('--all') || has('--scale');
const RUN_NOISY = RUN_LOAD || has('--noisy');
const DATABASE_URL = process.env.DATABASE_URL || undefined;

function envNumber(name, fallback, { min = 0 } = {}) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) {
    process.stderr.write(`${name}=${raw}: expected a number ≥ ${min}\n`);
    process.exit(2);
  }
  return n;
}

const CONFIG = {
  quick: QUICK,
  connections: envNumber('BENCH_CONNECTIONS', 32, { min: 1 }),
  duration: envNumber('BENCH_DURATION', QUICK ? 3 : 10, { min: 1 }),
  warmup: envNumber('BENCH_WARMUP', QUICK ? 1 : 5),
  rounds: envNumber('BENCH_ROUNDS', QUICK ? 1 : 2, { min: 1 }),
  tenants: envNumber('BENCH_TENANTS', QUICK ? 200 : 10_000),
  sessions: (process.env.BENCH_SESSIONS || '1000,5000')
    .split(',')
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0)
    .sort((a, b) => a - b),
  toolsListRequests: QUICK ? 50 : 200,
  // How long an RSS reading may wait for V8 to give memory back (see settledRssKiB).
  settleSeconds: QUICK ? 40 : 60,
  database: DATABASE_URL ? 'postgres (DATABASE_URL)' : 'embedded (PGlite)',
  logLevel: process.env.BENCH_LOG_LEVEL || 'warn',
  rateLimitPerMinute: String(envNumber('BENCH_RATE_LIMIT_PER_MINUTE', 1_000_000)),
};

// ---------------------------------------------------------------------------------------------
// Cleanup: every process and temp dir registered here goes away on exit, failure or signal.

const children = new Set(); // { name, child }
const tempDirs = new Set();
const disposers = []; // async, run in reverse order
let activeCannon;
let cleaningUp;
let interrupted = false;

function cleanup() {
  if (!cleaningUp) {
    cleaningUp = (async () => {
      if (activeCannon) activeCannon.stop();
      while (disposers.length) {
        const d = disposers.pop();
        try {
          await d();
        } catch (err) {
          process.stderr.write(`cleanup: ${err.message}\n`);
        }
      }
    })();
  }
  return cleaningUp;
}

process.on('exit', () => {
  // Last resort when cleanup could not run (a synchronous exit): no orphans, no leftovers.
  for (const { child } of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

for (const signal of require.main === module ? ['SIGINT', 'SIGTERM', 'SIGHUP'] : []) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\n${signal}: stopping servers and cleaning up…\n`);
    const hardExit = setTimeout(() => process.exit(130), 30_000);
    hardExit.unref();
    cleanup().finally(() => process.exit(130));
  });
}

function makeTempDir(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

function removeTempDir(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

// ---------------------------------------------------------------------------------------------
// Small helpers

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (msg) => process.stderr.write(`${msg}\n`);

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

const round = (n, d = 2) => (Number.isFinite(n) ? Number(n.toFixed(d)) : null);
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Runs `worker(item)` over items with at most `limit` in flight. */
async function pool(items, limit, worker) {
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await worker(items[i], i);
    }
  });
  await Promise.all(runners);
}

function readRssKiB(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]);
}

function gitInfo() {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { cwd: ROOT, encoding: 'utf8' })
      .split('\n')
      .filter(Boolean).length;
    return { commit, dirtyFiles: dirty };
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Build

function newestSource(dir) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

function ensureBuilt() {
  if (process.env.BENCH_NO_BUILD === '1') {
    if (!fs.existsSync(MAIN_JS)) throw new Error(`BENCH_NO_BUILD=1 but ${MAIN_JS} does not exist`);
    log('BENCH_NO_BUILD=1: using dist/ as it is');
    return;
  }
  const stale =
    !fs.existsSync(MAIN_JS) ||
    Math.max(newestSource(path.join(ROOT, 'apps')), newestSource(path.join(ROOT, 'libs'))) >
      fs.statSync(MAIN_JS).mtimeMs;
  if (!stale) return;
  log('building the platform (npm run build)…');
  const t0 = Date.now();
  const res = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (res.status !== 0) {
    throw new Error(
      `npm run build failed (exit ${res.status}); fix the build, or run the existing dist/ with BENCH_NO_BUILD=1`,
    );
  }
  log(`built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

/**
 * Every platform process of this run starts from one private copy of the build, so a rebuild of
 * dist/ meanwhile (`nest build` empties it first) cannot break or change a run half-way. The
 * copy sits in a temp dir with a node_modules link to the project's, and goes away at the end.
 */
function snapshotBuild() {
  const dir = makeTempDir('mcp-bench-app-');
  fs.cpSync(DIST, path.join(dir, 'dist'), { recursive: true });
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  disposers.push(async () => removeTempDir(dir));
  appDir = path.join(dir, 'dist');
  if (!fs.existsSync(path.join(appDir, MAIN_REL))) {
    throw new Error(`${MAIN_JS} vanished while it was copied (a build running elsewhere?); try again`);
  }
}

// ---------------------------------------------------------------------------------------------
// Storage: a fresh temp DATA_DIR (embedded) or a scratch database on the DATABASE_URL server

let scratchDbUnsupported = false;

async function makeStorage(label) {
  if (!DATABASE_URL) {
    const dir = makeTempDir(`mcp-bench-${label}-`);
    return {
      env: { DATA_DIR: dir },
      databaseUrl: undefined,
      dispose: async () => removeTempDir(dir),
    };
  }
  const { Client } = require('pg');
  const name = `mcp_bench_${RUN_ID}_${label.replace(/[^a-z0-9]/g, '_')}`;
  if (!scratchDbUnsupported) {
    const admin = new Client({ connectionString: DATABASE_URL });
    try {
      await admin.connect();
      await admin.query(`CREATE DATABASE ${name}`);
      const url = new URL(DATABASE_URL);
      url.pathname = `/${name}`;
      return {
        env: { DATABASE_URL: url.toString() },
        databaseUrl: url.toString(),
        dispose: async () => {
          const c = new Client({ connectionString: DATABASE_URL });
          await c.connect();
          try {
            await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
          } finally {
            await c.end();
          }
        },
      };
    } catch (err) {
      scratchDbUnsupported = true;
      log(
        `warning: could not create a scratch database (${err.message}); using DATABASE_URL itself. ` +
          `Bench tenants (slugs starting "b${RUN_ID}-") are deleted at the end.`,
      );
    } finally {
      await admin.end().catch(() => undefined);
    }
  }
  return {
    env: { DATABASE_URL },
    databaseUrl: DATABASE_URL,
    dispose: async () => {
      const c = new Client({ connectionString: DATABASE_URL });
      await c.connect();
      try {
        await c.query(`DELETE FROM tenants WHERE slug LIKE $1`, [`b${RUN_ID}-%`]);
      } finally {
        await c.end();
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Processes

function trackOutput(name, child) {
  const tail = [];
  let echoed = 0;
  const onData = (chunk) => {
    for (const line of chunk.toString().split('\n')) {
      if (!line.trim()) continue;
      tail.push(line);
      if (tail.length > 200) tail.shift();
      if (echoed < 10) log(`[${name}] ${line}`);
      else if (echoed === 10) log(`[${name}] (further output suppressed)`);
      echoed++;
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  return { tail, lines: () => echoed };
}

function waitForExit(child, ms) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

function reportUnexpectedExit(entry, output) {
  entry.child.once('exit', (code, signal) => {
    if (entry.stopping || cleaningUp) return;
    entry.died = `${entry.name} exited unexpectedly (${code ?? signal})`;
    log(`\n${entry.died}; its last output:\n${output.tail.slice(-40).join('\n')}\n`);
  });
}

async function stopChild(entry, graceMs = 20_000) {
  const { child } = entry;
  entry.stopping = true;
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    if (!(await waitForExit(child, graceMs))) {
      log(`[${entry.name}] did not stop within ${graceMs / 1000} s of SIGTERM; killing it`);
      child.kill('SIGKILL');
      await waitForExit(child, 5_000);
    }
  }
  children.delete(entry);
}

/**
 * Starts the platform in its own process (the compiled main.js, as `npm start` runs it) on a
 * fresh database, or on `storage` from an earlier start, and waits until /readyz answers 200.
 */
async function startPlatform(label, { stateless, env: extraEnv = {}, storage: existing }) {
  const storage = existing || (await makeStorage(label));
  if (!existing) disposers.push(storage.dispose);
  const port = await freePort();
  const env = {
    ...process.env,
    ...storage.env,
    ...extraEnv,
    HOST,
    PORT: String(port),
    ADMIN_TOKEN,
    LOG_LEVEL: CONFIG.logLevel,
    MCP_STATELESS: stateless ? 'true' : 'false',
    // The limiter stays on (its cost is part of every request) but never trips at bench rates.
    RATE_LIMIT_KEY_PER_MINUTE: CONFIG.rateLimitPerMinute,
    RATE_LIMIT_TENANT_PER_MINUTE: CONFIG.rateLimitPerMinute,
  };
  delete env.PUBLIC_URL;
  delete env.LOG_FILE;
  if (!DATABASE_URL) delete env.DATABASE_URL;
  // BENCH_CPU_PROF=<dir>: write a V8 CPU profile of each platform process there (for profiling).
  const prof = process.env.BENCH_CPU_PROF
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
    : [];
  const child = spawn(process.execPath, [...prof, path.join(appDir, MAIN_REL)], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const entry = { name: `platform:${label}`, child };
  children.add(entry);
  disposers.push(() => stopChild(entry));
  const output = trackOutput(entry.name, child);
  reportUnexpectedExit(entry, output);
  const url = `http://${HOST}:${port}`;
  const t0 = Date.now();
  const deadline = t0 + 120_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `${entry.name} exited (${child.exitCode ?? child.signalCode}) before it was ready:\n` +
          output.tail.join('\n'),
      );
    }
    try {
      const res = await fetch(`${url}/readyz`);
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      throw new Error(`${entry.name} not ready within 120 s:\n${output.tail.join('\n')}`);
    }
    await sleep(100);
  }
  log(`${entry.name} ready on ${url} (pid ${child.pid}, ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  return {
    label,
    url,
    pid: child.pid,
    stateless,
    databaseUrl: storage.databaseUrl,
    storage,
    env: extraEnv,
    output,
    /** Why the process is gone, when it died on its own. */
    died: () => entry.died,
    stop: () => stopChild(entry),
  };
}

/**
 * Stops `platform`, runs `between()` while no process has its storage open, and starts it again on
 * the same storage. The object is updated in place (url, pid, stop, …), so every holder of it
 * sees the new process. Resolves to what `between` resolved to.
 */
async function restartPlatform(platform, between) {
  await platform.stop();
  const result = await between();
  const { label, stateless, env, storage } = platform;
  Object.assign(platform, await startPlatform(label, { stateless, env, storage }));
  return result;
}

/** Starts bench/reference-server.js in its own process; it reports its port over IPC. */
async function startReference(mode) {
  const child = spawn(process.execPath, [path.join(__dirname, 'reference-server.js')], {
    cwd: ROOT,
    env: { ...process.env, REF_MODE: mode, PORT: '0', NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const entry = { name: `reference:${mode}`, child };
  children.add(entry);
  disposers.push(() => stopChild(entry, 5_000));
  const output = trackOutput(entry.name, child);
  let onEarlyExit;
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${entry.name} did not start within 30 s`)), 30_000);
    child.once('message', (m) => {
      clearTimeout(timer);
      resolve(m.ready);
    });
    onEarlyExit = (code) => {
      clearTimeout(timer);
      reject(new Error(`${entry.name} exited (${code}):\n${output.tail.join('\n')}`));
    };
    child.once('exit', onEarlyExit);
  });
  child.off('exit', onEarlyExit);
  reportUnexpectedExit(entry, output);
  log(`${entry.name} ready on http://${HOST}:${port}/mcp (pid ${child.pid})`);
  return { url: `http://${HOST}:${port}`, pid: child.pid, stop: () => stopChild(entry, 5_000) };
}

// ---------------------------------------------------------------------------------------------
// HTTP: admin API and MCP by hand

async function api(base, method, urlPath, body, headers = ADMIN) {
  const res = await fetch(`${base}${urlPath}`, {
    method,
    headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

async function createTenant(base, slug) {
  const r = await api(base, 'POST', '/admin/tenants', { slug, name: `Bench ${slug}` });
  if (r.status !== 201) throw new Error(`POST /admin/tenants ${slug}: ${r.status} ${r.text}`);
  return r.json;
}

async function createKey(base, slug, scopes, name = 'bench') {
  const r = await api(base, 'POST', `/admin/tenants/${slug}/keys`, { name, scopes });
  if (r.status !== 201 || typeof r.json?.secret !== 'string') {
    throw new Error(`POST /admin/tenants/${slug}/keys: ${r.status} ${r.text}`);
  }
  return r.json.secret;
}

function parseEventStream(text) {
  const out = [];
  for (const event of text.split(/\r?\n\r?\n/)) {
    const data = event
      .split(/\r?\n/)
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).replace(/^ /, ''))
      .join('\n');
    if (data.trim()) out.push(JSON.parse(data));
  }
  return out;
}

/** The JSON-RPC messages of a response body, JSON or SSE-framed; none when it does not parse. */
function parseMessages(type, text) {
  try {
    if (type.includes('text/event-stream')) return parseEventStream(text);
    return text ? [JSON.parse(text)] : [];
  } catch {
    return [];
  }
}

async function mcpPost(url, message, headers = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { ...MCP_HEADERS, ...headers },
    body: JSON.stringify(message),
  });
  const text = await res.text();
  const type = res.headers.get('content-type') || '';
  return { status: res.status, headers: res.headers, text, type, messages: parseMessages(type, text) };
}

/**
 * POSTs `body` (already serialised) over `agent` and resolves once the last byte of the response
 * body is in, with `ms` from sending to that byte. Nothing is decoded or parsed in between, so a
 * timing of it is the server's and the wire's, not the client's.
 */
function timedPost(agent, url, body, headers) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request(
      url,
      { method: 'POST', agent, headers: { ...MCP_HEADERS, ...headers, 'content-length': body.length } },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const ms = performance.now() - t0;
          resolve({ ms, status: res.statusCode, type: res.headers['content-type'] || '', chunks });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const initializeMessage = (name) => ({
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: {
    protocolVersion: LATEST_PROTOCOL_VERSION,
    capabilities: {},
    clientInfo: { name, version: '1.0.0' },
  },
});

/**
 * Initializes a session by hand (initialize, then notifications/initialized) and returns the
 * headers every later request of the session carries.
 */
async function openSession(url, headers = {}, clientName = 'mcp-bench') {
  const init = await mcpPost(url, initializeMessage(clientName), headers);
  if (init.status !== 200) throw new Error(`initialize at ${url}: ${init.status} ${init.text.slice(0, 300)}`);
  const sessionId = init.headers.get('mcp-session-id');
  if (!sessionId) throw new Error(`initialize at ${url} answered without an Mcp-Session-Id header`);
  const version = init.messages[0]?.result?.protocolVersion || LATEST_PROTOCOL_VERSION;
  const sessionHeaders = {
    ...headers,
    'mcp-session-id': sessionId,
    'mcp-protocol-version': version,
  };
  const ack = await mcpPost(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, sessionHeaders);
  if (ack.status !== 202) {
    throw new Error(`notifications/initialized at ${url}: ${ack.status} ${ack.text.slice(0, 300)}`);
  }
  return sessionHeaders;
}

const addCall = (id) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name: 'add', arguments: { a: 40, b: 2 } },
});

/** One `add(40, 2)` outside the load: it must really answer 42, or the bench stops here. */
async function verifyAdd(label, url, headers) {
  const r = await mcpPost(url, addCall('verify-1'), headers);
  const result = r.messages.find((m) => m.id === 'verify-1')?.result;
  let textResult;
  try {
    textResult = JSON.parse(result?.content?.[0]?.text ?? 'null')?.result;
  } catch {
    textResult = undefined;
  }
  const ok =
    r.status === 200 &&
    result?.structuredContent?.result === 42 &&
    textResult === 42 &&
    !result.isError &&
    r.text.includes(ADD_MARKER);
  if (!ok) {
    throw new Error(
      `VERIFICATION FAILED on ${label}: add(40, 2) did not return 42.\n` +
        `  HTTP ${r.status} ${r.type}\n  ${r.text.slice(0, 600)}`,
    );
  }
  log(`verified ${label}: add(40, 2) = 42 (${r.type.split(';')[0]})`);
  return { status: r.status, contentType: r.type.split(';')[0] };
}

// ---------------------------------------------------------------------------------------------
// Load (autocannon, in this process)

function cannon(opts) {
  return new Promise((resolve, reject) => {
    activeCannon = autocannon(opts, (err, result) => {
      activeCannon = undefined;
      if (interrupted) reject(new Error('interrupted'));
      else if (err) reject(err);
      else resolve(result);
    });
  });
}

/**
 * Drives POST `url` for `duration` seconds with `connections` connections. `requests` as in
 * autocannon; every request gets a unique JSON-RPC id ("[<id>]" in the body). Non-2xx, socket
 * errors, timeouts and 2xx responses whose body fails `check` all count as errors.
 */
async function load({ url, headers, body, duration, requests, check, connections = CONFIG.connections, overallRate }) {
  let wrongBodies = 0;
  let wrongSample;
  let non2xxSample;
  const onResponse = (status, resBody) => {
    if (status >= 200 && status < 300) {
      if (!check(resBody)) {
        wrongBodies++;
        if (!wrongSample) wrongSample = String(resBody).slice(0, 300);
      }
    } else if (!non2xxSample) {
      non2xxSample = `${status} ${String(resBody).slice(0, 300)}`;
    }
  };
  const reqs = (requests || [{}]).map((r) => ({ ...r, onResponse }));
  const r = await cannon({
    url,
    method: 'POST',
    headers: { ...MCP_HEADERS, ...headers },
    body,
    idReplacement: true,
    requests: reqs,
    connections,
    duration,
    timeout: 10,
    ...(overallRate ? { overallRate } : {}),
  });
  const ok = (r['2xx'] || 0) - wrongBodies;
  const errors = (r.errors || 0) + (r.non2xx || 0) + wrongBodies;
  return {
    rps: ok / r.duration,
    p50: r.latency.p50,
    p90: r.latency.p90,
    p99: r.latency.p99,
    meanLatency: r.latency.average,
    maxLatency: r.latency.max,
    requests: r.requests.total,
    ok,
    errors,
    socketErrors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    wrongBodies,
    seconds: r.duration,
    ...(non2xxSample ? { non2xxSample } : {}),
    ...(wrongSample ? { wrongBodySample: wrongSample } : {}),
  };
}

const ADD_BODY =
  '{"jsonrpc":"2.0","id":"[<id>]","method":"tools/call","params":{"name":"add","arguments":{"a":40,"b":2}}}';
const LIST_BODY = '{"jsonrpc":"2.0","id":"[<id>]","method":"tools/list","params":{}}';
const isAdd42 = (b) => typeof b === 'string' && b.includes(ADD_MARKER);
const isToolList = (b) => typeof b === 'string' && b.includes('"tools":[') && b.includes('"name":"add"');

// ---------------------------------------------------------------------------------------------
// Part 1: the load comparison

async function loadComparison() {
  const runs = [];
  const verified = {};
  for (const mode of ['stateful', 'stateless']) {
    log(`\n== ${mode} ==`);
    const platform = await startPlatform(`load-${mode}`, { stateless: mode === 'stateless' });
    const reference = await startReference(mode);
    const slug = `b${RUN_ID}-${mode}`;
    await createTenant(platform.url, slug);
    const key = await createKey(platform.url, slug, ['math:use']);
    const auth = { authorization: `Bearer ${key}` };
    const targets = {
      reference: { url: `${reference.url}/mcp`, headers: {} },
      platform: { url: `${platform.url}/t/${slug}/mcp`, headers: auth },
    };
    if (mode === 'stateful') {
      // One session per server, opened by hand, shared by every connection of the load.
      for (const t of Object.values(targets)) t.headers = await openSession(t.url, t.headers);
    }
    for (const [server, t] of Object.entries(targets)) {
      verified[`${mode}/${server}`] = await verifyAdd(`${mode} ${server}`, t.url, t.headers);
    }
    const drive = (server, seconds) =>
      load({ url: targets[server].url, headers: targets[server].headers, body: ADD_BODY, duration: seconds, check: isAdd42 });
    if (CONFIG.warmup > 0) {
      for (const server of ['reference', 'platform']) {
        log(`warm-up ${mode} ${server} (${CONFIG.warmup} s)`);
        const w = await drive(server, CONFIG.warmup);
        if (w.errors) log(`  warm-up had ${w.errors} errors ${w.non2xxSample || w.wrongBodySample || ''}`);
      }
    }
    for (let round = 1; round <= CONFIG.rounds; round++) {
      const order = round % 2 === 1 ? ['reference', 'platform'] : ['platform', 'reference'];
      for (const server of order) {
        const r = await drive(server, CONFIG.duration);
        log(
          `round ${round} ${mode} ${server}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, errors ${r.errors}`,
        );
        if (r.errors) log(`  first error: ${r.non2xxSample || r.wrongBodySample || `${r.socketErrors} socket errors / ${r.timeouts} timeouts`}`);
        runs.push({ mode, server, round, ...r });
      }
    }
    // Still right after the load (a session that broke under load shows up here).
    await verifyAdd(`${mode} platform (after load)`, targets.platform.url, targets.platform.headers);
    await reference.stop();
    await platform.stop();
  }
  const summary = [];
  for (const mode of ['stateful', 'stateless']) {
    const row = (server) => {
      const rs = runs.filter((r) => r.mode === mode && r.server === server);
      return {
        mode,
        server,
        rps: mean(rs.map((r) => r.rps)),
        p50: mean(rs.map((r) => r.p50)),
        p99: mean(rs.map((r) => r.p99)),
        errors: rs.reduce((a, r) => a + r.errors, 0),
        runs: rs.length,
      };
    };
    const ref = row('reference');
    const plat = row('platform');
    plat.rpsRatio = plat.rps / ref.rps;
    plat.p99Ratio = plat.p99 / ref.p99;
    summary.push(ref, plat);
  }
  return { runs, summary, verified };
}

// ---------------------------------------------------------------------------------------------
// Part 1b: the noisy neighbour

const NOISY = {
  victimConnections: 8,
  victimRate: 400,
  attackerConnections: 16,
};

/**
 * Tenant B's `add` latency at a steady 400 req/s, alone and while tenant A (another key, another
 * tenant, same process) sends ~1 MiB `tools/call` bodies as fast as 16 connections can, from a
 * process of its own. The platform runs with its default limits (concurrency caps, argument
 * caps) except the per-minute rate limits, which stay out of reach as in the load comparison, so
 * what contains A is its cost being bounded, not a rate limit. Rounds alternate alone/attacked.
 */
async function noisyNeighbour() {
  log('\n== noisy neighbour ==');
  const platform = await startPlatform('noisy', { stateless: true });
  const [a, b] = [`a${RUN_ID}-noisy`, `b${RUN_ID}-noisy`];
  await createTenant(platform.url, a);
  await createTenant(platform.url, b);
  const keyA = await createKey(platform.url, a, ['math:use']);
  const keyB = await createKey(platform.url, b, ['math:use']);
  const victim = { url: `${platform.url}/t/${b}/mcp`, headers: { authorization: `Bearer ${keyB}` } };
  await verifyAdd('noisy victim', victim.url, victim.headers);
  const driveVictim = (seconds) =>
    load({
      ...victim,
      body: ADD_BODY,
      duration: seconds,
      check: isAdd42,
      connections: NOISY.victimConnections,
      overallRate: NOISY.victimRate,
    });
  const attack = (seconds) =>
    new Promise((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [path.join(__dirname, 'attacker.js'), `${platform.url}/t/${a}/mcp`, keyA, String(NOISY.attackerConnections), String(seconds)],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      const entry = { name: 'attacker', child };
      children.add(entry);
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.on('exit', (code) => {
        children.delete(entry);
        if (code === 0) resolve(JSON.parse(out));
        else reject(new Error(`attacker exited with ${code}`));
      });
    });
  if (CONFIG.warmup > 0) await driveVictim(CONFIG.warmup);
  const runs = [];
  for (let round = 1; round <= CONFIG.rounds; round++) {
    const order = round % 2 === 1 ? ['alone', 'attacked'] : ['attacked', 'alone'];
    for (const phase of order) {
      let r;
      let attacker;
      if (phase === 'alone') r = await driveVictim(CONFIG.duration);
      else {
        // The attacker starts first and outlasts the measurement on both sides.
        const attacking = attack(CONFIG.duration + 4);
        await sleep(2000);
        r = await driveVictim(CONFIG.duration);
        attacker = await attacking;
      }
      log(
        `round ${round} ${phase}: B p50 ${r.p50} ms, p99 ${r.p99} ms, ${r.rps.toFixed(0)} req/s, errors ${r.errors}` +
          (attacker ? `; A sent ${attacker.rps.toFixed(0)} req/s, statuses ${JSON.stringify(attacker.statuses)}` : ''),
      );
      runs.push({ round, phase, ...r, ...(attacker ? { attacker } : {}) });
    }
  }
  await verifyAdd('noisy victim (after)', victim.url, victim.headers);
  await platform.stop();
  const summarize = (phase) => {
    const rs = runs.filter((r) => r.phase === phase);
    return {
      phase,
      p50: mean(rs.map((r) => r.p50)),
      p99: mean(rs.map((r) => r.p99)),
      rps: mean(rs.map((r) => r.rps)),
      errors: rs.reduce((n, r) => n + r.errors, 0),
    };
  };
  const alone = summarize('alone');
  const attacked = summarize('attacked');
  const attackers = runs.filter((r) => r.attacker).map((r) => r.attacker);
  return {
    config: NOISY,
    runs,
    alone,
    attacked,
    p99Ratio: attacked.p99 / alone.p99,
    p50Ratio: attacked.p50 / alone.p50,
    attacker: {
      bodyBytes: attackers[0]?.bodyBytes,
      rps: mean(attackers.map((x) => x.rps)),
      statuses: attackers.reduce((acc, x) => {
        for (const [k, v] of Object.entries(x.statuses)) acc[k] = (acc[k] ?? 0) + v;
        return acc;
      }, {}),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Part 2: scale figures

/**
 * p50 (and p99) of `tools/list`, sequential requests on one keep-alive connection, as one
 * principal sees it: from sending the request to the last byte of the response (see timedPost);
 * every response is then checked outside the timing. Reusable for the 200-tool pack: point it at a
 * tenant whose catalog has the pack, with a key that sees it. `stateful: true` opens a session
 * first (the server must be stateful).
 */
async function measureToolsList(url, key, { stateful = false, requests = CONFIG.toolsListRequests, warmup = 20 } = {}) {
  let headers = { authorization: `Bearer ${key}` };
  if (stateful) headers = await openSession(url, headers, 'mcp-bench-tools-list');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const times = [];
  let tools;
  let bytes;
  try {
    for (let i = 0; i < warmup + requests; i++) {
      const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: i + 1, method: 'tools/list', params: {} }));
      const r = await timedPost(agent, url, body, headers);
      const raw = Buffer.concat(r.chunks);
      const text = raw.toString('utf8');
      const result = parseMessages(r.type, text).find((m) => m.id === i + 1)?.result;
      if (r.status !== 200 || !Array.isArray(result?.tools)) {
        throw new Error(`tools/list at ${url}: ${r.status} ${text.slice(0, 300)}`);
      }
      tools = result.tools.length;
      bytes = raw.length;
      if (i >= warmup) times.push(r.ms);
    }
  } finally {
    agent.destroy();
  }
  times.sort((a, b) => a - b);
  return {
    tools,
    bytes,
    requests,
    p50: percentile(times, 50),
    p99: percentile(times, 99),
    mean: mean(times),
    stateful,
  };
}

/**
 * tools/list with a small and a large catalog: two stateless platforms with the benchmark-only
 * tool pack (BENCH_TOOL_PACK=5 and =200 synthetic tools), a key without scopes that sees the pack
 * plus the two scope-free built-ins.
 */
async function measureToolPack() {
  const sizes = [5, 200];
  const points = [];
  for (const n of sizes) {
    const platform = await startPlatform(`pack-${n}`, { stateless: true, env: { BENCH_TOOL_PACK: String(n) } });
    try {
      const slug = `b${RUN_ID}-pack-${n}`;
      await createTenant(platform.url, slug);
      const key = await createKey(platform.url, slug, []);
      const r = await measureToolsList(`${platform.url}/t/${slug}/mcp`, key);
      log(`tools/list with a ${n}-tool pack: p50 ${r.p50.toFixed(2)} ms, ${r.tools} tools listed`);
      points.push({ pack: n, ...r });
    } finally {
      await platform.stop();
    }
  }
  return { available: true, points, p50Ratio: points[1].p50 / points[0].p50 };
}

/**
 * The RSS of `pid` once V8 has given back the garbage of what just happened: it can hold on to it
 * for tens of seconds before its memory reducer runs. Sampled every 2 s for up to
 * CONFIG.settleSeconds; the result is the lowest sample. Stops early once RSS is at least 20%
 * below `fromKiB` (the reading before) and three samples in a row are within 2 MiB.
 */
async function settledRssKiB(pid, fromKiB) {
  const t0 = performance.now();
  const samples = [];
  let settled = false;
  while (performance.now() - t0 < CONFIG.settleSeconds * 1000) {
    await sleep(2000);
    const kib = readRssKiB(pid);
    samples.push(kib);
    const last3 = samples.slice(-3);
    if (kib <= fromKiB * 0.8 && last3.length === 3 && Math.max(...last3) - Math.min(...last3) <= 2048) {
      settled = true;
      break;
    }
  }
  return { kib: Math.min(...samples), seconds: (performance.now() - t0) / 1000, settled };
}

/** Idle stateful sessions and the platform's resident memory, just after opening them and settled. */
async function measureSessions(platform) {
  const steps = CONFIG.sessions;
  const total = steps[steps.length - 1] || 0;
  const tenantsNeeded = Math.ceil(total / SESSIONS_PER_TENANT);
  const keys = [];
  for (let i = 0; i < tenantsNeeded; i++) {
    const slug = `b${RUN_ID}-sess-${i}`;
    await createTenant(platform.url, slug);
    keys.push({ slug, key: await createKey(platform.url, slug, ['math:use']) });
  }
  // One call through the whole path first, so the baseline has everything loaded.
  const probe = await openSession(`${platform.url}/t/${keys[0].slug}/mcp`, { authorization: `Bearer ${keys[0].key}` });
  await verifyAdd('scale stateful platform', `${platform.url}/t/${keys[0].slug}/mcp`, probe);
  await sleep(2000);
  const baselineFirstKiB = readRssKiB(platform.pid);
  log(`RSS baseline: ${(baselineFirstKiB / 1024).toFixed(1)} MiB; waiting for it to settle…`);
  const baseline = await settledRssKiB(platform.pid, baselineFirstKiB);
  const baselineKiB = baseline.kib;
  log(`RSS baseline settled: ${(baselineKiB / 1024).toFixed(1)} MiB after ${baseline.seconds.toFixed(0)} s`);
  const points = [];
  let opened = 0;
  let firstSession;
  for (const target of steps) {
    const todo = Array.from({ length: target - opened }, (_, i) => opened + i);
    const t0 = performance.now();
    await pool(todo, 16, async (n) => {
      const k = keys[Math.floor(n / SESSIONS_PER_TENANT)];
      const url = `${platform.url}/t/${k.slug}/mcp`;
      const h = await openSession(url, { authorization: `Bearer ${k.key}` }, `idle-${n}`);
      if (n === 0) firstSession = { url, headers: h };
    });
    const seconds = (performance.now() - t0) / 1000;
    opened = target;
    await sleep(3000);
    const openedKiB = readRssKiB(platform.pid);
    log(`RSS with ${target} idle sessions just opened: ${(openedKiB / 1024).toFixed(1)} MiB; waiting for it to settle…`);
    const settled = await settledRssKiB(platform.pid, openedKiB);
    const point = {
      sessions: target,
      rssMiB: round(settled.kib / 1024, 1),
      perSessionKiB: round((settled.kib - baselineKiB) / target, 1),
      justOpenedMiB: round(openedKiB / 1024, 1),
      justOpenedPerSessionKiB: round((openedKiB - baselineKiB) / target, 1),
      settleSeconds: round(settled.seconds, 0),
      settled: settled.settled,
      openedPerSecond: round(todo.length / seconds, 0),
    };
    points.push(point);
    log(
      `RSS with ${target} idle sessions settled: ${point.rssMiB} MiB after ${point.settleSeconds} s ` +
        `(${point.perSessionKiB} KiB/session above baseline)`,
    );
  }
  // The oldest session must still be there (no eviction, no expiry): a ping answers in it.
  let oldestAlive = null;
  if (firstSession) {
    const r = await mcpPost(firstSession.url, { jsonrpc: '2.0', id: 'ping-1', method: 'ping' }, firstSession.headers);
    oldestAlive = r.status === 200;
    if (!oldestAlive) log(`warning: the first idle session no longer answers (${r.status} ${r.text.slice(0, 200)})`);
  }
  return {
    baselineMiB: round(baselineKiB / 1024, 1),
    baselineFirstMiB: round(baselineFirstKiB / 1024, 1),
    baselineSettleSeconds: round(baseline.seconds, 0),
    points,
    oldestSessionAlive: oldestAlive,
    sessionsPerTenant: SESSIONS_PER_TENANT,
  };
}

/**
 * `count` tenants × KEYS_PER_TENANT keys (scope math:use) inserted with SQL at `databaseUrl`, in
 * batches of 500 tenants; resolves to [{ slug, keys: [token] }].
 */
async function insertTenants(databaseUrl, count) {
  const made = [];
  const codec = require(path.join(appDir, CODEC_REL));
  const { Client } = require('pg');
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const BATCH = 500;
    for (let start = 0; start < count; start += BATCH) {
      const n = Math.min(BATCH, count - start);
      const slugs = Array.from({ length: n }, (_, i) => `b${RUN_ID}-many-${start + i}`);
      const rows = await db.query(
        `INSERT INTO tenants (slug, name) SELECT s, 'Bench ' || s FROM unnest($1::text[]) AS s RETURNING id, slug`,
        [slugs],
      );
      const tenantIds = [];
      const names = [];
      const keyIds = [];
      const hashes = [];
      for (const t of rows.rows) {
        const secrets = [];
        for (let k = 0; k < KEYS_PER_TENANT; k++) {
          const g = codec.generateApiKey();
          tenantIds.push(t.id);
          names.push(`bench ${k}`);
          keyIds.push(g.keyId);
          hashes.push(codec.hashSecret(g.secret));
          secrets.push(g.token);
        }
        made.push({ slug: t.slug, keys: secrets });
      }
      await db.query(
        `INSERT INTO api_keys (tenant_id, name, key_id, secret_hash, scopes)
         SELECT t, n, k, h, $5::text[] FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bytea[]) AS u(t, n, k, h)`,
        [tenantIds, names, keyIds, hashes, ['math:use']],
      );
      if ((start / BATCH) % 4 === 0) log(`  ${start + n}/${count} tenants inserted`);
    }
  } finally {
    await db.end();
  }
  return made;
}

/**
 * N tenants × KEYS_PER_TENANT keys, inserted with SQL (the admin API manages ~24 tenants/s on the
 * embedded database). With DATABASE_URL the platform keeps running; on the embedded database only
 * one process may have its DATA_DIR open, so the platform is stopped, the database is opened from
 * this process for the insert, and the platform is started again on it (`platform` is updated in
 * place, see restartPlatform). `seconds` is the insert alone.
 */
async function createManyTenants(platform, count) {
  if (count === 0) return { tenants: [], seconds: 0, via: 'none' };
  if (platform.databaseUrl) {
    const t0 = performance.now();
    const tenants = await insertTenants(platform.databaseUrl, count);
    return { tenants, seconds: (performance.now() - t0) / 1000, via: 'SQL (DATABASE_URL)' };
  }
  const { EmbeddedPostgres } = require(path.join(appDir, EMBEDDED_REL));
  const t0 = performance.now();
  let seconds;
  const tenants = await restartPlatform(platform, async () => {
    const db = await EmbeddedPostgres.start(platform.storage.env.DATA_DIR);
    const stopDb = () => db.stop();
    disposers.push(stopDb);
    try {
      log(`  platform stopped; embedded database opened from the bench (${db.url})`);
      const t1 = performance.now();
      const made = await insertTenants(db.url, count);
      seconds = (performance.now() - t1) / 1000;
      return made;
    } finally {
      disposers.splice(disposers.indexOf(stopDb), 1);
      await db.stop();
    }
  });
  return {
    tenants,
    seconds,
    restartSeconds: (performance.now() - t0) / 1000 - seconds,
    via: 'SQL into the embedded database (platform restarted)',
  };
}

/**
 * API-key verification under load: `tools/list` on the stateless platform, cycling through the
 * 10 keys of one tenant; again after many more tenants exist; and spread over random keys of
 * random tenants (which defeats the key and tenant caches). On the embedded database creating the
 * tenants restarts the platform (same `platform` object, new process and port).
 */
async function measureAuth(platform) {
  const res = {
    request: 'tools/list (stateless), keys cycled per request',
    keysPerTenant: KEYS_PER_TENANT,
    tenantsAdded: 0,
  };
  /** One stage; on failure the stages so far are kept and the rest are skipped. */
  const stage = async (name, fn) => {
    if (res.failed) return;
    try {
      res[name] = await fn();
    } catch (err) {
      const died = platform.died();
      res[name] = { error: died ? `${died}: ${err.message}` : err.message };
      res.failed = name;
      log(`auth stage "${name}" failed: ${res[name].error}`);
    }
  };

  const slug = `b${RUN_ID}-auth`;
  await createTenant(platform.url, slug);
  const keys = [];
  for (let k = 0; k < KEYS_PER_TENANT; k++) keys.push(await createKey(platform.url, slug, ['math:use'], `auth ${k}`));
  const tenKeys = keys.map((key) => ({ headers: { authorization: `Bearer ${key}` } }));
  const drive = async (label, requests) => {
    const url = `${platform.url}/t/${slug}/mcp`;
    if (CONFIG.warmup > 0) await load({ url, body: LIST_BODY, requests, duration: CONFIG.warmup, check: isToolList });
    const r = await load({ url, body: LIST_BODY, requests, duration: CONFIG.duration, check: isToolList });
    log(`auth ${label}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, errors ${r.errors}`);
    if (r.errors) log(`  first error: ${r.non2xxSample || r.wrongBodySample || `${r.socketErrors} socket errors / ${r.timeouts} timeouts`}`);
    return r;
  };

  await stage('oneTenant', () => drive(`1 tenant × ${KEYS_PER_TENANT} keys`, tenKeys));

  let many;
  await stage('creation', async () => {
    log(`creating ${CONFIG.tenants} more tenants × ${KEYS_PER_TENANT} keys with SQL…`);
    many = await createManyTenants(platform, CONFIG.tenants);
    res.tenantsAdded = many.tenants.length;
    log(`  created ${many.tenants.length} tenants in ${many.seconds.toFixed(1)} s via ${many.via}`);
    // Let the key-usage flush and any cache churn from the creation settle.
    await sleep(6000);
    return {
      via: many.via,
      seconds: round(many.seconds, 1),
      tenantsPerSecond: round(many.tenants.length / (many.seconds || 1), 1),
      ...(many.restartSeconds !== undefined ? { restartSeconds: round(many.restartSeconds, 1) } : {}),
    };
  });

  await stage('manyTenantsSameKeys', () =>
    drive(`${res.tenantsAdded + 1} tenants, same ${KEYS_PER_TENANT} keys`, tenKeys),
  );

  if (many?.tenants.length) {
    await stage('manyTenantsRandomKeys', () => {
      const all = many.tenants;
      const setupRequest = (req) => {
        const t = all[Math.floor(Math.random() * all.length)];
        req.path = `/t/${t.slug}/mcp`;
        req.headers = { ...req.headers, authorization: `Bearer ${t.keys[Math.floor(Math.random() * t.keys.length)]}` };
        return req;
      };
      return drive(`random key of ${all.length} tenants`, [{ setupRequest }]);
    });
  }
  const p99 = (name) => (res[name] && !res[name].error ? res[name].p99 : NaN);
  res.p99Ratio = round(p99('manyTenantsSameKeys') / p99('oneTenant'));
  res.p99RatioRandom = round(p99('manyTenantsRandomKeys') / p99('oneTenant'));
  return res;
}

/**
 * Runs one scale figure; a failure is recorded (and printed in the table) instead of ending the
 * whole bench, unless the platform process itself is gone.
 */
async function figure(out, name, platform, fn) {
  try {
    out[name] = await fn();
  } catch (err) {
    const died = platform.died();
    out[name] = { error: died ? `${died}: ${err.message}` : err.message };
    log(`scale figure "${name}" failed: ${out[name].error}`);
    if (died) return false;
  }
  return true;
}

async function scaleFigures() {
  const out = {};
  log('\n== scale: idle sessions (stateful platform) ==');
  const stateful = await startPlatform('scale-stateful', { stateless: false });
  if (await figure(out, 'sessions', stateful, () => measureSessions(stateful))) {
    await figure(out, 'toolsListStateful', stateful, async () => {
      const slug = `b${RUN_ID}-list-sf`;
      await createTenant(stateful.url, slug);
      const key = await createKey(stateful.url, slug, ['math:use']);
      const r = await measureToolsList(`${stateful.url}/t/${slug}/mcp`, key, { stateful: true });
      r.idleSessionsOpen = out.sessions?.points?.at(-1)?.sessions ?? 0;
      log(`tools/list stateful (${r.idleSessionsOpen} idle sessions open): p50 ${r.p50.toFixed(2)} ms, ${r.tools} tools`);
      return r;
    });
  }
  await stateful.stop();

  log('\n== scale: tools/list and API-key verification (stateless platform) ==');
  const stateless = await startPlatform('scale-stateless', { stateless: true });
  const alive = await figure(out, 'toolsListStateless', stateless, async () => {
    const slug = `b${RUN_ID}-list-sl`;
    await createTenant(stateless.url, slug);
    const key = await createKey(stateless.url, slug, ['math:use']);
    const r = await measureToolsList(`${stateless.url}/t/${slug}/mcp`, key);
    log(`tools/list stateless: p50 ${r.p50.toFixed(2)} ms, ${r.tools} tools`);
    return r;
  });
  await figure(out, 'toolPack', stateless, () => measureToolPack());
  if (alive) await figure(out, 'auth', stateless, () => measureAuth(stateless));
  await stateless.stop();
  return out;
}

// ---------------------------------------------------------------------------------------------
// Output

function table(headers, rows, align) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) =>
    cells.map((c, i) => (align[i] === 'r' ? String(c).padStart(widths[i]) : String(c).padEnd(widths[i]))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const fmt = (n, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '–');

function printLoad(load) {
  const rows = load.summary.map((r) => [
    r.mode,
    r.server,
    fmt(r.rps, 0),
    fmt(r.p50, 1),
    fmt(r.p99, 1),
    r.errors,
    r.server === 'platform' ? fmt(r.rpsRatio, 2) : '',
    r.server === 'platform' ? fmt(r.p99Ratio, 2) : '',
  ]);
  process.stdout.write(
    `\ntools/call add — ${CONFIG.connections} connections, ${CONFIG.duration} s × ${CONFIG.rounds} round(s) per server, ` +
      `${CONFIG.warmup} s warm-up; latencies in ms; ${CONFIG.database}\n\n` +
      table(
        ['mode', 'server', 'req/s', 'p50', 'p99', 'errors', 'req/s ÷ ref', 'p99 ÷ ref'],
        rows,
        ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r'],
      ) +
      '\n',
  );
}

function printNoisy(n) {
  const rows = [
    ['B alone', fmt(n.alone.p50, 1), fmt(n.alone.p99, 1), fmt(n.alone.rps, 0), n.alone.errors, ''],
    ['B while A attacks', fmt(n.attacked.p50, 1), fmt(n.attacked.p99, 1), fmt(n.attacked.rps, 0), n.attacked.errors, fmt(n.p99Ratio, 2)],
  ];
  const statuses = Object.entries(n.attacker.statuses)
    .map(([k, v]) => `${v} × ${k}`)
    .join(', ');
  process.stdout.write(
    `\nnoisy neighbour — tenant B: tools/call add at ${n.config.victimRate} req/s over ${n.config.victimConnections} connections; ` +
      `tenant A: ${fmt(n.attacker.bodyBytes / 1024, 0)} KiB tools/call bodies, ${n.config.attackerConnections} connections, ` +
      `as fast as it can (${fmt(n.attacker.rps, 0)} req/s: ${statuses}); latencies in ms; target B p99 attacked ÷ alone ≤ 2\n\n` +
      table(['tenant B', 'p50', 'p99', 'req/s', 'errors', 'p99 ÷ alone'], rows, ['l', 'r', 'r', 'r', 'r', 'r']) +
      '\n',
  );
}

function printScale(s) {
  const rows = [];
  const failed = (label, f) => rows.push([label, 'failed', String(f.error).split('\n')[0].slice(0, 160)]);
  if (s.sessions?.error) failed('RSS with idle sessions', s.sessions);
  else if (s.sessions) {
    rows.push([
      'RSS, platform idle (stateful)',
      `${fmt(s.sessions.baselineMiB)} MiB`,
      `settled (lowest over ${s.sessions.baselineSettleSeconds} s); 2 s after the first call ${fmt(s.sessions.baselineFirstMiB)} MiB`,
    ]);
    for (const p of s.sessions.points) {
      rows.push([
        `RSS with ${p.sessions.toLocaleString('en')} idle sessions`,
        `${fmt(p.rssMiB)} MiB`,
        `settled after ${p.settleSeconds} s${p.settled ? '' : ' (did not fall 20%)'}; just opened ${fmt(p.justOpenedMiB)} MiB; ` +
          `${fmt(p.perSessionKiB)} KiB/session above idle; opened at ${p.openedPerSecond}/s`,
      ]);
    }
    if (s.sessions.oldestSessionAlive === false) rows.push(['oldest idle session', 'gone', 'evicted or expired during the test']);
  }
  for (const [name, label] of [
    ['toolsListStateful', 'stateful'],
    ['toolsListStateless', 'stateless'],
  ]) {
    const t = s[name];
    if (!t) continue;
    if (t.error) failed(`tools/list p50, ${label}`, t);
    else {
      rows.push([
        `tools/list p50, ${label} (${t.tools} built-in tools)`,
        `${fmt(t.p50, 2)} ms`,
        `p99 ${fmt(t.p99, 2)} ms; ${t.requests} sequential requests; ${fmt(t.bytes / 1000)} KB per response` +
          (t.idleSessionsOpen ? `; ${t.idleSessionsOpen.toLocaleString('en')} idle sessions open` : ''),
      ]);
    }
  }
  if (s.toolPack?.error) failed('tools/list, tool pack', s.toolPack);
  else if (s.toolPack?.available) {
    for (const pt of s.toolPack.points) {
      rows.push([
        `tools/list p50, ${pt.pack}-tool pack (${pt.tools} listed)`,
        `${fmt(pt.p50, 2)} ms`,
        `p99 ${fmt(pt.p99, 2)} ms; stateless; ${fmt(pt.bytes / 1000)} KB per response` + (pt.pack === 200 ? `; p50 ÷ 5-tool pack ${fmt(s.toolPack.p50Ratio, 2)}` : ''),
      ]);
    }
  }
  const a = s.auth;
  if (a?.error) failed('auth', a);
  else if (a) {
    const authRow = (label, r, note) =>
      r?.error
        ? failed(label, r)
        : r &&
          rows.push([
            label,
            `p99 ${fmt(r.p99, 1)} ms`,
            `p50 ${fmt(r.p50, 1)} ms, ${fmt(r.rps, 0)} req/s, errors ${r.errors}${note ? `; ${note}` : ''}`,
          ]);
    authRow(`auth: 1 tenant × ${a.keysPerTenant} keys`, a.oneTenant);
    if (a.creation?.error) failed('creating tenants', a.creation);
    else if (a.creation) {
      rows.push([
        `created ${a.tenantsAdded.toLocaleString('en')} tenants × ${a.keysPerTenant} keys`,
        `${fmt(a.creation.seconds)} s`,
        `via ${a.creation.via}; ${a.creation.tenantsPerSecond} tenants/s` +
          (a.creation.restartSeconds !== undefined ? `; stop, open and restart ${fmt(a.creation.restartSeconds)} s` : ''),
      ]);
    }
    authRow(
      `auth: ${(a.tenantsAdded + 1).toLocaleString('en')} tenants, same ${a.keysPerTenant} keys`,
      a.manyTenantsSameKeys,
      `p99 ÷ 1 tenant ${fmt(a.p99Ratio, 2)}`,
    );
    authRow(
      `auth: random key of ${a.tenantsAdded.toLocaleString('en')} tenants`,
      a.manyTenantsRandomKeys,
      `p99 ÷ 1 tenant ${fmt(a.p99RatioRandom, 2)}`,
    );
  }
  process.stdout.write(
    `\nscale — ${CONFIG.database}; tools/list rows: request sent to last byte received; ` +
      `auth rows: tools/list (stateless), keys cycled per request, ` +
      `${CONFIG.connections} connections, ${CONFIG.duration} s\n\n` +
      table(['figure', 'value', 'notes'], rows, ['l', 'r', 'l']) +
      '\n',
  );
  if (s.toolPack?.note) process.stdout.write(`${s.toolPack.note}\n`);
}

function writeResults(results) {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = results.startedAt.replace(/[:.]/g, '-');
  const file = path.join(RESULTS_DIR, `${stamp}.json`);
  const json = `${JSON.stringify(results, null, 2)}\n`;
  fs.writeFileSync(file, json);
  fs.writeFileSync(path.join(RESULTS_DIR, 'latest.json'), json);
  return file;
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const started = new Date();
  const t0 = performance.now();
  ensureBuilt();
  snapshotBuild();
  const results = {
    startedAt: started.toISOString(),
    config: CONFIG,
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      memoryGiB: round(os.totalmem() / 2 ** 30, 1),
      node: process.version,
      loadAverageAtStart: os.loadavg().map((n) => round(n)),
      platform: `${os.platform()} ${os.release()}`,
    },
    git: gitInfo(),
  };
  if (RUN_LOAD) results.load = await loadComparison();
  if (RUN_NOISY) results.noisy = await noisyNeighbour();
  if (RUN_SCALE) results.scale = await scaleFigures();
  await cleanup();
  results.finishedAt = new Date().toISOString();
  results.machine.loadAverageAtEnd = os.loadavg().map((n) => round(n));
  results.totalSeconds = round((performance.now() - t0) / 1000, 1);
  if (results.load) printLoad(results.load);
  if (results.noisy) printNoisy(results.noisy);
  if (results.scale) printScale(results.scale);
  const failures = [];
  (function collect(node, at) {
    if (!node || typeof node !== 'object') return;
    if (typeof node.error === 'string') failures.push(`${at}: ${node.error.split('\n')[0]}`);
    for (const [k, v] of Object.entries(node)) collect(v, at ? `${at}.${k}` : k);
  })(results.scale, 'scale');
  if (failures.length) results.failures = failures;
  const file = writeResults(results);
  process.stdout.write(
    `\nload average (1/5/15 min) at start ${results.machine.loadAverageAtStart.join(' ')}, at end ` +
      `${results.machine.loadAverageAtEnd.join(' ')} on ${results.machine.cpus} CPUs: other work on this machine skews the numbers\n`,
  );
  process.stdout.write(`\ntotal ${results.totalSeconds} s; results in ${path.relative(ROOT, file)} and bench/results/latest.json\n`);
  if (failures.length) {
    process.stdout.write(`\n${failures.length} figure(s) failed:\n${failures.map((f) => `  - ${f}`).join('\n')}\n`);
    return 1;
  }
  return 0;
}

module.exports = {
  measureToolsList,
  openSession,
  mcpPost,
  startPlatform,
  startReference,
  load,
  createTenant,
  createKey,
  cleanup,
};

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    async (err) => {
      if (interrupted) return; // the signal handler cleans up and exits
      process.stderr.write(`\nbench failed: ${err && err.stack ? err.stack : err}\n`);
      await cleanup();
      process.exit(1);
    },
  );
}
