import { performance } from 'node:perf_hooks';
import type { BenchContext } from '../context';
import {
  createKey,
  createTenant,
  mcpPost,
  openSession,
  verifyAdd,
  type Headers,
} from '../mcp-client';
import type { Platform } from '../processes';
import { log, pool, readRssKiB, round, sleep } from '../util';

/** Below MAX_SESSIONS_PER_TENANT (default 1000). */
const SESSIONS_PER_TENANT = 500;

interface SessionsPoint {
  sessions: number;
  rssMiB: number | null;
  perSessionKiB: number | null;
  justOpenedMiB: number | null;
  justOpenedPerSessionKiB: number | null;
  settleSeconds: number | null;
  settled: boolean;
  openedPerSecond: number | null;
}

export interface SessionsResult {
  baselineMiB: number | null;
  baselineFirstMiB: number | null;
  baselineSettleSeconds: number | null;
  points: SessionsPoint[];
  oldestSessionAlive: boolean | null;
  sessionsPerTenant: number;
}

/**
 * The RSS of `pid` once V8 has given back the garbage of what just happened: it can hold on to it
 * for tens of seconds before its memory reducer runs. Sampled every 2 s for up to
 * `settleSeconds`; the result is the lowest sample. Stops early once RSS is at least 20% below
 * `fromKiB` (the reading before) and three samples in a row are within 2 MiB.
 */
async function settledRssKiB(pid: number, fromKiB: number, settleSeconds: number) {
  const t0 = performance.now();
  const samples: number[] = [];
  let settled = false;
  while (performance.now() - t0 < settleSeconds * 1000) {
    await sleep(2000);
    const kib = readRssKiB(pid);
    samples.push(kib);
    const last3 = samples.slice(-3);
    if (
      kib <= fromKiB * 0.8 &&
      last3.length === 3 &&
      Math.max(...last3) - Math.min(...last3) <= 2048
    ) {
      settled = true;
      break;
    }
  }
  return { kib: Math.min(...samples), seconds: (performance.now() - t0) / 1000, settled };
}

/** Idle stateful sessions and the platform's resident memory, just after opening them and settled. */
export async function measureSessions(
  ctx: BenchContext,
  platform: Platform,
): Promise<SessionsResult> {
  const { config } = ctx;
  const steps = config.sessions;
  const total = steps[steps.length - 1] || 0;
  const tenantsNeeded = Math.ceil(total / SESSIONS_PER_TENANT);
  const keys: { slug: string; key: string }[] = [];
  for (let i = 0; i < tenantsNeeded; i++) {
    const slug = `b${ctx.runId}-sess-${i}`;
    await createTenant(platform, slug);
    keys.push({ slug, key: await createKey(platform, slug, ['math:use']) });
  }
  // One call through the whole path first, so the baseline has everything loaded.
  const probeUrl = `${platform.url}/t/${keys[0].slug}/mcp`;
  const probe = await openSession(probeUrl, { authorization: `Bearer ${keys[0].key}` });
  await verifyAdd('scale stateful platform', probeUrl, probe);
  await sleep(2000);
  const baselineFirstKiB = readRssKiB(platform.pid);
  log(`RSS baseline: ${(baselineFirstKiB / 1024).toFixed(1)} MiB; waiting for it to settle…`);
  const baseline = await settledRssKiB(platform.pid, baselineFirstKiB, config.settleSeconds);
  const baselineKiB = baseline.kib;
  log(
    `RSS baseline settled: ${(baselineKiB / 1024).toFixed(1)} MiB after ` +
      `${baseline.seconds.toFixed(0)} s`,
  );
  const points: SessionsPoint[] = [];
  let opened = 0;
  let firstSession: { url: string; headers: Headers } | undefined;
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
    log(
      `RSS with ${target} idle sessions just opened: ${(openedKiB / 1024).toFixed(1)} MiB; ` +
        'waiting for it to settle…',
    );
    const settled = await settledRssKiB(platform.pid, openedKiB, config.settleSeconds);
    const point: SessionsPoint = {
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
  let oldestAlive: boolean | null = null;
  if (firstSession) {
    const ping = { jsonrpc: '2.0', id: 'ping-1', method: 'ping' };
    const r = await mcpPost(firstSession.url, ping, firstSession.headers);
    oldestAlive = r.status === 200;
    if (!oldestAlive) {
      log(
        `warning: the first idle session no longer answers (${r.status} ${r.text.slice(0, 200)})`,
      );
    }
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
