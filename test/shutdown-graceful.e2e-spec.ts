import { ADMIN, bearer } from './support/admin';
import {
  HeldRequest,
  heldRequest,
  http,
  pollUntil,
  RawResponse,
  sleep,
  withTimeout,
} from './support/http';
import {
  initializeRequest,
  MCP_POST_HEADERS,
  McpConnection,
  openMcp,
  PROTOCOL_VERSION,
  rawCall,
  rawInitialize,
  toolsCall,
} from './support/mcp';
import { ListenStream, modernRequest, openListen } from './support/mcp-modern';
import { Exit, PlatformProcess, spawnPlatform, useProcesses } from './support/processes';

/** What the process may take beyond SHUTDOWN_TIMEOUT to exit (flushes, closing the pool). */
const EXIT_SLACK_MS = 5_000;

type Outcome = { res?: RawResponse; error?: NodeJS.ErrnoException };
const describeOutcome = (o: Outcome) =>
  o.res
    ? `${o.res.status} ${o.res.text.slice(0, 200)}`
    : `${o.error?.code ?? ''} ${o.error?.message}`;

/**
 * SIGTERM on a busy process: it stops accepting connections, lets what is in flight finish, ends
 * MCP sessions (an open event stream must not hold it), flushes the audit log and key usage, and
 * exits 0 within SHUTDOWN_TIMEOUT.
 */
describe('shutdown: SIGTERM drains and exits cleanly', () => {
  const shutdownTimeout = 5;
  const ops = useProcesses();
  let p: PlatformProcess;
  let slug: string;
  let keyId: string;
  /** Request ids of calls answered just before the signal. */
  const before: string[] = [];
  /** Requests in flight at SIGTERM: headers and half the body received. */
  const held: { what: string; id: string; req: HeldRequest; out?: Outcome }[] = [];
  /** Ordinary requests fired right before the signal. */
  let burst: Outcome[] = [];
  let lateConnection = '';
  let exit: Exit | Error;
  let exitMs = 0;
  let sdk: McpConnection;
  let listen: ListenStream;

  beforeAll(async () => {
    p = await spawnPlatform(
      { DATABASE_URL: ops.pg.url, SHUTDOWN_TIMEOUT: String(shutdownTimeout) },
      { name: 'shutdown', waitForReady: true },
    );
    slug = (await p.admin.createTenant('down')).slug;
    const k = await p.admin.createKey(slug, { scopes: ['math:use'] });
    keyId = k.id;
    const auth = bearer(k.secret);

    // Its standalone GET event stream stays open (a response that never ends); reconnecting to
    // a server that is going away would only add noise.
    sdk = await openMcp(p, slug, auth, { name: 'ops-shutdown', reconnect: false });
    await withTimeout(sdk.streamOpen, 10_000, 'the SDK client opening its event stream');
    const sum = await sdk.client.callTool({ name: 'add', arguments: { a: 2, b: 3 } });
    if ((sum.structuredContent as { result?: number })?.result !== 5) {
      throw new Error(`add through the SDK: ${JSON.stringify(sum)}`);
    }
    const { headers: session } = await rawInitialize(p, slug, auth);
    // A 2026-07-28 listen stream: a POST that never ends by itself.
    listen = await openListen(p, slug, auth);
    await pollUntil(10_000, 'the listen acknowledgement', () =>
      Promise.resolve(listen.messages[0]),
    );

    // Answered just before the signal; their audit events are still queued (batched every second).
    for (let i = 0; i < 10; i++) {
      const id = `before-sigterm-${i}`;
      const res = await rawCall(p, slug, 'echo', { text: id }, { ...session, 'X-Request-Id': id });
      if (res.status !== 200) throw new Error(`echo before SIGTERM: ${res.status} ${res.text}`);
      before.push(id);
    }

    const hold = (
      what: string,
      method: string,
      path: string,
      headers: Record<string, string>,
      body: unknown,
    ) => {
      const id = `in-flight-${held.length}`;
      const req = heldRequest(p.url, {
        method,
        path,
        headers: { ...headers, 'X-Request-Id': id },
        body,
      });
      held.push({ what, id, req });
    };
    const mcp = `/t/${slug}/mcp`;
    const asClient = { Accept: MCP_POST_HEADERS.Accept, ...PROTOCOL_VERSION };
    for (let i = 0; i < 3; i++) {
      const add = toolsCall('add', { a: i, b: 1000 }, 100 + i);
      hold('session tools/call', 'POST', mcp, { ...asClient, ...session }, add);
      hold('initialize', 'POST', mcp, { ...asClient, ...auth }, initializeRequest(200 + i));
      hold('admin PATCH', 'PATCH', `/admin/tenants/${slug}`, ADMIN, { name: `renamed ${i}` });
      const modern = modernRequest('tools/call', { name: 'add', arguments: { a: i, b: 2000 } });
      hold('2026-07-28 tools/call', 'POST', mcp, { ...modern.headers, ...auth }, modern.body);
    }
    await Promise.all(held.map((h) => h.req.sent));
    const fired = Array.from({ length: 20 }, (_, i) =>
      rawCall(
        p,
        slug,
        'echo',
        { text: `burst ${i}` },
        { ...session, 'X-Request-Id': `burst-${i}` },
      ).then(
        (res): Outcome => ({ res }),
        (error: NodeJS.ErrnoException): Outcome => ({ error }),
      ),
    );
    await sleep(200); // the server has read what was sent so far

    const signalledAt = Date.now();
    const exited = p.stop('SIGTERM');
    await sleep(300);
    lateConnection = await http(p.url, { path: '/healthz', timeoutMs: 2_000 }).then(
      (res) => `answered ${res.status}`,
      (err: NodeJS.ErrnoException) => err.code ?? err.message,
    );
    for (const h of held) h.req.release();
    for (const h of held) h.out = await h.req.result;
    burst = await Promise.all(fired);
    exit = await withTimeout(
      exited,
      shutdownTimeout * 1_000 + EXIT_SLACK_MS,
      'exit after SIGTERM',
    ).catch((err: Error) => err);
    exitMs = Date.now() - signalledAt;
  }, 180_000);

  afterAll(() => sdk?.client.close().catch(() => undefined));

  it('exits with code 0 within SHUTDOWN_TIMEOUT + 5 s, although an event stream was open', () => {
    if (exit instanceof Error) throw new Error(`${exit.message}\n${p.output().slice(-2_000)}`);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(exitMs).toBeLessThan(shutdownTimeout * 1_000 + EXIT_SLACK_MS);
  });

  it('ends a 2026-07-28 listen stream gracefully (its final result), not by cutting it', async () => {
    await expect(listen.ended).resolves.toEqual({ graceful: true });
  });

  it('refuses new connections once it is draining', () => {
    expect(lateConnection).toBe('ECONNREFUSED');
  });

  it('completes admin requests, initializes and 2026-07-28 calls that were in flight at SIGTERM', () => {
    const failed = held
      .filter((h) => h.what !== 'session tools/call')
      .filter(
        (h) =>
          h.out?.res?.status !== 200 ||
          (h.what !== 'admin PATCH' && !h.out.res.messages.some((m) => m.result)),
      )
      .map((h) => `${h.what} (${h.id}): ${describeOutcome(h.out ?? {})}`);
    expect(failed).toEqual([]);
  });

  it('completes requests of an MCP session that were in flight at SIGTERM', () => {
    const sessionCalls = held.filter((h) => h.what === 'session tools/call');
    expect(sessionCalls).toHaveLength(3);
    const failed = sessionCalls
      .filter(
        (h, i) =>
          h.out?.res?.status !== 200 ||
          (h.out.res.messages[0]?.result?.structuredContent as { result?: number } | undefined)
            ?.result !==
            i + 1000,
      )
      .map((h) => `${h.id}: ${describeOutcome(h.out ?? {})}`);
    expect(failed).toEqual([]);
  });

  it('serves or refuses the requests fired around the signal, never cutting one off', () => {
    const cut = burst
      .filter((b) => (b.res ? b.res.status !== 200 : b.error?.code !== 'ECONNREFUSED'))
      .map(describeOutcome);
    expect(cut).toEqual([]);
  });

  it('has written the audit events and key usage it held when the signal came', async () => {
    const rows = await ops.pg.query<{ request_id: string | null }>(
      `SELECT a.request_id FROM audit_events a JOIN tenants t ON t.id = a.tenant_id
        WHERE t.slug = $1`,
      [slug],
    );
    const stored = new Set(rows.map((r) => r.request_id));
    // Everything that was answered successfully was audited: tool calls and admin changes.
    const answered = [
      ...before,
      ...held.filter((h) => h.what !== 'initialize' && h.out?.res?.status === 200).map((h) => h.id),
      ...burst.flatMap((b, i) => (b.res?.status === 200 ? [`burst-${i}`] : [])),
    ];
    expect(answered.length).toBeGreaterThanOrEqual(before.length);
    expect(answered.filter((id) => !stored.has(id))).toEqual([]);
    const [key] = await ops.pg.query<{ last_used_at: Date | null }>(
      'SELECT last_used_at FROM api_keys WHERE id = $1',
      [keyId],
    );
    expect(key.last_used_at).not.toBeNull();
  });
});

describe('shutdown: a request that never finishes', () => {
  const ops = useProcesses();

  it('is cut after SHUTDOWN_TIMEOUT, and the process still exits 0 in time', async () => {
    const shutdownTimeout = 2;
    const p = await spawnPlatform(
      { DATABASE_URL: ops.pg.url, SHUTDOWN_TIMEOUT: String(shutdownTimeout) },
      { name: 'shutdown-stuck', waitForReady: true },
    );
    const t = await p.admin.createTenant('stuck');
    // A client that sends half a request and never the rest.
    const stuck = heldRequest(p.url, {
      method: 'PATCH',
      path: `/admin/tenants/${t.slug}`,
      headers: ADMIN,
      body: { name: 'never finished' },
    });
    await stuck.sent;
    await sleep(200);
    const signalledAt = Date.now();
    const exited = await withTimeout(
      p.stop('SIGTERM'),
      shutdownTimeout * 1_000 + EXIT_SLACK_MS,
      'exit after SIGTERM with a stuck request',
    );
    const took = Date.now() - signalledAt;
    expect(exited).toEqual({ code: 0, signal: null });
    // It waited for the request (about SHUTDOWN_TIMEOUT), then gave up on it.
    expect(took).toBeGreaterThanOrEqual(shutdownTimeout * 1_000 - 250);
    const out = await stuck.result;
    expect(out.res).toBeUndefined();
    expect(out.error).toBeDefined();
  }, 60_000);
});
