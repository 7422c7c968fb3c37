import { randomBytes } from 'node:crypto';
import { AuditWriter } from '@app/audit';
import { formatApiKey, parseApiKey } from '@app/tenancy';
import type { TenantWithKey } from './support/admin';
import {
  allAudit,
  AuditEventBody,
  auditPage,
  auditRequest,
  newRequestId,
  waitForAudit,
  waitForRequest,
} from './support/audit';
import { rejectionOf } from './support/http';
import { bearer, openMcp, rawInitialize, rawPost, toolsCall } from './support/mcp';
import {
  ADMIN,
  ADMIN_TOKEN,
  launchPlatform,
  persistentStorage,
  usePlatform,
} from './support/platform';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const randomBase62 = (n: number) => [...randomBytes(n)].map((b) => BASE62[b % 62]).join('');
/** The part of an API key after `mcp_<id>_`: what must never be stored or shown again. */
const secretPart = (key: string) =>
  key.startsWith('mcp_') ? key.split('_').slice(2).join('_') : key;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** What a tool.call event of key `t` must say. */
const toolCallBy = (t: TenantWithKey, tool: string, outcome: string) => ({
  action: 'tool.call',
  tool,
  outcome,
  actorKind: 'api-key',
  actorId: t.keyId,
  keyId: t.keyId,
});

describe('audit log (ops)', () => {
  const p = usePlatform();
  /** An SDK client whose requests carry the X-Request-Id given to `useRequestId`. */
  const client = (slug: string, key: string) => p.openMcp(slug, bearer(key));

  /** Raw text of the tenant's whole audit log as the admin API returns it. */
  const auditText = async (slug: string) => {
    const res = await auditRequest(p, slug, { limit: 200 });
    expect(res.status).toBe(200);
    expect((res.json as { nextCursor: unknown }).nextCursor).toBeNull();
    return res.text;
  };

  describe('tool calls', () => {
    it('records SDK tool calls: action, tool, outcome ok / error, key, duration and the client’s request id', async () => {
      const t = await p.admin.tenantWithKey(['math:use']);
      const { client: c, useRequestId } = await client(t.slug, t.key);

      const okId = newRequestId('ok');
      useRequestId(okId);
      const ok = await c.callTool({ name: 'add', arguments: { a: 2, b: 3 } });
      expect(ok.structuredContent).toEqual({ result: 5 });

      const errorId = newRequestId('err');
      useRequestId(errorId);
      const bad = await c.callTool({ name: 'add', arguments: { a: 'two', b: 3 } });
      expect(bad.isError).toBe(true);

      for (const [requestId, outcome] of [
        [okId, 'ok'],
        [errorId, 'error'],
      ]) {
        const [event] = await waitForRequest(p, t.slug, requestId);
        expect(event).toMatchObject({ ...toolCallBy(t, 'add', outcome), requestId });
        expect(typeof event.durationMs).toBe('number');
        expect(event.durationMs).toBeGreaterThanOrEqual(0);
        expect(Number.isNaN(Date.parse(event.at))).toBe(false);
      }
      // One event per call: the request id is not reused by anything else.
      expect(await allAudit(p, t.slug, { action: 'tool.call' })).toHaveLength(2);
    });

    it('records a call refused for missing scopes (HTTP 403) as denied', async () => {
      const t = await p.admin.tenantWithKey(['notes:read']);
      const session = await rawInitialize(p, t.slug, bearer(t.key));
      const id = newRequestId('scope');
      const res = await rawPost(p, t.slug, toolsCall('add', { a: 1, b: 2 }), {
        ...session.headers,
        'X-Request-Id': id,
      });
      expect(res.status).toBe(403);
      expect(res.headers.get('www-authenticate')).toContain('insufficient_scope');

      const [event] = await waitForRequest(p, t.slug, id);
      expect(event).toMatchObject({ ...toolCallBy(t, 'add', 'denied'), requestId: id });
    });

    it('records calls of hidden tools (outside the key’s list, disabled, unknown) made through the SDK as denied', async () => {
      const t = await p.admin.tenantWithKey(['math:use'], ['echo', 'subtract']);
      await p.admin.setTool(t.slug, 'subtract', false);
      const { client: c, useRequestId } = await client(t.slug, t.key);

      const ids: Record<string, string> = {};
      for (const tool of ['add', 'subtract', 'no_such_tool']) {
        ids[tool] = newRequestId(`hidden-${tool}`);
        useRequestId(ids[tool]);
        const err = await rejectionOf(c.callTool({ name: tool, arguments: { a: 1, b: 2 } }));
        expect(err.message).toContain('not found');
      }
      for (const tool of ['add', 'subtract', 'no_such_tool']) {
        const [event] = await waitForRequest(p, t.slug, ids[tool]);
        expect(event).toMatchObject(toolCallBy(t, tool, 'denied'));
      }
    });

    // A plain call is answered as JSON; one with a progress token is streamed as SSE through the
    // SDK transport. The audited request id must be the response's X-Request-Id either way.
    it.each([
      ['a plain call', false],
      ['a call with a progress token', true],
    ])(
      'uses the request id the platform answered with when the client sent none or an unusable one (%s)',
      async (_what, withProgress) => {
        const t = await p.admin.tenantWithKey([]);
        const { client: c, useRequestId, responseIds } = await client(t.slug, t.key);
        const options = withProgress ? { onprogress: () => undefined } : undefined;

        useRequestId(undefined);
        await c.callTool({ name: 'echo', arguments: { text: 'no id' } }, undefined, options);
        const bogus = 'not a usable id: spaces and ; semicolons';
        useRequestId(bogus);
        await c.callTool({ name: 'whoami', arguments: {} }, undefined, options);

        const [echo] = await waitForAudit(p, t.slug, (e) => e.tool === 'echo');
        const [whoami] = await waitForAudit(p, t.slug, (e) => e.tool === 'whoami');
        for (const event of [echo, whoami]) {
          expect(event.outcome).toBe('ok');
          expect({ tool: event.tool, requestId: event.requestId }).toEqual({
            tool: event.tool,
            requestId: expect.any(String),
          });
          expect(responseIds).toContain(event.requestId);
        }
        expect(whoami.requestId).not.toBe(bogus);
        expect(await auditText(t.slug)).not.toContain('semicolons');
      },
    );
  });

  describe('refused credentials', () => {
    it('records refusals on a known tenant as auth.refused with a reason, never the credential', async () => {
      const t = await p.admin.tenantWithKey(['math:use']);
      const revoked = await p.admin.createKey(t.slug, { scopes: ['math:use'], name: 'to revoke' });
      await p.admin.revokeKey(t.slug, revoked.id);
      const foreign = await p.admin.tenantWithKey(['math:use']);
      const parsed = parseApiKey(t.key)!;
      const wrongSecret = formatApiKey(parsed.keyId, randomBase62(32));
      const unknownKey = formatApiKey(randomBase62(12), randomBase62(32));
      const malformed = `mcp_${randomBase62(12)}_${randomBase62(30)}`;
      const notAKey = `opaque-${randomBase62(40)}`;

      const cases: Array<[string, Record<string, string>, string]> = [
        ['wrong secret', bearer(wrongSecret), 'invalid'],
        ['wrong secret in X-API-Key', { 'X-API-Key': wrongSecret }, 'invalid'],
        ['unknown key id', bearer(unknownKey), 'invalid'],
        ['revoked key', bearer(revoked.secret), 'revoked'],
        ['malformed key', bearer(malformed), 'malformed'],
        ['another tenant’s key', bearer(foreign.key), 'wrong_tenant'],
      ];
      const ids: string[] = [];
      for (const [what, auth, reason] of cases) {
        const id = newRequestId(reason);
        ids.push(id);
        const res = await rawPost(p, t.slug, toolsCall('add', { a: 1, b: 2 }), {
          ...auth,
          'X-Request-Id': id,
        });
        expect({ what, status: res.status }).toEqual({ what, status: 401 });
      }
      // No credential at all is how a client asks for its challenge: answered, not audited.
      const missingId = newRequestId('missing');
      const missing = await rawPost(p, t.slug, toolsCall('add', { a: 1, b: 2 }), {
        'X-Request-Id': missingId,
      });
      expect(missing.status).toBe(401);
      // An opaque bearer that is neither an API key nor a JWT is refused too.
      const opaqueId = newRequestId('opaque');
      const opaque = await rawPost(p, t.slug, toolsCall('add', { a: 1, b: 2 }), {
        ...bearer(notAKey),
        'X-Request-Id': opaqueId,
      });
      expect(opaque.status).toBe(401);

      for (const [i, [what, , reason]] of cases.entries()) {
        const [event] = await waitForRequest(p, t.slug, ids[i]);
        expect({ what, event }).toEqual({
          what,
          event: expect.objectContaining({
            action: 'auth.refused',
            outcome: 'denied',
            actorKind: 'anonymous',
            requestId: ids[i],
            detail: expect.objectContaining({ reason }),
          }),
        });
        expect(event.actorId).toEqual(expect.any(String));
        expect(event.keyId).toBeNull();
      }
      const [opaqueEvent] = await waitForRequest(p, t.slug, opaqueId);
      // Written in the same or an earlier batch than the opaque refusal, had it been recorded.
      expect(await auditText(t.slug)).not.toContain(missingId);
      expect(opaqueEvent.action).toBe('auth.refused');
      expect(opaqueEvent.detail.reason).toEqual(expect.any(String));

      const text = await auditText(t.slug);
      for (const secret of [
        wrongSecret,
        unknownKey,
        malformed,
        notAKey,
        revoked.secret,
        foreign.key,
        t.key,
        ADMIN_TOKEN,
      ]) {
        expect(text).not.toContain(secret);
        expect(text).not.toContain(secretPart(secret));
      }
      // The foreign key's tenant and identity are not disclosed to this tenant.
      expect(text).not.toContain(foreign.keyId);
      expect(text).not.toContain(foreign.slug);
    });

    it('records refused credentials on a tenant’s admin routes in that tenant’s log too', async () => {
      const t = await p.admin.tenantWithKey(['tenant:admin']);
      const old = await p.admin.createKey(t.slug, {
        scopes: ['tenant:admin'],
        name: 'old admin key',
      });
      await p.admin.revokeKey(t.slug, old.id);
      const wrongSecret = formatApiKey(parseApiKey(t.key)!.keyId, randomBase62(32));
      const cases: Array<[Record<string, string>, string]> = [
        [bearer(old.secret), 'revoked'],
        [bearer(wrongSecret), 'invalid'],
      ];
      const ids: string[] = [];
      for (const [auth] of cases) {
        const id = newRequestId('admin-refused');
        ids.push(id);
        const res = await p
          .http()
          .get(`/admin/tenants/${t.slug}/keys`)
          .set({ ...auth, 'X-Request-Id': id });
        expect(res.status).toBe(401);
      }
      for (const [i, [, reason]] of cases.entries()) {
        const [event] = await waitForRequest(p, t.slug, ids[i]);
        expect(event).toMatchObject({
          action: 'auth.refused',
          outcome: 'denied',
          detail: expect.objectContaining({ reason }),
        });
      }
      const text = await auditText(t.slug);
      for (const secret of [old.secret, wrongSecret]) {
        expect(text).not.toContain(secret);
        expect(text).not.toContain(secretPart(secret));
      }
    });
  });

  describe('admin changes', () => {
    it('records key, tool, tenant and auth changes by the platform admin, never a secret', async () => {
      const { slug } = await p.admin.createTenant('audadm');
      const rid = (what: string) => ({ ...ADMIN, 'X-Request-Id': newRequestId(what) });

      const createH = rid('create');
      const created = await p
        .http()
        .post(`/admin/tenants/${slug}/keys`)
        .set(createH)
        .send({ name: 'ci key', scopes: ['notes:read', 'math:use'] })
        .expect(201);
      const keyId = created.body.id as string;
      const firstSecret = created.body.secret as string;

      const updateH = rid('update');
      await p
        .http()
        .patch(`/admin/tenants/${slug}/keys/${keyId}`)
        .set(updateH)
        .send({ name: 'renamed' })
        .expect(200);
      const rotateH = rid('rotate');
      const rotated = await p
        .http()
        .post(`/admin/tenants/${slug}/keys/${keyId}/rotate`)
        .set(rotateH)
        .send({ graceSeconds: 60 })
        .expect(201);
      const secondSecret = rotated.body.secret as string;
      const revokeH = rid('revoke');
      await p.http().post(`/admin/tenants/${slug}/keys/${keyId}/revoke`).set(revokeH).expect(200);
      const grantH = rid('grant');
      await p
        .http()
        .put(`/admin/tenants/${slug}/tools/echo`)
        .set(grantH)
        .send({ enabled: false })
        .expect(200);
      const tenantH = rid('tenant');
      await p
        .http()
        .patch(`/admin/tenants/${slug}`)
        .set(tenantH)
        .send({ name: 'Renamed tenant' })
        .expect(200);
      const authH = rid('auth');
      await p
        .http()
        .put(`/admin/tenants/${slug}/auth`)
        .set(authH)
        .send({
          jwt: { issuer: 'http://127.0.0.1:9/issuer', jwksUri: 'http://127.0.0.1:9/jwks' },
        })
        .expect(200);

      const expected: Array<[string, Record<string, string>, Partial<AuditEventBody>]> = [
        ['key.create', createH, { keyId }],
        ['key.update', updateH, { keyId }],
        ['key.rotate', rotateH, { keyId }],
        ['key.revoke', revokeH, { keyId }],
        ['tool.grant', grantH, {}],
        ['tenant.update', tenantH, {}],
        ['tenant.auth', authH, {}],
      ];
      const events = await waitForAudit(p, slug, (e) => e.actorKind === 'platform-admin', {
        count: expected.length + 1,
      });
      expect(events.map((e) => e.action).sort()).toEqual(
        [...expected.map(([a]) => a), 'tenant.create'].sort(),
      );
      for (const [action, headers, extra] of expected) {
        const event = events.find((e) => e.action === action)!;
        expect({ action, event }).toEqual({
          action,
          event: expect.objectContaining({
            actorKind: 'platform-admin',
            actorId: 'platform-admin',
            outcome: 'ok',
            requestId: headers['X-Request-Id'],
            ...extra,
          }),
        });
      }
      const create = events.find((e) => e.action === 'key.create')!;
      expect([...(create.detail.scopes as string[])].sort()).toEqual(['math:use', 'notes:read']);
      expect(create.detail).not.toHaveProperty('secret');
      expect(events.find((e) => e.action === 'tool.grant')!.detail).toMatchObject({
        tool: 'echo',
        enabled: false,
      });
      expect(events.find((e) => e.action === 'tenant.update')!.detail).toMatchObject({
        changed: { name: 'Renamed tenant' },
      });
      expect(events.find((e) => e.action === 'key.rotate')!.detail).not.toHaveProperty('secret');

      const text = await auditText(slug);
      for (const secret of [firstSecret, secondSecret, ADMIN_TOKEN]) {
        expect(text).not.toContain(secret);
        expect(text).not.toContain(secretPart(secret));
      }
      expect(text).not.toMatch(/"secret"/);
    });

    it('records a tenant admin’s changes under its own key', async () => {
      const t = await p.admin.tenantWithKey(['tenant:admin']);
      const id = newRequestId('tadmin');
      const created = await p
        .http()
        .post(`/admin/tenants/${t.slug}/keys`)
        .set({ ...bearer(t.key), 'X-Request-Id': id })
        .send({ name: 'made by tenant admin', scopes: ['notes:read'] })
        .expect(201);
      const [event] = await waitForRequest(p, t.slug, id);
      expect(event).toMatchObject({
        action: 'key.create',
        actorKind: 'api-key',
        actorId: t.keyId,
        keyId: created.body.id,
        outcome: 'ok',
      });
      const text = await auditText(t.slug);
      expect(text).not.toContain(created.body.secret);
      expect(text).not.toContain(t.key);
    });
  });

  describe('querying', () => {
    /** A tenant with two keys and a known mix of events. */
    async function populated() {
      const t = await p.admin.tenantWithKey(['math:use']);
      const k2 = await p.admin.createKey(t.slug, { scopes: ['math:use'], name: 'second' });
      const a = await client(t.slug, t.key);
      const b = await client(t.slug, k2.secret);
      const calls: Array<[typeof a, string, Record<string, unknown>]> = [
        [a, 'add', { a: 1, b: 1 }],
        [a, 'add', { a: 2, b: 2 }],
        [a, 'add', { a: 'x', b: 2 }],
        [a, 'echo', { text: 'hi' }],
        [b, 'add', { a: 3, b: 3 }],
        [b, 'subtract', { a: 3, b: 1 }],
      ];
      for (const [c, name, args] of calls) {
        c.useRequestId(newRequestId(name));
        await c.client.callTool({ name, arguments: args });
      }
      await rawPost(p, t.slug, toolsCall('add', { a: 1, b: 1 }), bearer(`mcp_${'Z'.repeat(40)}`));
      await waitForAudit(p, t.slug, (e) => e.action === 'tool.call', { count: calls.length });
      await waitForAudit(p, t.slug, (e) => e.action === 'auth.refused');
      const all = await allAudit(p, t.slug);
      return { t, k2, all };
    }

    const ids = (events: AuditEventBody[]) => events.map((e) => e.id);

    it('filters by tool, keyId, outcome, action, from and to, alone and combined', async () => {
      const { t, k2, all } = await populated();
      const k1 = t.keyId;
      const check = async (
        query: Record<string, string>,
        want: (e: AuditEventBody) => boolean,
        count: number,
      ) => {
        const got = await allAudit(p, t.slug, query);
        const expected = all.filter(want);
        expect({ query, got: ids(got) }).toEqual({ query, got: ids(expected) });
        expect({ query, count: got.length }).toEqual({ query, count });
      };

      await check({ tool: 'add' }, (e) => e.tool === 'add', 4);
      await check({ tool: 'subtract' }, (e) => e.tool === 'subtract', 1);
      await check({ keyId: k1 }, (e) => e.keyId === k1, 5); // key.create + 4 calls
      await check({ keyId: k2.id }, (e) => e.keyId === k2.id, 3);
      await check({ outcome: 'error' }, (e) => e.outcome === 'error', 1);
      await check({ outcome: 'denied' }, (e) => e.outcome === 'denied', 1);
      await check({ action: 'tool.call' }, (e) => e.action === 'tool.call', 6);
      await check({ action: 'auth.refused' }, (e) => e.action === 'auth.refused', 1);
      await check({ action: 'key.create' }, (e) => e.action === 'key.create', 2);
      await check(
        { tool: 'add', keyId: k1, outcome: 'ok' },
        (e) => e.tool === 'add' && e.keyId === k1 && e.outcome === 'ok',
        2,
      );
      await check(
        { action: 'key.create', keyId: k2.id },
        (e) => e.action === 'key.create' && e.keyId === k2.id,
        1,
      );
      await check({ tool: 'echo', keyId: k2.id }, () => false, 0);

      // from is inclusive, to exclusive; both compare the event time.
      const calls = all.filter((e) => e.action === 'tool.call');
      const pivot = calls[Math.floor(calls.length / 2)];
      const at = (e: AuditEventBody) => Date.parse(e.at);
      const pivotAt = at(pivot);
      const first = Math.min(...all.map(at));
      await check(
        { from: pivot.at },
        (e) => at(e) >= pivotAt,
        all.filter((e) => at(e) >= pivotAt).length,
      );
      await check(
        { to: pivot.at },
        (e) => at(e) < pivotAt,
        all.filter((e) => at(e) < pivotAt).length,
      );
      expect(ids(await allAudit(p, t.slug, { from: pivot.at }))).toContain(pivot.id);
      expect(ids(await allAudit(p, t.slug, { to: pivot.at }))).not.toContain(pivot.id);
      const end = new Date(pivotAt + 1).toISOString();
      await check(
        { from: new Date(first).toISOString(), to: end, action: 'tool.call' },
        (e) => at(e) >= first && at(e) < pivotAt + 1 && e.action === 'tool.call',
        calls.filter((e) => at(e) <= pivotAt).length,
      );
      await check({ from: new Date(Date.now() + 3_600_000).toISOString() }, () => false, 0);
      await check({ to: '2000-01-01T00:00:00Z' }, () => false, 0);
      // An offset is understood as such.
      const shifted = new Date(pivotAt + 2 * 3_600_000).toISOString().replace('Z', '+02:00');
      await check(
        { from: shifted },
        (e) => at(e) >= pivotAt,
        all.filter((e) => at(e) >= pivotAt).length,
      );
    });

    it('pages newest first with a cursor, without repeats, stable while new events arrive', async () => {
      const { t, all } = await populated();
      expect(all.length).toBeGreaterThanOrEqual(10);
      // Newest first: ids strictly decreasing, times not increasing.
      for (let i = 1; i < all.length; i++) {
        expect(BigInt(all[i - 1].id)).toBeGreaterThan(BigInt(all[i].id));
        expect(Date.parse(all[i - 1].at)).toBeGreaterThanOrEqual(Date.parse(all[i].at));
      }
      expect(all[all.length - 1].action).toBe('tenant.create');

      const walked: AuditEventBody[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page = await auditPage(p, t.slug, { limit: 3, ...(cursor ? { cursor } : {}) });
        expect(page.items.length).toBeLessThanOrEqual(3);
        // Only the last page (no cursor after it) may be short.
        expect({ full: page.items.length === 3, last: page.nextCursor === null }).not.toEqual({
          full: false,
          last: false,
        });
        walked.push(...page.items);
        cursor = page.nextCursor;
        pages += 1;
        expect(pages).toBeLessThan(50);
      } while (cursor);
      expect(ids(walked)).toEqual(ids(all));
      expect(new Set(ids(walked)).size).toBe(walked.length);

      // New events between pages neither repeat nor shift what the cursor continues with.
      const first = await auditPage(p, t.slug, { limit: 3 });
      const more = await client(t.slug, t.key);
      const newIds = [newRequestId('late'), newRequestId('late')];
      for (const id of newIds) {
        more.useRequestId(id);
        await more.client.callTool({ name: 'echo', arguments: { text: id } });
      }
      await waitForRequest(p, t.slug, newIds[1]);
      const second = await auditPage(p, t.slug, { limit: 3, cursor: first.nextCursor! });
      expect(ids(second.items)).toEqual(ids(all.slice(3, 6)));
      const latest = await auditPage(p, t.slug, { limit: 2 });
      expect(latest.items.map((e) => e.requestId)).toEqual([newIds[1], newIds[0]]);
    });

    it('answers 400 with a JSON error for bad filters', async () => {
      const t = await p.admin.tenantWithKey([]);
      const bad: Array<Record<string, string>> = [
        { outcome: 'maybe' },
        { keyId: 'notuuid' },
        { from: 'yesterday' },
        { to: '31/12/2024' },
        { cursor: 'abc' },
        { cursor: '-1' },
        { limit: '0' },
        { limit: '201' },
        { limit: 'ten' },
        { action: 'DROP TABLE' },
        { tool: 'no spaces allowed' },
        { unknown: 'x' },
        { tenantId: '00000000-0000-0000-0000-000000000000' },
      ];
      for (const query of bad) {
        const res = await auditRequest(p, t.slug, query);
        expect({ query, status: res.status }).toEqual({ query, status: 400 });
        expect(res.headers.get('content-type')).toMatch(/application\/json/);
        expect(res.json).toMatchObject({
          statusCode: 400,
          error: 'Bad Request',
          message: expect.any(String),
        });
      }
      // A well-formed query that matches nothing is an empty page, not an error.
      const empty = await auditPage(p, t.slug, { keyId: '00000000-0000-4000-8000-000000000000' });
      expect(empty).toEqual({ items: [], nextCursor: null });
    });
  });

  describe('who can read it', () => {
    it('a tenant admin reads its own tenant’s log and gets 403 for another’s', async () => {
      const a = await p.admin.tenantWithKey(['tenant:admin']);
      const b = await p.admin.tenantWithKey(['tenant:admin']);
      const plain = await p.admin.createKey(a.slug, { scopes: ['math:use'] });

      const [created] = await waitForAudit(p, a.slug, (e) => e.action === 'tenant.create');
      const own = await auditRequest(p, a.slug, {}, bearer(a.key));
      expect(own.status).toBe(200);
      expect((own.json as { items: AuditEventBody[] }).items.map((e) => e.id)).toContain(
        created.id,
      );

      const other = await auditRequest(p, b.slug, {}, bearer(a.key));
      expect(other.status).toBe(403);
      expect(other.json).toMatchObject({ statusCode: 403, error: 'Forbidden' });
      expect(other.text).not.toContain(b.keyId);

      expect((await auditRequest(p, a.slug, {}, bearer(plain.secret))).status).toBe(403);
      expect((await auditRequest(p, a.slug, {}, {})).status).toBe(401);
      expect((await auditRequest(p, 'no-such-tenant-here', {}, ADMIN)).status).toBe(404);
    });

    it('never shows one tenant’s events in another tenant’s log', async () => {
      const a = await p.admin.tenantWithKey(['math:use']);
      const b = await p.admin.tenantWithKey(['math:use']);
      const ca = await client(a.slug, a.key);
      const cb = await client(b.slug, b.key);
      const aIds = [newRequestId('a'), newRequestId('a')];
      const bIds = [newRequestId('b')];
      ca.useRequestId(aIds[0]);
      await ca.client.callTool({ name: 'add', arguments: { a: 1, b: 2 } });
      cb.useRequestId(bIds[0]);
      await cb.client.callTool({ name: 'add', arguments: { a: 1, b: 2 } });
      // A's key presented on B's endpoint.
      const cross = await rawPost(p, b.slug, toolsCall('add', { a: 1, b: 2 }), {
        ...bearer(a.key),
        'X-Request-Id': aIds[1],
      });
      expect(cross.status).toBe(401);

      await waitForRequest(p, a.slug, aIds[0]);
      await waitForRequest(p, b.slug, bIds[0]);
      const [refusal] = await waitForRequest(p, b.slug, aIds[1]);
      expect(refusal).toMatchObject({ action: 'auth.refused', detail: { reason: 'wrong_tenant' } });

      const aLog = await allAudit(p, a.slug);
      const bLog = await allAudit(p, b.slug);
      expect(aLog.map((e) => e.requestId)).not.toContain(bIds[0]);
      expect(aLog.map((e) => e.requestId)).not.toContain(aIds[1]);
      expect(aLog.every((e) => e.keyId === null || e.keyId === a.keyId)).toBe(true);
      expect(bLog.map((e) => e.requestId)).not.toContain(aIds[0]);
      expect(bLog.every((e) => e.keyId === null || e.keyId === b.keyId)).toBe(true);
      const bText = await auditText(b.slug);
      expect(bText).not.toContain(a.keyId);
      expect(bText).not.toContain(a.key);
      expect(bText).not.toContain(a.slug);
      // The ids of the two logs are disjoint.
      const aSet = new Set(aLog.map((e) => e.id));
      expect(bLog.filter((e) => aSet.has(e.id))).toEqual([]);
    });
  });

  describe('graceful shutdown', () => {
    it('keeps events still queued when the app closes and shows them after a restart', async () => {
      const storage = await persistentStorage();
      let app = await launchPlatform(storage.env);
      try {
        const t = await app.admin.tenantWithKey(['math:use']);
        const traced = await openMcp(app, t.slug, bearer(t.key));
        const writer = app.app.get(AuditWriter);
        const sent: string[] = [];
        const call = async () => {
          const id = newRequestId('shutdown');
          sent.push(id);
          traced.useRequestId(id);
          await traced.client.callTool({ name: 'add', arguments: { a: sent.length, b: 1 } });
        };
        for (let i = 0; i < 3; i++) await call();
        // A timer flush may have just written everything; one more call queues an event again.
        for (let i = 0; i < 5 && writer.depth === 0; i++) await call();
        const queuedAtClose = writer.depth;
        await app.close();
        await traced.client.close().catch(() => undefined);
        expect(queuedAtClose).toBeGreaterThan(0);

        app = await launchPlatform(storage.env);
        const events = await allAudit(app, t.slug, { action: 'tool.call' });
        expect(events.map((e) => e.requestId).sort()).toEqual([...sent].sort());
        for (const e of events) {
          expect(e).toMatchObject({ tool: 'add', outcome: 'ok', keyId: t.keyId });
          expect(e.keyId).toMatch(UUID);
        }
        // Admin changes made just before the close are kept too.
        expect((await allAudit(app, t.slug, { action: 'key.create' })).length).toBe(1);
      } finally {
        await app.close();
        await storage.dispose();
      }
    });
  });
});
