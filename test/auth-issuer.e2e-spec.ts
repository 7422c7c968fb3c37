import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { readFile } from 'node:fs/promises';
import { waitForAudit } from './support/audit';
import { freePort, pollUntil, type RawResponse, sleep } from './support/http';
import {
  expectAccepted,
  expectAuthUnavailable,
  expectBearerRefused,
  expectErrorBody,
  initWithToken,
  putTenantAuth,
  tenantWithAuth,
  withClockAhead,
} from './support/hostile';
import {
  bearer,
  builtInToolNames,
  builtInToolsFor,
  PROTOCOL_VERSION,
  rawInitialize,
  rawPost,
  toolsList,
} from './support/mcp';
import {
  type OidcProvider,
  type OidcProviderOptions,
  startOidcProvider,
  useOidcProvider,
} from './support/oidc-provider';
import { usePlatform } from './support/platform';

type Tenant = { slug: string; id: string; aud: string };

const whoami = async (client: Client) =>
  (await client.callTool({ name: 'whoami', arguments: {} })).structuredContent as {
    tenant: string;
    kind: string;
    id: string;
    scopes: string[];
  };

/** Past the platform's 30 s windows (JWKS refetch cooldown, introspection cache), by the clock. */
const PAST_WINDOWS_MS = 31_000;

describe('tenant identity provider by issuer: discovery, JWTs and introspected opaque tokens', () => {
  const p = usePlatform();
  const op = useOidcProvider({ tokenClients: ['mcp-app', 'mcp-other'] });
  const extra: OidcProvider[] = [];
  /** A provider of its own for a test that breaks it; stopped after the file. */
  const provider = async (opts?: OidcProviderOptions) => {
    const started = await startOidcProvider(opts);
    extra.push(started);
    return started;
  };
  afterAll(() => Promise.all(extra.map((e) => e.stop())));

  /** jwt by issuer alone, plus introspection at the same provider. */
  const authOf = (o: OidcProvider) => ({
    jwt: { issuer: o.issuer },
    introspection: o.introspectionSettings(),
  });

  let t: Tenant;
  let other: Tenant;
  beforeAll(async () => {
    t = await tenantWithAuth(p, authOf(op), 'iss');
    other = await tenantWithAuth(p, authOf(op), 'iss-other');
  });

  describe('configured by issuer alone', () => {
    it('lets an SDK client in with a provider JWT; it sees exactly its scopes’ tools', async () => {
      const token = await op.token({
        resource: t.aud,
        scope: 'math:use notes:read',
        format: 'jwt',
      });
      expect(token.split('.')).toHaveLength(3);
      const client = await p.connect(t.slug, bearer(token));
      expect(await builtInToolNames(client)).toEqual(builtInToolsFor(['math:use', 'notes:read']));
      expect(await whoami(client)).toMatchObject({
        tenant: t.slug,
        kind: 'jwt',
        id: `${op.issuer}#mcp-app`,
        scopes: ['math:use', 'notes:read'],
      });
      const sum = await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } });
      expect(JSON.stringify(sum.content)).toContain('42');
      // The keys came from the jwks_uri of the issuer's discovery document.
      expect(op.count('/jwks')).toBeGreaterThanOrEqual(1);
      expect(op.count('/.well-known/openid-configuration')).toBeGreaterThanOrEqual(1);
    });

    it('lets an SDK client in with an opaque token, checked by introspection', async () => {
      const before = op.count('/token/introspection');
      const token = await op.token({ resource: t.aud, scope: 'notes:read', format: 'opaque' });
      expect(token).not.toContain('.');
      const client = await p.connect(t.slug, bearer(token));
      expect(await builtInToolNames(client)).toEqual(builtInToolsFor(['notes:read']));
      const who = await whoami(client);
      expect(who).toMatchObject({ tenant: t.slug, kind: 'introspection', scopes: ['notes:read'] });
      expect(who.id).toEqual(expect.any(String));
      expect(op.count('/token/introspection')).toBeGreaterThan(before);
      // A tool outside its scopes is refused as for any other credential.
      const denied = await rawPost(
        p,
        t.slug,
        {
          jsonrpc: '2.0',
          id: 9,
          method: 'tools/call',
          params: { name: 'add', arguments: { a: 1, b: 2 } },
        },
        { ...bearer(token), ...PROTOCOL_VERSION },
      );
      expect(denied.status).toBeGreaterThanOrEqual(400);
      expect(denied.status).toBeLessThan(500);
    });

    it('names the issuer in the resource metadata', async () => {
      const meta = await p
        .http()
        .get(`/.well-known/oauth-protected-resource/t/${t.slug}/mcp`)
        .expect(200);
      expect(meta.body.authorization_servers).toEqual([op.issuer]);
      expect(meta.body.resource).toBe(t.aud);
    });

    it('refuses a JWT and an opaque token whose audience is another resource', async () => {
      for (const resource of ['https://elsewhere.example/mcp', other.aud]) {
        const jwt = await op.token({ resource, scope: 'math:use', format: 'jwt' });
        expectBearerRefused(p, t.slug, await initWithToken(p, t.slug, jwt), /audience/);
        const opaque = await op.token({ resource, scope: 'math:use', format: 'opaque' });
        expectBearerRefused(p, t.slug, await initWithToken(p, t.slug, opaque), /./);
      }
      // The tokens meant for the other tenant work there (it trusts the same provider).
      expectAccepted(
        await initWithToken(
          p,
          other.slug,
          await op.token({ resource: other.aud, format: 'opaque' }),
        ),
      );
      expectAccepted(
        await initWithToken(p, other.slug, await op.token({ resource: other.aud, format: 'jwt' })),
      );
    });

    it('refuses opaque tokens the provider does not know, and garbage', async () => {
      for (const token of ['not-a-token-at-all', 'x'.repeat(200), 'AbCdEf0123456789_-AbCdEf']) {
        const res = await initWithToken(p, t.slug, token);
        expectBearerRefused(p, t.slug, res, /./);
      }
    });

    it('binds a session to the principal whose token opened it', async () => {
      const mine = await op.token({ resource: t.aud, format: 'opaque', client: 'mcp-app' });
      const theirs = await op.token({ resource: t.aud, format: 'opaque', client: 'mcp-other' });
      const session = await rawInitialize(p, t.slug, bearer(mine));
      const asOther = await rawPost(p, t.slug, toolsList(), {
        ...session.headers,
        ...bearer(theirs),
      });
      expect(asOther.status).toBe(404);
      // The same with a JWT of the other client.
      const theirJwt = await op.token({ resource: t.aud, format: 'jwt', client: 'mcp-other' });
      const asOtherJwt = await rawPost(p, t.slug, toolsList(), {
        ...session.headers,
        ...bearer(theirJwt),
      });
      expect(asOtherJwt.status).toBe(404);
      // The session itself goes on for its own principal.
      expect((await rawPost(p, t.slug, toolsList(), session.headers)).status).toBe(200);
    });
  });

  describe('the settings as the admin API shows them', () => {
    it('GET shows the issuer and that a client secret is set, never the secret', async () => {
      const res = await p.admin.request('GET', `/admin/tenants/${t.slug}/auth`);
      expect(res.status).toBe(200);
      const body = res.json as Record<string, Record<string, unknown>>;
      expect(body.jwt).toMatchObject({ issuer: op.issuer });
      expect(body.introspection).toMatchObject({
        endpoint: op.introspectionEndpoint,
        clientId: op.introspectionClient.clientId,
        clientSecretSet: true,
      });
      expect(body.introspection).not.toHaveProperty('clientSecret');
      expect(res.text).not.toContain(op.introspectionClient.clientSecret);
    });

    it('the secret is in no admin answer, audit event or log line; neither are the tokens', async () => {
      const { slug, aud } = await tenantWithAuth(p, authOf(op), 'iss-secret');
      const put = await putTenantAuth(p, slug, authOf(op));
      expect(put.status).toBe(200);
      // Without clientSecret the stored one is kept: still set, still working.
      const keep = await putTenantAuth(p, slug, {
        introspection: {
          endpoint: op.introspectionEndpoint,
          clientId: op.introspectionClient.clientId,
        },
      });
      expect(keep.status).toBe(200);
      expect((keep.json as { introspection: unknown }).introspection).toMatchObject({
        clientSecretSet: true,
      });
      const opaque = await op.token({ resource: aud, scope: 'math:use', format: 'opaque' });
      expectAccepted(await initWithToken(p, slug, opaque));
      const jwt = await op.token({ resource: aud, format: 'jwt' });
      expectAccepted(await initWithToken(p, slug, jwt));
      // A refused token is logged and audited too; it must not carry the token either.
      const foreign = await op.token({ resource: other.aud, format: 'opaque' });
      expectBearerRefused(p, slug, await initWithToken(p, slug, foreign), /./);

      await waitForAudit(p, slug, (e) => e.action === 'tenant.auth', { count: 3 });
      const answers = [
        put.text,
        keep.text,
        (await p.admin.request('GET', `/admin/tenants/${slug}/auth`)).text,
        (await p.admin.request('GET', `/admin/tenants/${slug}`)).text,
        (await p.admin.request('GET', `/admin/tenants/${slug}/audit?limit=200`)).text,
      ];
      for (const text of answers) {
        expect(text).not.toContain(op.introspectionClient.clientSecret);
        expect(text).not.toContain(opaque);
        expect(text).not.toContain(foreign);
      }
      expect(p.config.logFile).toBeDefined();
      await sleep(300);
      const log = await readFile(p.config.logFile!, 'utf8');
      expect(log).toContain(slug);
      expect(log).not.toContain(op.introspectionClient.clientSecret);
      expect(log).not.toContain(opaque);
      expect(log).not.toContain(foreign);
      expect(log).not.toContain(jwt);
    });

    it('requires clientSecret the first time introspection is set', async () => {
      const { slug } = await p.admin.createTenant('iss-nosecret');
      const res = await putTenantAuth(p, slug, {
        introspection: {
          endpoint: op.introspectionEndpoint,
          clientId: op.introspectionClient.clientId,
        },
      });
      expect(res.status).toBe(400);
      expectErrorBody(400, res.json);
      expect((res.json as { message: string }).message).toMatch(/clientSecret/);
      const after = await p.admin.request('GET', `/admin/tenants/${slug}/auth`);
      expect((after.json as { introspection: unknown }).introspection ?? null).toBeNull();
    });
  });

  describe('checked when saved', () => {
    /** The tenant's settings must be as they were before a refused PUT. */
    const refusedAndUnchanged = async (
      slug: string,
      body: Record<string, unknown>,
      status: number,
      message: RegExp,
    ) => {
      const before = (await p.admin.request('GET', `/admin/tenants/${slug}/auth`)).json;
      const res = await putTenantAuth(p, slug, body);
      if (res.status !== status) {
        throw new Error(`PUT auth: expected ${status} but got ${res.status}: ${res.text}`);
      }
      expectErrorBody(status, res.json);
      expect((res.json as { message: string }).message).toMatch(message);
      expect((await p.admin.request('GET', `/admin/tenants/${slug}/auth`)).json).toEqual(before);
      return res;
    };

    it('an issuer whose metadata names another issuer: 400 naming jwt.issuer', async () => {
      const liar = await provider();
      const { slug } = await tenantWithAuth(p, { jwt: { issuer: op.issuer } }, 'iss-liar');
      for (const claimed of ['https://login.example.com', op.issuer]) {
        liar.setMetadataIssuer(claimed);
        await refusedAndUnchanged(slug, { jwt: { issuer: liar.issuer } }, 400, /jwt\.issuer/);
      }
      // Honest again: accepted.
      liar.setMetadataIssuer(undefined);
      expect((await putTenantAuth(p, slug, { jwt: { issuer: liar.issuer } })).status).toBe(200);
    });

    it('an issuer whose metadata names a near miss of it (trailing slash, upper case): 400', async () => {
      // Discovery requires the document's issuer to be identical to the configured one: the
      // tokens' iss is compared as a string, so a near miss would accept a tenant whose every
      // token is then refused.
      const liar = await provider();
      const { slug } = await p.admin.createTenant('iss-nearmiss');
      for (const claimed of [`${liar.issuer}/`, liar.issuer.replace('http://', 'HTTP://')]) {
        liar.setMetadataIssuer(claimed);
        await refusedAndUnchanged(slug, { jwt: { issuer: liar.issuer } }, 400, /jwt\.issuer/).catch(
          (err: Error) => {
            throw new Error(`metadata issuer ${claimed} for ${liar.issuer}: ${err.message}`);
          },
        );
      }
    });

    it('an issuer that serves no metadata document: 400 naming jwt.issuer', async () => {
      const broken = await provider();
      const { slug } = await p.admin.createTenant('iss-nodoc');
      for (const junk of [
        () => '<html><body>It works!</body></html>',
        () => ({ hello: 'world' }),
        () => [],
        (doc: Record<string, unknown>) => ({ ...doc, jwks_uri: undefined }),
      ]) {
        broken.setMetadata(junk);
        await refusedAndUnchanged(slug, { jwt: { issuer: broken.issuer } }, 400, /jwt\.issuer/);
      }
    });

    it('an issuer nobody answers for: 502 naming jwt.issuer', async () => {
      const { slug } = await p.admin.createTenant('iss-gone');
      const nobody = `http://127.0.0.1:${await freePort()}`;
      await refusedAndUnchanged(slug, { jwt: { issuer: nobody } }, 502, /jwt\.issuer/);
    });

    it('an issuer with RFC 8414 metadata only: found there, and its tokens accepted', async () => {
      const oauthOnly = await provider();
      oauthOnly.setDiscovery('oauth-only');
      const tenant = await tenantWithAuth(p, { jwt: { issuer: oauthOnly.issuer } }, 'iss-8414');
      expect(oauthOnly.count('/.well-known/oauth-authorization-server')).toBeGreaterThanOrEqual(1);
      const token = await oauthOnly.token({ resource: tenant.aud, scope: 'math:use' });
      const client = await p.connect(tenant.slug, bearer(token));
      expect(await builtInToolNames(client)).toEqual(builtInToolsFor(['math:use']));
    });

    it('introspection client credentials the endpoint refuses: 400', async () => {
      const { slug } = await p.admin.createTenant('iss-badclient');
      for (const body of [
        op.introspectionSettings({ clientSecret: 'upstream-secret-0123456789abcdef' }),
        op.introspectionSettings({ clientId: 'no-such-client' }),
      ]) {
        const res = await refusedAndUnchanged(slug, { introspection: body }, 400, /introspection/);
        expect(res.text).not.toContain('upstream-secret-0123456789abcdef');
      }
    });

    it('an introspection endpoint nobody answers for: 502', async () => {
      const { slug } = await p.admin.createTenant('iss-noendpoint');
      const endpoint = `http://127.0.0.1:${await freePort()}/token/introspection`;
      await refusedAndUnchanged(
        slug,
        { introspection: op.introspectionSettings({ endpoint }) },
        502,
        /introspection/,
      );
    });

    it('http only on loopback, for the issuer and the introspection endpoint', async () => {
      const { slug } = await p.admin.createTenant('iss-http');
      await refusedAndUnchanged(
        slug,
        { jwt: { issuer: 'http://login.example.com' } },
        400,
        /issuer/,
      );
      await refusedAndUnchanged(
        slug,
        {
          introspection: op.introspectionSettings({
            endpoint: 'http://login.example.com/introspect',
          }),
        },
        400,
        /endpoint/,
      );
    });
  });

  describe('the provider rotates its signing key', () => {
    it('tokens signed with the new key are accepted after the unknown-kid refetch', async () => {
      const rot = await provider();
      const tenant = await tenantWithAuth(p, { jwt: { issuer: rot.issuer } }, 'iss-rot');
      const oldToken = await rot.token({ resource: tenant.aud, scope: 'math:use' });
      expectAccepted(await initWithToken(p, tenant.slug, oldToken));
      const [oldKid] = rot.kids();
      const fetched = rot.count('/jwks');

      const newKid = await rot.rotateKeys();
      expect(rot.kids()).toEqual([newKid]);
      await withClockAhead(PAST_WINDOWS_MS, async () => {
        const newToken = await rot.token({ resource: tenant.aud, scope: 'math:use' });
        const header = JSON.parse(Buffer.from(newToken.split('.')[0], 'base64url').toString()) as {
          kid: string;
        };
        expect(header.kid).toBe(newKid);
        expect(header.kid).not.toBe(oldKid);
        const client = await p.connect(tenant.slug, bearer(newToken));
        expect(await builtInToolNames(client)).toEqual(builtInToolsFor(['math:use']));
        expect(rot.count('/jwks')).toBeGreaterThan(fetched);
        // The old key is no longer published: its token is refused now.
        expectBearerRefused(p, tenant.slug, await initWithToken(p, tenant.slug, oldToken), /./);
      });
    });

    it('a rotation that keeps the old key: tokens of both keys are accepted', async () => {
      const rot = await provider({ alg: 'ES256' });
      const tenant = await tenantWithAuth(p, { jwt: { issuer: rot.issuer } }, 'iss-rot2');
      const oldToken = await rot.token({ resource: tenant.aud });
      expectAccepted(await initWithToken(p, tenant.slug, oldToken));
      await rot.rotateKeys({ keepOld: true });
      expect(rot.kids()).toHaveLength(2);
      await withClockAhead(PAST_WINDOWS_MS, async () => {
        const newToken = await rot.token({ resource: tenant.aud });
        expectAccepted(await initWithToken(p, tenant.slug, newToken));
        expectAccepted(await initWithToken(p, tenant.slug, oldToken));
      });
    });
  });

  describe('the provider goes down and comes back', () => {
    it('a new opaque token gets 503 with Retry-After; cached JWT keys keep working; then it recovers', async () => {
      const flaky = await provider();
      const tenant = await tenantWithAuth(p, authOf(flaky), 'iss-flaky');
      const usedJwt = await flaky.token({ resource: tenant.aud, scope: 'math:use', format: 'jwt' });
      expectAccepted(await initWithToken(p, tenant.slug, usedJwt));
      const unusedJwt = await flaky.token({ resource: tenant.aud, format: 'jwt' });
      const freshOpaque = await flaky.token({
        resource: tenant.aud,
        scope: 'notes:read',
        format: 'opaque',
      });

      await flaky.stop();
      for (let i = 0; i < 3; i++) {
        expectAuthUnavailable(await initWithToken(p, tenant.slug, freshOpaque));
      }
      // The keys of the JWTs were fetched before the outage: they still verify.
      expectAccepted(await initWithToken(p, tenant.slug, usedJwt));
      expectAccepted(await initWithToken(p, tenant.slug, unusedJwt));
      // API keys of the tenant are not affected at all.
      const key = await p.admin.createKey(tenant.slug, { scopes: ['math:use'] });
      expectAccepted(await initWithToken(p, tenant.slug, key.secret));

      await flaky.restart();
      const back = await pollUntil(40_000, 'the opaque token accepted once back', async () => {
        const res = await initWithToken(p, tenant.slug, freshOpaque);
        return res.status === 200 ? res : undefined;
      });
      expectAccepted(back);
      const client = await p.connect(tenant.slug, bearer(freshOpaque));
      expect(await whoami(client)).toMatchObject({ kind: 'introspection', scopes: ['notes:read'] });
    }, 90_000);

    it('a burst of new opaque tokens while the provider is down: every one 503, never 500 or 2xx', async () => {
      const flaky = await provider();
      const tenant = await tenantWithAuth(p, authOf(flaky), 'iss-flaky2');
      const tokens = await Promise.all(
        Array.from({ length: 5 }, () => flaky.token({ resource: tenant.aud, format: 'opaque' })),
      );
      await flaky.stop();
      const answers = await Promise.all(tokens.map((tk) => initWithToken(p, tenant.slug, tk)));
      for (const res of answers) expectAuthUnavailable(res);
      await flaky.restart();
    });
  });

  describe('revocation at the provider', () => {
    it('a revoked opaque token is refused once the cached answer has expired', async () => {
      const rev = await provider();
      const tenant = await tenantWithAuth(p, authOf(rev), 'iss-revoke');
      const token = await rev.token({ resource: tenant.aud, scope: 'math:use', format: 'opaque' });
      const session = await rawInitialize(p, tenant.slug, bearer(token));
      expect((await rawPost(p, tenant.slug, toolsList(), session.headers)).status).toBe(200);

      await rev.revoke(token);
      expect(await rev.introspect(token)).toEqual({ active: false });
      // Cached for at most 30 s; moving the clock past that (and waiting as long, for a cache
      // with a clock of its own) the platform asks again and hears that it is inactive.
      const refused: RawResponse = await pollUntil(45_000, 'the revoked token refused', () =>
        withClockAhead(PAST_WINDOWS_MS, async () => {
          const res = await initWithToken(p, tenant.slug, token);
          return res.status === 401 ? res : undefined;
        }),
      );
      expectBearerRefused(p, tenant.slug, refused, /./);
      // Every request is checked: the session it opened is no way around the revocation.
      await withClockAhead(PAST_WINDOWS_MS, async () => {
        const inSession = await rawPost(p, tenant.slug, toolsList(), session.headers);
        expect(inSession.status).toBe(401);
      });
    }, 90_000);
  });
});
