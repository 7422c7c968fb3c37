import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { readFile } from 'node:fs/promises';
import { waitForAudit } from './support/audit';
import {
  type AuthService,
  type AuthServiceOptions,
  authSecret,
  GARBAGE_BODIES,
  startAuthService,
  useAuthService,
} from './support/auth-service';
import { pollUntil, type RawResponse, sleep } from './support/http';
import {
  expectAccepted,
  expectAuthUnavailable,
  expectErrorBody,
  tenantWithAuth,
} from './support/hostile';
import {
  bearer,
  builtInToolNames,
  builtInToolsFor,
  initializeRequest,
  rawInitialize,
  rawPost,
  resourceMetadataUrl,
  toolsList,
} from './support/mcp';
import { usePlatform } from './support/platform';

type Tenant = { slug: string; id: string; aud: string };

const whoami = async (client: Client) =>
  (await client.callTool({ name: 'whoami', arguments: {} })).structuredContent as {
    tenant: string;
    kind: string;
    id: string;
    scopes: string[];
  };

let users = 0;
/** A user name no other test uses: nothing of it is in any cache yet. */
const freshUser = (what = 'u') => `${what}-${process.pid}-${(users += 1)}`;

describe('header credentials checked by the tenant’s own auth service', () => {
  const p = usePlatform();
  /** Every password of the file, each shaped `upstream-secret-<hex>` for the log scan. */
  const passwords: string[] = [];
  const pass = () => {
    const pw = authSecret();
    passwords.push(pw);
    return pw;
  };
  const alice = { pass: pass(), scopes: ['math:use', 'notes:read'], subject: 'alice@example' };
  const bob = { pass: pass(), scopes: ['notes:read'] };
  const svc = useAuthService({ users: { alice, bob } });
  const services: AuthService[] = [];
  /** A service of its own for a test that breaks it or needs its own answers. */
  const service = async (opts: AuthServiceOptions = {}) => {
    const started = await startAuthService(opts);
    services.push(started);
    return started;
  };
  afterAll(() => Promise.all(services.map((s) => s.stop())));

  /** A tenant whose external auth is `s`, with `X-User` and `X-Pass` unless named otherwise. */
  const tenantOf = (s: AuthService, extra: Record<string, unknown> = {}, prefix = 'ext') =>
    tenantWithAuth(p, { external: { url: s.url, headers: s.headerNames, ...extra } }, prefix);

  const init = (tenant: Tenant, headers: Record<string, string>) =>
    rawPost(p, tenant.slug, initializeRequest(), headers);

  /** 401 with a JSON error body and the tenant's challenge, no session. */
  const expectRefused = (tenant: Tenant, res: RawResponse, message: RegExp = /./) => {
    if (res.status !== 401) {
      throw new Error(`expected 401 but got ${res.status}: ${res.text.slice(0, 300)}`);
    }
    expectErrorBody(401, res.json, 'POST /mcp');
    expect((res.json as { message: string }).message).toMatch(message);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect(res.headers.get('www-authenticate')).toContain(
      `resource_metadata="${resourceMetadataUrl(p, tenant.slug)}"`,
    );
    expect(res.headers.get('mcp-session-id')).toBeNull();
  };

  let t: Tenant;
  beforeAll(async () => {
    t = await tenantOf(svc);
  });

  describe('who gets in', () => {
    it('good credentials: an SDK client sees the service’s subject and scopes, tools filtered', async () => {
      const client = await p.connect(t.slug, svc.headersFor('alice'));
      expect(await builtInToolNames(client)).toEqual(builtInToolsFor(alice.scopes));
      expect(await whoami(client)).toMatchObject({
        tenant: t.slug,
        kind: 'external',
        id: 'external:alice@example',
        scopes: alice.scopes,
      });
      const sum = await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } });
      expect(JSON.stringify(sum.content)).toContain('42');
      // The service was asked with exactly the configured headers, names lowercased.
      const call = svc.calls.find((c) => c.headers?.['x-user'] === 'alice');
      expect(call?.headers).toEqual({ 'x-user': 'alice', 'x-pass': alice.pass });
      expect(call?.requestHeaders['content-type']).toMatch(/application\/json/);
    });

    it('another user of the service: its own scopes, its own principal', async () => {
      const client = await p.connect(t.slug, svc.headersFor('bob'));
      expect(await builtInToolNames(client)).toEqual(builtInToolsFor(['notes:read']));
      expect(await whoami(client)).toMatchObject({
        kind: 'external',
        id: 'external:bob',
        scopes: ['notes:read'],
      });
    });

    it('a wrong password, an unknown user and a user the service forbids: 401 with the challenge', async () => {
      const forbidden = freshUser('disabled');
      svc.setUser(forbidden, { pass: pass(), scopes: ['math:use'], disabled: true });
      for (const headers of [
        svc.headersFor('alice', pass()),
        svc.headersFor(freshUser('nobody'), pass()),
        svc.headersFor(forbidden),
        svc.headersFor('alice', ''),
      ]) {
        expectRefused(t, await init(t, headers));
      }
    });

    it('one of the two headers missing: 401', async () => {
      for (const headers of [{ 'X-User': 'alice' }, { 'X-Pass': alice.pass }] as Record<
        string,
        string
      >[]) {
        expectRefused(t, await init(t, headers));
      }
    });

    it('an API key of the tenant still works next to the external service', async () => {
      const key = await p.admin.createKey(t.slug, { scopes: ['math:use'] });
      const before = svc.callCount;
      const client = await p.connect(t.slug, bearer(key.secret));
      expect(await whoami(client)).toMatchObject({
        kind: 'api-key',
        id: key.id,
        scopes: ['math:use'],
      });
      expect(svc.callCount).toBe(before);
    });

    it('headers configured on one tenant do nothing on another: 401 missing credentials', async () => {
      const plain = await p.admin.createTenant('ext-plain');
      const b: Tenant = { ...plain, aud: `${p.config.publicUrl}/t/${plain.slug}/mcp` };
      const before = svc.callCount;
      expectRefused(b, await init(b, svc.headersFor('alice')), /missing credentials/);
      // Another tenant of the same service with other header names does not read these either.
      const other = await tenantWithAuth(
        p,
        { external: { url: svc.url, headers: ['X-Login', 'X-Secret'] } },
        'ext-other',
      );
      expectRefused(other, await init(other, svc.headersFor('alice')), /missing credentials/);
      expect(svc.callCount).toBe(before);
    });
  });

  describe('answers are cached', () => {
    it('a second request with the same headers is served from the cache', async () => {
      const name = freshUser('cached');
      svc.setUser(name, { pass: pass(), scopes: ['notes:read'] });
      const before = svc.callCount;
      expectAccepted(await init(t, svc.headersFor(name)));
      expect(svc.callCount).toBe(before + 1);
      expectAccepted(await init(t, svc.headersFor(name)));
      expectAccepted(await init(t, svc.headersFor(name)));
      expect(svc.callCount).toBe(before + 1);
      // Other values are another cache entry: a wrong password is asked about, and refused.
      expectRefused(t, await init(t, svc.headersFor(name, pass())));
      expect(svc.callCount).toBe(before + 2);
    });

    it('cacheSeconds 0: every request asks the service', async () => {
      const uncached = await tenantOf(svc, { cacheSeconds: 0 }, 'ext-nocache');
      const before = svc.callCount;
      for (let i = 0; i < 3; i++) expectAccepted(await init(uncached, svc.headersFor('bob')));
      expect(svc.callCount).toBe(before + 3);
    });

    it('an expiresIn shorter than cacheSeconds bounds the cache', async () => {
      const short = await service({ users: { carol: { pass: pass(), scopes: [] } }, expiresIn: 1 });
      const tenant = await tenantOf(short, { cacheSeconds: 3600 }, 'ext-expires');
      expectAccepted(await init(tenant, short.headersFor('carol')));
      const first = short.callCount;
      expect(first).toBe(1);
      // Within an hour of cacheSeconds, the service is asked again once its 1 s have passed.
      await pollUntil(15_000, 'the service asked again', async () => {
        expectAccepted(await init(tenant, short.headersFor('carol')));
        return short.callCount > first ? true : undefined;
      });
    });

    it('the tenants of one service have caches of their own', async () => {
      const name = freshUser('two-tenants');
      svc.setUser(name, { pass: pass(), scopes: [] });
      const second = await tenantOf(svc, {}, 'ext-second');
      const before = svc.callCount;
      expectAccepted(await init(t, svc.headersFor(name)));
      expectAccepted(await init(second, svc.headersFor(name)));
      expect(svc.callCount).toBe(before + 2);
    });
  });

  describe('when the service cannot answer: 503 with Retry-After', () => {
    it('down (connection refused), and back up', async () => {
      const s = await service({ users: { dave: { pass: pass(), scopes: ['math:use'] } } });
      const tenant = await tenantOf(s, {}, 'ext-down');
      await s.setMode('down');
      expectAuthUnavailable(await init(tenant, s.headersFor('dave')));
      expectAuthUnavailable(await init(tenant, s.headersFor('dave', pass())));
      await s.setMode('up');
      const back = await pollUntil(15_000, 'accepted once the service is back', async () => {
        const res = await init(tenant, s.headersFor('dave'));
        return res.status === 200 ? res : undefined;
      });
      expectAccepted(back);
    });

    it('slow beyond timeoutMs 300', async () => {
      const s = await service({ users: { erin: { pass: pass(), scopes: [] } } });
      const tenant = await tenantOf(s, { timeoutMs: 300 }, 'ext-slow');
      await s.setMode('slow');
      expectAuthUnavailable(await init(tenant, s.headersFor('erin')));
      expect(s.callCount).toBeGreaterThanOrEqual(1);
      await s.setMode('up');
    });

    it('answering garbage with 200, or a 500', async () => {
      const s = await service();
      const tenant = await tenantOf(s, {}, 'ext-garbage');
      await s.setMode('garbage');
      for (let i = 0; i < GARBAGE_BODIES.length; i++) {
        const res = await init(tenant, s.headersFor(freshUser('garbage'), pass()));
        try {
          expectAuthUnavailable(res);
        } catch (err) {
          throw new Error(
            `garbage ${JSON.stringify(GARBAGE_BODIES[i])}: ${(err as Error).message}`,
          );
        }
      }
      await s.setMode('500');
      expectAuthUnavailable(await init(tenant, s.headersFor(freshUser('five'), pass())));
    });

    it('an outage of one tenant’s service leaves another tenant’s alone', async () => {
      const s = await service();
      const broken = await tenantOf(s, {}, 'ext-broken');
      await s.setMode('down');
      expectAuthUnavailable(await init(broken, s.headersFor('anyone', pass())));
      expectAccepted(await init(t, svc.headersFor('alice')));
    });
  });

  describe('sessions', () => {
    it('a session opened with one user’s headers is not another user’s: 404', async () => {
      const session = await rawInitialize(p, t.slug, svc.headersFor('alice'));
      const asBob = await rawPost(p, t.slug, toolsList(), {
        ...session.headers,
        ...svc.headersFor('bob'),
      });
      expect(asBob.status).toBe(404);
      // The session goes on for alice.
      const asAlice = await rawPost(p, t.slug, toolsList(), session.headers);
      expect(asAlice.status).toBe(200);
      // And without any credential it is no session at all: 401.
      const bare = Object.fromEntries(
        Object.entries(session.headers).filter(([k]) => !/^x-(user|pass)$/i.test(k)),
      );
      expect((await rawPost(p, t.slug, toolsList(), bare)).status).toBe(401);
    });

    it('after the user’s password changed at the service and the cache expired: 401 in its session', async () => {
      const s = await service();
      const name = freshUser('changing');
      const old = pass();
      s.setUser(name, { pass: old, scopes: ['math:use'] });
      const tenant = await tenantOf(s, { cacheSeconds: 1 }, 'ext-pwchange');
      const session = await rawInitialize(p, tenant.slug, s.headersFor(name));
      expect((await rawPost(p, tenant.slug, toolsList(), session.headers)).status).toBe(200);

      s.setPassword(name, pass());
      const refused = await pollUntil(15_000, 'the old password refused', async () => {
        const res = await rawPost(p, tenant.slug, toolsList(), session.headers);
        return res.status === 401 ? res : undefined;
      });
      expectRefused(tenant, refused);
      // The new password gets in (a session of its own).
      expectAccepted(await init(tenant, s.headersFor(name)));
    });
  });

  it('credential header values appear in no admin answer, audit event or log line', async () => {
    // Refusals are audited and logged too; make sure there are some.
    expectRefused(t, await init(t, svc.headersFor('alice', pass())));
    await waitForAudit(p, t.slug, (e) => e.action === 'tenant.auth');
    await sleep(1_500);
    const answers = [
      (await p.admin.request('GET', `/admin/tenants/${t.slug}/auth`)).text,
      (await p.admin.request('GET', `/admin/tenants/${t.slug}/audit?limit=200`)).text,
    ];
    for (const text of answers) for (const pw of passwords) expect(text).not.toContain(pw);
    expect(p.config.logFile).toBeDefined();
    const log = await readFile(p.config.logFile!, 'utf8');
    expect(log).toContain(t.slug);
    for (const pw of passwords) expect(log).not.toContain(pw);
  });
});
