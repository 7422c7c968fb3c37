import type { BenchContext } from '../context';
import { createKey, createTenant } from '../mcp-client';
import { startPlatform, type Platform } from '../processes';
import { errorMessage, log } from '../util';
import { measureAuth, type AuthResult } from './auth';
import { measureSessions, type SessionsResult } from './sessions';
import {
  measureToolPack,
  measureToolsList,
  type ToolPackResult,
  type ToolsListResult,
} from './tools-list';

/** A figure that threw: shown as failed in the table and listed under `failures` in the JSON. */
export interface FailedFigure {
  error: string;
}

export interface ScaleFigures {
  sessions?: SessionsResult | FailedFigure;
  toolsListStateful?: ToolsListResult | FailedFigure;
  toolsListStateless?: ToolsListResult | FailedFigure;
  toolPack?: ToolPackResult | FailedFigure;
  auth?: AuthResult | FailedFigure;
}

/**
 * Runs one scale figure; a failure is recorded (and printed in the table) instead of ending the
 * whole bench. Resolves to false when the platform process itself is gone.
 */
async function figure<K extends keyof ScaleFigures>(
  out: ScaleFigures,
  name: K,
  platform: Platform,
  fn: () => Promise<NonNullable<ScaleFigures[K]>>,
): Promise<boolean> {
  try {
    out[name] = await fn();
  } catch (err) {
    const died = platform.died();
    const error = died ? `${died}: ${errorMessage(err)}` : errorMessage(err);
    out[name] = { error };
    log(`scale figure "${name}" failed: ${error}`);
    if (died) return false;
  }
  return true;
}

async function toolsList(ctx: BenchContext, platform: Platform, suffix: string, stateful: boolean) {
  const slug = `b${ctx.runId}-list-${suffix}`;
  await createTenant(platform, slug);
  const key = await createKey(platform, slug, ['math:use']);
  return measureToolsList(`${platform.url}/t/${slug}/mcp`, key, {
    stateful,
    requests: ctx.config.toolsListRequests,
  });
}

/** RSS with idle sessions, tools/list latency (built-ins and the tool pack), API-key verification. */
export async function scaleFigures(ctx: BenchContext): Promise<ScaleFigures> {
  const out: ScaleFigures = {};
  log('\n== scale: idle sessions (stateful platform) ==');
  const stateful = await startPlatform(ctx, 'scale-stateful', { stateless: false });
  if (await figure(out, 'sessions', stateful, () => measureSessions(ctx, stateful))) {
    await figure(out, 'toolsListStateful', stateful, async () => {
      const r = await toolsList(ctx, stateful, 'sf', true);
      const sessions = out.sessions && 'points' in out.sessions ? out.sessions.points : [];
      r.idleSessionsOpen = sessions.at(-1)?.sessions ?? 0;
      log(
        `tools/list stateful (${r.idleSessionsOpen} idle sessions open): ` +
          `p50 ${r.p50.toFixed(2)} ms, ${r.tools} tools`,
      );
      return r;
    });
  }
  await stateful.stop();

  log('\n== scale: tools/list and API-key verification (stateless platform) ==');
  const stateless = await startPlatform(ctx, 'scale-stateless', { stateless: true });
  const alive = await figure(out, 'toolsListStateless', stateless, async () => {
    const r = await toolsList(ctx, stateless, 'sl', false);
    log(`tools/list stateless: p50 ${r.p50.toFixed(2)} ms, ${r.tools} tools`);
    return r;
  });
  await figure(out, 'toolPack', stateless, () => measureToolPack(ctx));
  if (alive) await figure(out, 'auth', stateless, () => measureAuth(ctx, stateless));
  await stateless.stop();
  return out;
}
