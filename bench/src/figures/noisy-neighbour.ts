import { join } from 'node:path';
import type { AttackerSummary } from '../attacker';
import type { BenchContext } from '../context';
import { ADD_BODY, isAdd42, load, type LoadResult } from '../load';
import { createKey, createTenant, verifyAdd } from '../mcp-client';
import { runToCompletion, startPlatform } from '../processes';
import { log, mean, sleep } from '../util';

const NOISY = {
  victimConnections: 8,
  victimRate: 400,
  attackerConnections: 16,
};

type Phase = 'alone' | 'attacked';

export interface NoisyRun extends LoadResult {
  round: number;
  phase: Phase;
  attacker?: AttackerSummary;
}

interface PhaseSummary {
  phase: Phase;
  p50: number;
  p99: number;
  rps: number;
  errors: number;
}

export interface NoisyNeighbour {
  config: typeof NOISY;
  runs: NoisyRun[];
  alone: PhaseSummary;
  attacked: PhaseSummary;
  p99Ratio: number;
  p50Ratio: number;
  attacker: { bodyBytes: number | undefined; rps: number; statuses: Record<string, number> };
}

/** attacker.ts in a process of its own, so that building and sending its bodies cannot stall this one. */
async function attack(url: string, key: string, seconds: number): Promise<AttackerSummary> {
  const args = [url, key, String(NOISY.attackerConnections), String(seconds)];
  const out = await runToCompletion('attacker', join(__dirname, '..', 'attacker.js'), args);
  return JSON.parse(out) as AttackerSummary;
}

/**
 * Tenant B's `add` latency at a steady 400 req/s, alone and while tenant A (another key, another
 * tenant, same process) sends ~1 MiB `tools/call` bodies as fast as 16 connections can, from a
 * process of its own. The platform runs with its default limits (concurrency caps, argument
 * caps) except the per-minute rate limits, which stay out of reach as in the load comparison, so
 * what contains A is its cost being bounded, not a rate limit. Rounds alternate alone/attacked.
 */
export async function noisyNeighbour(ctx: BenchContext): Promise<NoisyNeighbour> {
  const { config } = ctx;
  log('\n== noisy neighbour ==');
  const platform = await startPlatform(ctx, 'noisy', { stateless: true });
  const [a, b] = [`a${ctx.runId}-noisy`, `b${ctx.runId}-noisy`];
  await createTenant(platform, a);
  await createTenant(platform, b);
  const keyA = await createKey(platform, a, ['math:use']);
  const keyB = await createKey(platform, b, ['math:use']);
  const victim = {
    url: `${platform.url}/t/${b}/mcp`,
    headers: { authorization: `Bearer ${keyB}` },
  };
  await verifyAdd('noisy victim', victim.url, victim.headers);
  const driveVictim = (seconds: number) =>
    load({
      ...victim,
      body: ADD_BODY,
      duration: seconds,
      check: isAdd42,
      connections: NOISY.victimConnections,
      overallRate: NOISY.victimRate,
    });
  if (config.warmup > 0) await driveVictim(config.warmup);
  const runs: NoisyRun[] = [];
  for (let round = 1; round <= config.rounds; round++) {
    const order: Phase[] = round % 2 === 1 ? ['alone', 'attacked'] : ['attacked', 'alone'];
    for (const phase of order) {
      let r: LoadResult;
      let attacker: AttackerSummary | undefined;
      if (phase === 'alone') r = await driveVictim(config.duration);
      else {
        // The attacker starts first and outlasts the measurement on both sides.
        const attacking = attack(`${platform.url}/t/${a}/mcp`, keyA, config.duration + 4);
        await sleep(2000);
        r = await driveVictim(config.duration);
        attacker = await attacking;
      }
      log(
        `round ${round} ${phase}: B p50 ${r.p50} ms, p99 ${r.p99} ms, ${r.rps.toFixed(0)} req/s, ` +
          `errors ${r.errors}` +
          (attacker
            ? `; A sent ${attacker.rps.toFixed(0)} req/s, statuses ${JSON.stringify(attacker.statuses)}`
            : ''),
      );
      runs.push({ round, phase, ...r, ...(attacker ? { attacker } : {}) });
    }
  }
  await verifyAdd('noisy victim (after)', victim.url, victim.headers);
  await platform.stop();
  const summarize = (phase: Phase): PhaseSummary => {
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
  const attackers = runs.flatMap((r) => (r.attacker ? [r.attacker] : []));
  const statuses: Record<string, number> = {};
  for (const x of attackers) {
    for (const [k, v] of Object.entries(x.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
  }
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
      statuses,
    },
  };
}
