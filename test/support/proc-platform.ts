import { ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { freePort, http, HttpResult, pollUntil, sleep } from './proc-net';

/**
 * The built platform in its own OS process, as `npm start` runs it: for what the in-process e2e
 * harness cannot show (several replicas, a database that goes away, signals and exit codes).
 */

/** The same token test/global-teardown.js looks for in every log file. */
export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdefghijkl';
export const ADMIN = { Authorization: `Bearer ${ADMIN_TOKEN}` };

const ROOT = join(__dirname, '..', '..');
const DIST = join(ROOT, 'dist');
const MAIN_REL = join('apps', 'platform', 'apps', 'platform', 'src', 'main.js');
const BUILD_TIMEOUT_MS = 180_000;

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

const mtime = (p: string) => (existsSync(p) ? statSync(p).mtimeMs : 0);

function isStale(): boolean {
  const built = mtime(join(DIST, MAIN_REL));
  return (
    !built || Math.max(newestSource(join(ROOT, 'apps')), newestSource(join(ROOT, 'libs'))) > built
  );
}

/**
 * `nest build`. Type errors do not stop tsc from emitting, and the e2e suites run the sources
 * without type checks (ts-jest, diagnostics off) too: a build that reports type errors but emitted
 * a fresh main.js is used, with a warning. Anything else that fails is an error.
 */
async function nestBuild(): Promise<void> {
  const nest = join(ROOT, 'node_modules/@nestjs/cli/bin/nest.js');
  const started = Date.now();
  const failure = await new Promise<string | undefined>((resolve) => {
    execFile(
      process.execPath,
      [nest, 'build'],
      { cwd: ROOT, timeout: BUILD_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => resolve(err ? `${err.message}\n${stdout}${stderr}` : undefined),
    );
  });
  if (!failure) return;
  const emitted = mtime(join(DIST, MAIN_REL)) >= started - 1_000 && !isStale();
  if (!emitted) throw new Error(`nest build failed: ${failure}`);
  process.stderr.write(
    `warning: nest build reported errors but emitted dist/; the ops suites run it:\n${failure.slice(0, 2_000)}\n`,
  );
}

/** Copies that exist in this process, removed at exit at the latest. */
const copies = new Set<string>();
process.once('exit', () => {
  for (const dir of copies) rmSync(dir, { recursive: true, force: true });
});

let built: Promise<string> | undefined;

/**
 * Makes sure dist/ is built from the current sources (as scripts/start.js does), then copies it
 * to a private directory for this test file: another engineer may rebuild dist/ meanwhile (`nest
 * build` empties it first). The copy lives under node_modules/.cache (ignored by git) so the
 * compiled code still resolves the project's node_modules. Returns the copy's main.js.
 */
export function buildOnce(): Promise<string> {
  built ??= (async () => {
    for (let attempt = 1; ; attempt++) {
      if (isStale()) await nestBuild();
      const source = join(DIST, MAIN_REL);
      const before = mtime(source);
      const dir = join(
        ROOT,
        'node_modules',
        '.cache',
        `mcp-platform-test-dist-${randomBytes(6).toString('hex')}`,
      );
      copies.add(dir);
      try {
        cpSync(DIST, dir, { recursive: true });
      } catch (err) {
        rmSync(dir, { recursive: true, force: true });
        copies.delete(dir);
        if (attempt >= 4) throw err;
        await sleep(3_000); // a build elsewhere is emptying and refilling dist/
        continue;
      }
      const main = join(dir, MAIN_REL);
      // A rebuild that started while copying leaves a mixed or partial copy: take another.
      if (existsSync(main) && mtime(source) === before && !isStale()) return main;
      rmSync(dir, { recursive: true, force: true });
      copies.delete(dir);
      if (attempt >= 4) throw new Error('dist/ kept changing while it was copied; try again');
      await sleep(3_000);
    }
  })();
  return built;
}

/** Removes this file's copy of the build (afterAll). */
export function removeBuildCopies(): void {
  for (const dir of copies) rmSync(dir, { recursive: true, force: true });
  copies.clear();
  built = undefined;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface PlatformProcess {
  name: string;
  url: string;
  port: number;
  pid: number;
  child: ChildProcess;
  /** Sends a signal (SIGTERM by default); resolves with how the process ended. */
  stop(signal?: NodeJS.Signals): Promise<Exit>;
  /** Settles once the process has exited. */
  exited: Promise<Exit>;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
}

const processes = new Set<PlatformProcess>();
process.once('exit', () => {
  for (const p of processes)
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
});

let spawned = 0;

/**
 * Starts the built platform (buildOnce) in its own process on a free loopback port and waits for
 * /healthz. Logs go to MCP_E2E_LOG_DIR when set, so the run's secret scan covers them.
 */
export async function spawnPlatform(
  env: Record<string, string>,
  opts: { name?: string; waitForReady?: boolean } = {},
): Promise<PlatformProcess> {
  const main = await buildOnce();
  const port = await freePort();
  spawned += 1;
  const name = `ops-${process.pid}-${spawned}-${opts.name ?? 'platform'}`;
  const inherited = { ...process.env };
  for (const k of [
    'DATABASE_URL',
    'REDIS_URL',
    'PUBLIC_URL',
    'LOG_FILE',
    'LOG_LEVEL',
    'DATA_DIR',
    'ADMIN_TOKEN',
    'MCP_STATELESS',
    'NODE_OPTIONS',
  ]) {
    delete inherited[k];
  }
  const logDir = process.env.MCP_E2E_LOG_DIR;
  const childEnv: NodeJS.ProcessEnv = {
    ...inherited,
    HOST: '127.0.0.1',
    PORT: String(port),
    ADMIN_TOKEN,
    LOG_LEVEL: 'warn',
    ...(logDir ? { LOG_FILE: join(logDir, `${name}.log`) } : {}),
    // The suites make many requests and some deliberate refusals from one address.
    AUTH_FAILURES_PER_MINUTE: '0',
    ADMIN_AUTH_FAILURES_PER_MINUTE: '0',
    RATE_LIMIT_KEY_PER_MINUTE: '0',
    RATE_LIMIT_TENANT_PER_MINUTE: '0',
    ...env,
  };
  const child = spawn(process.execPath, [main], {
    cwd: ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const collect = (c: Buffer) => {
    out += c.toString('utf8');
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const url = `http://127.0.0.1:${port}`;
  const proc: PlatformProcess = {
    name,
    url,
    port,
    pid: child.pid ?? -1,
    child,
    exited,
    output: () => out,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  processes.add(proc);
  let gone: Exit | undefined;
  void exited.then((e) => (gone = e));
  const path = opts.waitForReady ? '/readyz' : '/healthz';
  await pollUntil(
    90_000,
    `${name} answering ${path}`,
    async () => {
      if (gone) {
        throw new Error(`${name} exited (${gone.code ?? gone.signal}) before it was up:\n${out}`);
      }
      try {
        const res = await http(url, { path, timeoutMs: 3_000 });
        return res.status === 200 ? true : undefined;
      } catch {
        return undefined;
      }
    },
    100,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n${out.slice(-4_000)}`);
  });
  return proc;
}

/** Kills (SIGKILL after a grace period) every platform process still running; for afterAll. */
export async function stopAllPlatforms(graceMs = 15_000): Promise<void> {
  await Promise.all(
    [...processes].map(async (p) => {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill('SIGTERM');
        const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
        await p.exited;
        clearTimeout(timer);
      }
      processes.delete(p);
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Admin API and MCP over plain HTTP

export const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

export async function api(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = ADMIN,
  timeoutMs?: number,
): Promise<HttpResult> {
  return http(base, { method, path, body, headers, timeoutMs });
}

/**
 * Request ids of the `tool.call` audit events of `tool` since `from` (ISO time), read page by page
 * through the admin API; undefined while the API cannot answer.
 */
export async function toolCallRequestIds(
  base: string,
  slug: string,
  tool: string,
  from: Date,
  maxPages = 100,
): Promise<Set<string | null> | undefined> {
  const found = new Set<string | null>();
  const since = encodeURIComponent(from.toISOString());
  let cursor = '';
  for (let page = 0; page < maxPages; page++) {
    const res = await api(
      base,
      'GET',
      `/admin/tenants/${slug}/audit?tool=${tool}&limit=200&from=${since}${cursor}`,
    );
    if (res.status !== 200) return undefined;
    const body = res.json as {
      items: { requestId: string | null; action: string }[];
      nextCursor: string | null;
    };
    for (const e of body.items) if (e.action === 'tool.call') found.add(e.requestId);
    if (!body.nextCursor) break;
    cursor = `&cursor=${encodeURIComponent(body.nextCursor)}`;
  }
  return found;
}

function expectStatus(res: HttpResult, status: number, what: string): HttpResult {
  if (res.status !== status) {
    throw new Error(`${what}: expected ${status} but got ${res.status}: ${res.text.slice(0, 500)}`);
  }
  return res;
}

let slugs = 0;
export function uniqueSlug(prefix: string): string {
  slugs += 1;
  return `${prefix}-${Date.now().toString(36)}-${process.pid}-${slugs}`;
}

export async function createTenant(
  base: string,
  prefix = 'ops',
): Promise<{ slug: string; id: string }> {
  const slug = uniqueSlug(prefix);
  const res = expectStatus(
    await api(base, 'POST', '/admin/tenants', { slug, name: slug }),
    201,
    'POST /admin/tenants',
  );
  return { slug, id: (res.json as { id: string }).id };
}

export async function createKey(
  base: string,
  slug: string,
  scopes: string[],
): Promise<{ key: string; id: string }> {
  const res = expectStatus(
    await api(base, 'POST', `/admin/tenants/${slug}/keys`, { name: 'ops key', scopes }),
    201,
    'POST keys',
  );
  const body = res.json as { id: string; secret: string };
  return { key: body.secret, id: body.id };
}

export const MCP_HEADERS = {
  Accept: 'application/json, text/event-stream',
  'MCP-Protocol-Version': LATEST_PROTOCOL_VERSION,
};

let rpcId = 0;

/** One JSON-RPC request POSTed to a tenant's MCP endpoint (stateless, or in a session). */
export function mcpPost(
  base: string,
  slug: string,
  method: string,
  params: Record<string, unknown>,
  headers: Record<string, string>,
  timeoutMs?: number,
): Promise<HttpResult> {
  rpcId += 1;
  return http(base, {
    method: 'POST',
    path: `/t/${slug}/mcp`,
    headers: { ...MCP_HEADERS, ...headers },
    body: { jsonrpc: '2.0', id: rpcId, method, params },
    timeoutMs,
  });
}

export const initializeParams = {
  protocolVersion: LATEST_PROTOCOL_VERSION,
  capabilities: {},
  clientInfo: { name: 'ops-e2e', version: '1.0.0' },
};

/** Starts a session by hand (initialize + initialized); returns the headers to use in it. */
export async function openSession(
  base: string,
  slug: string,
  auth: Record<string, string>,
): Promise<Record<string, string>> {
  const init = expectStatus(
    await mcpPost(base, slug, 'initialize', initializeParams, auth),
    200,
    'initialize',
  );
  const id = init.headers['mcp-session-id'];
  if (typeof id !== 'string') throw new Error('initialize answered without Mcp-Session-Id');
  const headers = { ...auth, 'Mcp-Session-Id': id };
  const ack = await http(base, {
    method: 'POST',
    path: `/t/${slug}/mcp`,
    headers: { ...MCP_HEADERS, ...headers },
    body: { jsonrpc: '2.0', method: 'notifications/initialized' },
  });
  expectStatus(ack, 202, 'notifications/initialized');
  return headers;
}

/** The names `tools/list` returns, sorted; throws when the request was not answered with 200. */
export async function listToolNames(
  base: string,
  slug: string,
  auth: Record<string, string>,
): Promise<string[]> {
  const res = expectStatus(await mcpPost(base, slug, 'tools/list', {}, auth), 200, 'tools/list');
  const tools = res.messages[0]?.result?.tools;
  if (!tools) throw new Error(`tools/list without tools: ${res.text.slice(0, 300)}`);
  return tools.map((t) => t.name).sort();
}

/** Sum of a Prometheus counter's samples whose labels include all of `labels`. */
export async function counter(
  base: string,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const res = expectStatus(await http(base, { path: '/metrics' }), 200, 'GET /metrics');
  let sum = 0;
  for (const line of res.text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Map<string, string>();
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) have.set(l[1], l[2]);
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) sum += Number(m[3]);
  }
  return sum;
}
