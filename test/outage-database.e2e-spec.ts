import { ADMIN, bearer } from './support/admin';
import { toolCallRequestIds } from './support/audit';
import { http, pollUntil, RawResponse, sleep } from './support/http';
import { rawCall, rawInitialize } from './support/mcp';
import { PlatformProcess, spawnPlatform, untilReady, useProcesses } from './support/processes';

/** A bound against hangs: every request answers within this, database or not. */
const PROMPT_MS = 5_000;
const WORKERS = 4;

type Kind = 'notes_create' | 'echo' | 'admin_keys' | 'readyz';
const KINDS: Kind[] = ['notes_create', 'echo', 'admin_keys', 'readyz'];

interface Sample {
  kind: Kind;
  /** When it was sent, relative to the database going away. */
  phase: 'before' | 'stopping' | 'down' | 'after';
  requestId: string;
  res?: RawResponse;
  error?: string;
  ms: number;
}

const describeSample = (s: Sample) =>
  `${s.kind} (${s.phase}) ${s.error ?? `${s.res?.status} in ${s.ms} ms: ${s.res?.text.slice(0, 300)}`}`;

/** The text of a tool result, or the JSON-RPC error message. */
const toolText = (r: RawResponse) => {
  const m = r.messages[0];
  return m?.error?.message ?? (m?.result?.content ?? []).map((c) => c.text ?? '').join(' ');
};

/**
 * The database goes away under load and comes back. The platform must answer promptly and
 * honestly meanwhile (503 + Retry-After, or a tool error saying the database is unavailable;
 * never a 500 or a hang), report not-ready, recover by itself, and write the audit events it
 * held.
 */
describe('outage: the database goes away and comes back', () => {
  const ops = useProcesses();
  let p: PlatformProcess;
  let slug: string;
  let session: Record<string, string>;
  const samples: Sample[] = [];
  let stoppingAt = new Date();
  let requests = 0;

  beforeAll(async () => {
    p = await spawnPlatform({ DATABASE_URL: ops.pg.url }, { name: 'outage', waitForReady: true });
    slug = (await p.admin.createTenant('outage')).slug;
    const k = await p.admin.createKey(slug, { scopes: ['notes:write', 'notes:read'] });
    session = (await rawInitialize(p, slug, bearer(k.secret))).headers;
    // Warm up every path the load uses.
    for (let i = 0; i < 3; i++) {
      for (const kind of KINDS) {
        const s = await send(kind, 'before');
        if (s.res?.status !== 200) throw new Error(`warm-up: ${describeSample(s)}`);
      }
    }
  }, 240_000);

  async function send(kind: Kind, phase: Sample['phase']): Promise<Sample> {
    requests += 1;
    const requestId = `ops-${kind}-${phase}-${requests}`;
    const headers = { 'X-Request-Id': requestId };
    const timeoutMs = PROMPT_MS * 3;
    const started = Date.now();
    const sample: Sample = { kind, phase, requestId, ms: 0 };
    const call = (name: string, args: Record<string, unknown>) =>
      rawCall(p, slug, name, args, { ...session, ...headers }, timeoutMs);
    const byKind: Record<Kind, () => Promise<RawResponse>> = {
      notes_create: () => call('notes_create', { title: `note ${requests}` }),
      echo: () => call('echo', { text: requestId }),
      admin_keys: () =>
        p.admin.request(
          'GET',
          `/admin/tenants/${slug}/keys`,
          undefined,
          {
            ...ADMIN,
            ...headers,
          },
          timeoutMs,
        ),
      readyz: () => http(p.url, { path: '/readyz', headers, timeoutMs }),
    };
    try {
      sample.res = await byKind[kind]();
    } catch (err) {
      sample.error = (err as Error).message;
    }
    sample.ms = Date.now() - started;
    return sample;
  }

  it('answers promptly with 503 + Retry-After or a database tool error while it is down', async () => {
    let phase: Sample['phase'] = 'before';
    let running = true;
    const workers = Array.from({ length: WORKERS }, async (_, w) => {
      for (let i = w; running; i++) {
        samples.push(await send(KINDS[i % KINDS.length], phase));
      }
    });
    await sleep(1_000);
    phase = 'stopping';
    stoppingAt = new Date();
    await ops.pg.stop();
    phase = 'down';
    await sleep(4_000);
    running = false;
    await Promise.all(workers);

    const down = samples.filter((s) => s.phase === 'down');
    for (const kind of KINDS) {
      expect(down.filter((s) => s.kind === kind).length).toBeGreaterThan(0);
    }
    const problems: string[] = [];
    for (const s of samples) {
      if (s.error || !s.res) problems.push(`no answer: ${describeSample(s)}`);
      else if (s.res.status >= 500 && s.res.status !== 503) problems.push(describeSample(s));
      else if (s.ms >= PROMPT_MS) problems.push(`slow: ${describeSample(s)}`);
    }
    for (const s of down) {
      const r = s.res;
      if (!r) continue;
      if (r.status === 503) {
        if (!r.headers.get('retry-after'))
          problems.push(`503 without Retry-After: ${describeSample(s)}`);
        if ((r.json as { statusCode?: number } | undefined)?.statusCode !== 503)
          problems.push(`503 without the error body: ${describeSample(s)}`);
        continue;
      }
      switch (s.kind) {
        case 'readyz':
          problems.push(`/readyz not 503 while the database is down: ${describeSample(s)}`);
          break;
        case 'admin_keys':
          problems.push(`admin route needing the database: ${describeSample(s)}`);
          break;
        case 'notes_create':
          // Authentication from warm caches, then the tool itself needs the database.
          if (
            r.status !== 200 ||
            !r.messages[0]?.result?.isError ||
            !/database/i.test(toolText(r))
          ) {
            problems.push(`notes_create: ${describeSample(s)}`);
          }
          break;
        case 'echo':
          if (r.status !== 200 || r.messages[0]?.result?.isError) {
            problems.push(`echo: ${describeSample(s)}`);
          }
          break;
      }
    }
    expect(problems).toEqual([]);
  }, 60_000);

  it('is ready again within 15 s of the database coming back, without a restart', async () => {
    await ops.pg.start();
    await untilReady(p, 15_000, 200);
    expect(p.child.exitCode).toBeNull();
    const keys = await send('admin_keys', 'after');
    expect(keys.res?.status).toBe(200);
    const note = await pollUntil(
      10_000,
      'notes_create succeeding again',
      async () => {
        const s = await send('notes_create', 'after');
        return s.res?.status === 200 && !s.res.messages[0]?.result?.isError ? s : undefined;
      },
      200,
    );
    expect(note.res?.messages[0]?.result?.structuredContent).toMatchObject({
      title: expect.any(String),
    });
    const echo = await send('echo', 'after');
    expect(echo.res?.status).toBe(200);
    expect(toolText(echo.res!)).toBe(echo.requestId);
  }, 60_000);

  it('serves echo (no database needed) from a warm session during the outage and audits it after', async () => {
    // Sent after pg_ctl stop returned: the database was certainly gone.
    const outage = samples.filter((s) => s.kind === 'echo' && s.phase === 'down');
    const served = outage.filter(
      (s) => s.res?.status === 200 && !s.res.messages[0]?.result?.isError,
    );
    if (served.length === 0) {
      const statuses = [...new Set(outage.map((s) => s.res?.status ?? s.error))].join(', ');
      throw new Error(
        `none of the ${outage.length} echo calls made in a warm session while the database was ` +
          `down was served (answers: ${statuses}; e.g. ${outage[0] ? describeSample(outage[0]) : '-'}), ` +
          'so no audit event could be held for later',
      );
    }
    const wanted = new Set(served.map((s) => s.requestId));
    const from = new Date(stoppingAt.getTime() - 1_000);
    // The writer backs off up to 10 s between attempts while the database is away.
    await pollUntil(
      20_000,
      `audit events of the ${wanted.size} echo calls served during the outage`,
      async () => {
        const found = await toolCallRequestIds(p, slug, 'echo', from, 20);
        if (!found) return undefined;
        return [...wanted].every((id) => found.has(id)) ? true : undefined;
      },
      500,
    );
  }, 60_000);
});
