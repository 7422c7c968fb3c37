import { connect as netConnect, Socket } from 'node:net';
import { TenantsService } from '@app/tenancy';
import { ToolRegistry } from '@app/tools';
import { ADMIN, startPlatform, TestPlatform } from './support/platform';
import { bearer, createKey, createTenant, tenantWithKey, TenantWithKey } from './support/mcp';
import { MCP_POST_HEADERS, rawPost, toolsCall } from './support/mcp-raw';

/** A request whose body is announced but held back: it stays in flight until `finish()`. */
function heldRequest(
  p: TestPlatform,
  path: string,
  headers: Record<string, string>,
  body: string,
): {
  sent: Promise<void>;
  finish: () => void;
  response: Promise<string>;
  socket: Socket;
  answered: () => string | undefined;
} {
  const url = new URL(p.url);
  const socket = netConnect(Number(url.port), url.hostname);
  let text = '';
  let done = false;
  const response = new Promise<string>((resolve) => {
    socket.on('close', () => (done = true));
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('close', () => resolve(text));
    socket.on('error', () => resolve(text));
  });
  const head = [
    `POST ${path} HTTP/1.1`,
    `Host: ${url.host}`,
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    '',
    '',
  ].join('\r\n');
  // Resolves once the server has surely parsed the headers: the write is flushed and the loop
  // has had a moment; whether it then holds its slot is checked by the caller.
  const sent = new Promise<void>((resolve) =>
    socket.once('connect', () =>
      socket.write(head + body.slice(0, 1), () => setTimeout(resolve, 100)),
    ),
  );
  return {
    sent,
    finish: () => socket.write(body.slice(1)),
    response,
    socket,
    answered: () => (done || text ? text : undefined),
  };
}

/** Fails when a request that should still be held has been answered already. */
function stillHeld(...held: { answered: () => string | undefined }[]): void {
  for (const h of held) {
    const text = h.answered();
    if (text !== undefined) throw new Error(`a held request was answered early: ${text}`);
  }
}

/** Waits until `check` holds, polling; fails with `what` after a generous bound. */
async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`never happened: ${what}`);
}

describe('tenant isolation: cost bounded before work, fair sharing, refusals that cannot be turned against users', () => {
  describe('requests are authenticated before their body is read', () => {
    let p: TestPlatform;
    let t: TenantWithKey;
    beforeAll(async () => {
      p = await startPlatform({ MCP_STATELESS: 'true' });
      t = await tenantWithKey(p, ['math:use']);
    });
    afterAll(() => p.close());

    const junk = 'x'.repeat(2 * 1024 * 1024);

    it('answers an unauthenticated oversized, unparsable body on an MCP endpoint with 401, not 400 or 413', async () => {
      const res = await fetch(`${p.url}/t/${t.slug}/mcp`, {
        method: 'POST',
        headers: MCP_POST_HEADERS,
        body: junk,
      });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/resource_metadata=/);
    });

    it('does the same on an admin route', async () => {
      const res = await fetch(`${p.url}/admin/tenants`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          Authorization: 'Bearer not-a-valid-token-0123456789',
        },
        body: junk,
      });
      expect(res.status).toBe(401);
    });

    it('still parses and refuses bad bodies of authenticated requests', async () => {
      const bad = await fetch(`${p.url}/t/${t.slug}/mcp`, {
        method: 'POST',
        headers: { ...MCP_POST_HEADERS, ...bearer(t.key) },
        body: '{"jsonrpc":',
      });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: { code: number } }).error.code).toBe(-32700);
      const admin = await fetch(`${p.url}/admin/tenants`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...ADMIN },
        body: '{"slug":',
      });
      expect(admin.status).toBe(400);
      expect(await admin.json()).toEqual({
        statusCode: 400,
        error: 'Bad Request',
        message: expect.stringMatching(/not valid JSON/),
      });
    });

    it('refuses a request larger than any tool allows from its bytes, before parsing it', async () => {
      const largest = p.app.get(ToolRegistry).largestArgumentBytes();
      const huge = toolsCall('add', { a: 1, b: 2, x: 'y'.repeat(largest) });
      expect(JSON.stringify(huge).length).toBeGreaterThan(largest);
      const res = await rawPost(p, t.slug, huge, bearer(t.key));
      expect(res.status).toBe(413);
      expect(res.messages[0]?.error).toEqual({
        code: -32602,
        message: expect.stringMatching(
          new RegExp(`no request may take more than ${largest} bytes`),
        ),
      });
    });

    it('refuses a tools/call over its own tool’s byte limit, with the limit in the message', async () => {
      const limit = p.config.toolArgumentLimits.maxBytes;
      const res = await rawPost(
        p,
        t.slug,
        toolsCall('add', { a: 1, b: 2, x: 'y'.repeat(limit) }),
        bearer(t.key),
      );
      expect(res.status).toBe(413);
      expect(res.messages[0]?.error?.message).toMatch(
        new RegExp(`a tools/call of add may take at most ${limit} bytes`),
      );
      const fine = await rawPost(p, t.slug, toolsCall('add', { a: 1, b: 2 }), bearer(t.key));
      expect(fine.status).toBe(200);
    });

    it('answers unknown tenants with 404 from memory: a flood of made-up names costs a few lookups a second', async () => {
      const lookups = jest.spyOn(p.app.get(TenantsService), 'findBySlug');
      try {
        for (let i = 0; i < 60; i++) {
          const res = await rawPost(p, `no-such-tenant-${i}`, toolsCall('add'), bearer(t.key));
          expect(res.status).toBe(404);
        }
        // The budget is 5 a second (plus what refills while the requests run).
        expect(lookups.mock.calls.length).toBeLessThan(20);
      } finally {
        lookups.mockRestore();
      }
    });

    it('knows tenants created and deleted since it started', async () => {
      const fresh = await createTenant(p, 'fresh');
      const k = await createKey(p, fresh.slug, { scopes: ['math:use'] });
      const ok = await rawPost(p, fresh.slug, toolsCall('add', { a: 2, b: 3 }), bearer(k.key));
      expect(ok.status).toBe(200);
      await p.http().delete(`/admin/tenants/${fresh.slug}`).set(ADMIN).expect(204);
      const gone = await rawPost(p, fresh.slug, toolsCall('add'), bearer(k.key));
      expect(gone.status).toBe(404);
    });
  });

  describe('concurrency caps per tenant and per key', () => {
    let p: TestPlatform;
    let a: TenantWithKey;
    let b: TenantWithKey;
    beforeAll(async () => {
      p = await startPlatform({
        MCP_STATELESS: 'true',
        MAX_INFLIGHT_PER_KEY: '0',
        MAX_INFLIGHT_PER_TENANT: '0',
      });
      a = await tenantWithKey(p, ['math:use']);
      b = await tenantWithKey(p, ['math:use']);
      await p
        .http()
        .patch(`/admin/tenants/${a.slug}`)
        .set(ADMIN)
        .send({ rateLimits: { tenantConcurrency: 2 } })
        .expect(200);
    });
    afterAll(() => p.close());

    const call = JSON.stringify(toolsCall('add', { a: 1, b: 1 }));
    const hold = (t: TenantWithKey) =>
      heldRequest(p, `/t/${t.slug}/mcp`, { ...MCP_POST_HEADERS, ...bearer(t.key) }, call);

    it('refuses a tenant over its cap with 429 and Retry-After while another tenant is served', async () => {
      const held = [hold(a), hold(a)];
      try {
        await Promise.all(held.map((h) => h.sent));
        stillHeld(...held);
        await eventually('both held requests hold their slots', async () => {
          const r = await rawPost(p, a.slug, toolsCall('add', { a: 1, b: 2 }), bearer(a.key));
          return r.status === 429;
        });
        const over = await rawPost(p, a.slug, toolsCall('add', { a: 1, b: 2 }), bearer(a.key));
        expect(over.status).toBe(429);
        expect(over.headers.get('retry-after')).toBe('1');
        expect(over.json).toEqual(
          expect.objectContaining({
            message: expect.stringMatching(/at most 2 at a time per tenant/),
          }),
        );
        const other = await rawPost(p, b.slug, toolsCall('add', { a: 1, b: 2 }), bearer(b.key));
        expect(other.status).toBe(200);
        expect(other.messages[0]?.result?.structuredContent).toEqual({ result: 3 });
      } finally {
        held.forEach((h) => h.finish());
      }
      const answers = await Promise.all(held.map((h) => h.response));
      for (const text of answers) expect(text).toMatch(/^HTTP\/1\.1 200/);
      const after = await rawPost(p, a.slug, toolsCall('add', { a: 1, b: 2 }), bearer(a.key));
      expect(after.status).toBe(200);
    });

    it('caps one key while another key of the same tenant goes on', async () => {
      await p
        .http()
        .patch(`/admin/tenants/${b.slug}`)
        .set(ADMIN)
        .send({ rateLimits: { keyConcurrency: 1 } })
        .expect(200);
      const second = await createKey(p, b.slug, { scopes: ['math:use'] });
      const held = hold(b);
      try {
        await held.sent;
        stillHeld(held);
        await eventually('the held request holds its slot', async () => {
          const r = await rawPost(p, b.slug, toolsCall('add', { a: 1, b: 2 }), bearer(b.key));
          return r.status === 429;
        });
        const over = await rawPost(p, b.slug, toolsCall('add', { a: 1, b: 2 }), bearer(b.key));
        expect(over.json).toEqual(
          expect.objectContaining({ message: expect.stringMatching(/per credential/) }),
        );
        const other = await rawPost(
          p,
          b.slug,
          toolsCall('add', { a: 1, b: 2 }),
          bearer(second.key),
        );
        expect(other.status).toBe(200);
      } finally {
        held.finish();
      }
      await held.response;
    });
  });

  describe('failed-authentication limits', () => {
    let p: TestPlatform;
    let t: TenantWithKey;
    beforeAll(async () => {
      p = await startPlatform({
        MCP_STATELESS: 'true',
        AUTH_FAILURES_PER_MINUTE: '3',
        ADMIN_AUTH_FAILURES_PER_MINUTE: '2',
      });
      t = await tenantWithKey(p, ['math:use']);
    });
    afterAll(() => p.close());

    const badKey = 'mcp_AAAAAAAAAAAA_notavalidkeyatall0000000000000000';

    it('never counts a request without credentials', async () => {
      for (let i = 0; i < 10; i++) {
        const res = await rawPost(p, t.slug, toolsCall('add'), {});
        expect(res.status).toBe(401);
      }
      const refused = await rawPost(p, t.slug, toolsCall('add'), bearer(badKey));
      expect(refused.status).toBe(401);
    });

    it('limits refused credentials with 429, and never refuses a valid key from the same address', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        statuses.push((await rawPost(p, t.slug, toolsCall('add'), bearer(badKey))).status);
      }
      expect(statuses).toEqual([401, 401, 429, 429]);
      const limited = await rawPost(p, t.slug, toolsCall('add'), bearer(badKey));
      expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(limited.json).toEqual(
        expect.objectContaining({
          message: expect.stringMatching(/valid credentials are not affected/),
        }),
      );
      const valid = await rawPost(p, t.slug, toolsCall('add', { a: 20, b: 22 }), bearer(t.key));
      expect(valid.status).toBe(200);
      expect(valid.messages[0]?.result?.structuredContent).toEqual({ result: 42 });
    });

    it('keeps the platform admin token working, and counts wrong admin tokens in their own bucket', async () => {
      await p.http().get('/admin/tenants').set(ADMIN).expect(200);
      const wrong = bearer('wrong-admin-token-0123456789abcdefghij');
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        statuses.push((await p.http().get('/admin/tenants').set(wrong)).status);
      }
      expect(statuses).toEqual([401, 401, 429]);
      await p.http().get('/admin/tenants').set(ADMIN).expect(200);
    });
  });

  describe('slow clients', () => {
    let p: TestPlatform;
    let t: TenantWithKey;
    beforeAll(async () => {
      p = await startPlatform({
        MCP_STATELESS: 'true',
        REQUEST_TIMEOUT: '1',
        HEADERS_TIMEOUT: '1',
      });
      t = await tenantWithKey(p, ['math:use']);
    });
    afterAll(() => p.close());

    it('cuts off a body that trickles in, with 408, while the client is still sending', async () => {
      const body = JSON.stringify(toolsCall('add', { a: 1, b: 1 })) + ' '.repeat(10_000);
      const held = heldRequest(
        p,
        `/t/${t.slug}/mcp`,
        { ...MCP_POST_HEADERS, ...bearer(t.key) },
        body,
      );
      await held.sent;
      let closedEarly = false;
      // Trickle one byte every 100 ms: the whole body would take minutes.
      const trickle = setInterval(() => {
        if (held.socket.writable) held.socket.write(' ');
      }, 100);
      try {
        const text = await Promise.race([
          held.response.then((r) => {
            closedEarly = true;
            return r;
          }),
          new Promise<string>((r) => setTimeout(() => r('still open'), 20_000)),
        ]);
        expect(closedEarly).toBe(true);
        expect(text).toMatch(/^HTTP\/1\.1 408/);
      } finally {
        clearInterval(trickle);
        held.socket.destroy();
      }
    });
  });
});
