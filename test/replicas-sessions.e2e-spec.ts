import { bearer } from './support/admin';
import { http, pollUntil } from './support/http';
import { MCP_POST_HEADERS, rawCall, rawInitialize, rawPost, toolsList } from './support/mcp';
import { modernPost } from './support/mcp-modern';
import { PlatformProcess, spawnPlatform, useProcesses } from './support/processes';
import { hasRedisServer } from './support/redis';

/**
 * The contract: with REDIS_URL, session data is shared across replicas. A session opened on one
 * replica serves its plain requests (tools/list, tools/call, ping) on any other; its event stream
 * stays with the replica holding it; ending it anywhere ends it everywhere.
 */
// Only defined where a redis-server binary is installed, as the Redis rate-limit suite.
if (hasRedisServer()) {
  describe('replicas: sessions shared through Redis', () => {
    const ops = useProcesses({ redis: true });
    let a: PlatformProcess;
    let b: PlatformProcess;
    let slug: string;
    let key: string;
    let otherKey: string;

    beforeAll(async () => {
      const env = { DATABASE_URL: ops.pg.url, REDIS_URL: ops.redis.url, SESSION_IDLE_TTL: '4' };
      [a, b] = await Promise.all([
        spawnPlatform(env, { name: 'session-a', waitForReady: true }),
        spawnPlatform(env, { name: 'session-b', waitForReady: true }),
      ]);
      ({ slug } = await a.admin.createTenant('sessions'));
      ({ secret: key } = await a.admin.createKey(slug, { scopes: ['math:use'] }));
      ({ secret: otherKey } = await a.admin.createKey(slug, { scopes: ['math:use'] }));
    }, 240_000);

    const add = (p: PlatformProcess, headers: Record<string, string>) =>
      rawCall(p, slug, 'add', { a: 40, b: 2 }, headers);
    /** The headers of a session opened on replica A. */
    const sessionOnA = async () => (await rawInitialize(a, slug, bearer(key))).headers;

    it('serves the plain requests of a session opened on another replica', async () => {
      const session = await sessionOnA();
      const onB = await add(b, session);
      expect(onB.status).toBe(200);
      expect(onB.headers.get('mcp-session-id')).toBe(session['Mcp-Session-Id']);
      expect(onB.messages[0]?.result?.structuredContent).toEqual({ result: 42 });
      const list = await rawPost(b, slug, toolsList(), session);
      expect(list.messages[0]?.result?.tools?.map((t) => t.name)).toContain('add');
      const ping = await rawPost(
        b,
        slug,
        { jsonrpc: '2.0', id: 9, method: 'ping', params: {} },
        session,
      );
      expect(ping.status).toBe(200);
      // And still on the replica that holds it.
      expect((await add(a, session)).messages[0]?.result?.structuredContent).toEqual({
        result: 42,
      });
    });

    it('answers 404 to another principal presenting the session id, on every replica', async () => {
      const session = await sessionOnA();
      const stolen = { ...bearer(otherKey), 'Mcp-Session-Id': session['Mcp-Session-Id'] };
      for (const p of [a, b]) {
        const res = await add(p, stolen);
        expect(res.status).toBe(404);
        expect(res.json).toMatchObject({ error: { code: -32001 } });
      }
    });

    it("leaves the session's event stream to the replica holding it (405 elsewhere)", async () => {
      const session = await sessionOnA();
      const res = await http(b.url, {
        method: 'GET',
        path: `/t/${slug}/mcp`,
        headers: { ...session, Accept: 'text/event-stream' },
      });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('POST, DELETE');
      expect(res.text).toContain('route by Mcp-Session-Id');
    });

    it('ends the session everywhere when it is deleted through another replica', async () => {
      const session = await sessionOnA();
      const del = await http(b.url, {
        method: 'DELETE',
        path: `/t/${slug}/mcp`,
        headers: { Accept: MCP_POST_HEADERS.Accept, ...session },
      });
      expect(del.status).toBe(200);
      expect((await add(b, session)).status).toBe(404);
      await pollUntil(2_000, 'the holding replica closed the session', async () =>
        (await add(a, session)).status === 404 ? true : undefined,
      );
    });

    it('keeps a session alive on its replica while it is only used through another', async () => {
      const session = await sessionOnA();
      // SESSION_IDLE_TTL is 4 s: idle on A for 6 s, but used on B throughout.
      const until = Date.now() + 6_000;
      while (Date.now() < until) {
        expect((await add(b, session)).status).toBe(200);
        await new Promise((r) => setTimeout(r, 500));
      }
      expect((await add(a, session)).status).toBe(200);
      // Unused everywhere (any request would count as use), it expires everywhere: the shared
      // record 4 s after its last refresh, the session on A at A's next sweep (every second).
      await new Promise((r) => setTimeout(r, 8_000));
      expect((await add(b, session)).status).toBe(404);
      expect((await add(a, session)).status).toBe(404);
    }, 30_000);

    it('opens a 2026-07-28 requestState minted on one replica on another, and only once', async () => {
      const { secret: writer } = await a.admin.createKey(slug, {
        name: 'notes',
        scopes: ['notes:read', 'notes:write'],
      });
      const call = (p: PlatformProcess, params: Record<string, unknown>) =>
        modernPost(p, slug, bearer(writer), {
          method: 'tools/call',
          params,
          meta: { 'io.modelcontextprotocol/clientCapabilities': { elicitation: { form: {} } } },
        });
      const created = await call(a, { name: 'notes_create', arguments: { title: 'Shared' } });
      const id = (created.messages[0]?.result?.structuredContent as { id: string }).id;
      const first = await call(a, { name: 'notes_delete', arguments: { id } });
      const { requestState } = first.messages[0]?.result as { requestState: string };
      const retry = (p: PlatformProcess) =>
        call(p, {
          name: 'notes_delete',
          arguments: { id },
          inputResponses: { confirm: { action: 'accept', content: { confirm: true } } },
          requestState,
        });
      // Both replicas derive the same sealing key (generated once, kept in the shared database).
      expect((await retry(b)).messages[0]?.result?.structuredContent).toEqual({
        deleted: true,
        id,
      });
      // The claim is in Redis: the replica that minted it refuses the replay.
      expect((await retry(a)).messages[0]?.error).toMatchObject({
        code: -32602,
        message: expect.stringMatching(/already used/),
      });
    });
  });
}
