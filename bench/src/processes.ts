import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchContext } from './context';
import { lifecycle, type ChildEntry } from './lifecycle';
import { makeStorage, type Storage } from './storage';
import { freePort, HOST, log, ROOT, sleep } from './util';

interface Output {
  tail: string[];
}

function trackOutput(name: string, child: ChildProcess): Output {
  const tail: string[] = [];
  let echoed = 0;
  const onData = (chunk: Buffer) => {
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
  return { tail };
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

function reportUnexpectedExit(entry: ChildEntry, output: Output): void {
  entry.child.once('exit', (code, signal) => {
    if (entry.stopping || lifecycle.cleaningUp) return;
    entry.died = `${entry.name} exited unexpectedly (${code ?? signal})`;
    log(`\n${entry.died}; its last output:\n${output.tail.slice(-40).join('\n')}\n`);
  });
}

async function stopChild(entry: ChildEntry, graceMs = 20_000): Promise<void> {
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
  lifecycle.children.delete(entry);
}

function track(name: string, child: ChildProcess): ChildEntry {
  const entry: ChildEntry = { name, child };
  lifecycle.children.add(entry);
  return entry;
}

export interface PlatformOptions {
  stateless: boolean;
  /** More environment for the process, e.g. BENCH_TOOL_PACK. */
  env?: Record<string, string>;
  /** The storage of an earlier start (restartPlatform); a fresh one otherwise. */
  storage?: Storage;
}

/** One platform process; restartPlatform replaces the process and updates the fields in place. */
export interface Platform {
  label: string;
  url: string;
  pid: number;
  stateless: boolean;
  adminToken: string;
  storage: Storage;
  env: Record<string, string>;
  /** Why the process is gone, when it died on its own. */
  died: () => string | undefined;
  stop: () => Promise<void>;
}

/**
 * Starts the bench platform in its own process (its compiled main.js, as `npm start` runs the
 * product's) on a fresh database, or on `storage` from an earlier start, and waits until /readyz
 * answers 200.
 */
export async function startPlatform(
  ctx: BenchContext,
  label: string,
  { stateless, env: extraEnv = {}, storage: existing }: PlatformOptions,
): Promise<Platform> {
  const storage = existing ?? (await makeStorage(ctx, label));
  if (!existing) lifecycle.defer(storage.dispose);
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...storage.env,
    ...extraEnv,
    HOST,
    PORT: String(port),
    ADMIN_TOKEN: ctx.adminToken,
    LOG_LEVEL: ctx.config.logLevel,
    MCP_STATELESS: stateless ? 'true' : 'false',
    // The limiter stays on (its cost is part of every request) but never trips at bench rates.
    RATE_LIMIT_KEY_PER_MINUTE: ctx.config.rateLimitPerMinute,
    RATE_LIMIT_TENANT_PER_MINUTE: ctx.config.rateLimitPerMinute,
  };
  delete env.PUBLIC_URL;
  delete env.LOG_FILE;
  if (!ctx.options.databaseUrl) delete env.DATABASE_URL;
  if (!('BENCH_TOOL_PACK' in extraEnv)) delete env.BENCH_TOOL_PACK;
  const dir = ctx.options.cpuProfileDir;
  const prof = dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
  const child = spawn(process.execPath, [...prof, ctx.app.main], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const entry = track(`platform:${label}`, child);
  lifecycle.defer(() => stopChild(entry));
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
  const seconds = ((Date.now() - t0) / 1000).toFixed(1);
  log(`${entry.name} ready on ${url} (pid ${child.pid}, ${seconds} s)`);
  return {
    label,
    url,
    pid: child.pid!,
    stateless,
    adminToken: ctx.adminToken,
    storage,
    env: extraEnv,
    died: () => entry.died,
    stop: () => stopChild(entry),
  };
}

/**
 * Stops `platform`, runs `between()` while no process has its storage open, and starts it again on
 * the same storage. The object is updated in place (url, pid, stop, …), so every holder of it
 * sees the new process. Resolves to what `between` resolved to.
 */
export async function restartPlatform<T>(
  ctx: BenchContext,
  platform: Platform,
  between: () => Promise<T>,
): Promise<T> {
  await platform.stop();
  const result = await between();
  const { label, stateless, env, storage } = platform;
  Object.assign(platform, await startPlatform(ctx, label, { stateless, env, storage }));
  return result;
}

export interface Reference {
  url: string;
  pid: number;
  stop: () => Promise<void>;
}

export type ReferenceMode = 'stateful' | 'stateless' | 'modern';

/**
 * Starts a reference server in its own process: reference-server.ts (SDK v1 + Express) for the
 * 2025-era modes, reference-modern-server.ts (SDK v2 only) for `modern`. It reports its port over
 * IPC.
 */
export async function startReference(mode: ReferenceMode): Promise<Reference> {
  const script = mode === 'modern' ? 'reference-modern-server.js' : 'reference-server.js';
  const child = spawn(process.execPath, [join(__dirname, script)], {
    cwd: ROOT,
    env: { ...process.env, REF_MODE: mode, PORT: '0', NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const entry = track(`reference:${mode}`, child);
  lifecycle.defer(() => stopChild(entry, 5_000));
  const output = trackOutput(entry.name, child);
  let onEarlyExit: (code: number | null) => void = () => undefined;
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${entry.name} did not start within 30 s`)),
      30_000,
    );
    child.once('message', (m: { ready: number }) => {
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
  return { url: `http://${HOST}:${port}`, pid: child.pid!, stop: () => stopChild(entry, 5_000) };
}

/**
 * Runs a compiled bench program (`script` with `args`) in a process of its own and resolves to
 * what it printed on stdout, once it exits 0; its stderr goes to this one's.
 */
export function runToCompletion(
  name: string,
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const entry = track(name, child);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code, signal) => {
      lifecycle.children.delete(entry);
      if (code === 0) resolve(out);
      else reject(new Error(`${name} exited with ${code ?? signal}`));
    });
  });
}

/** Reads a JSON file a bench program wrote. */
export function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}
