import type { Request } from 'express';
import { generateApiKey, Tenant, type TenantAuthSettings } from '@app/tenancy';
import type { AdminTokenService } from '../admin-token.service';
import { CredentialRefused } from '../refusal';
import { AdminTokenAuthenticator } from './admin-token.authenticator';
import type { AuthAttempt } from './authenticator';

const ADMIN_TOKEN = 'adm_4f1c2a9e7b3d5f60812a4c6e8b0d2f41';
const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln';

/** The admin token service, a collaborator: the one token it knows, and the tokens it was shown. */
class FakeAdminToken {
  readonly shown: string[] = [];

  verify(token: string): boolean {
    this.shown.push(token);
    return token === ADMIN_TOKEN;
  }
}

function tenantWith(auth?: TenantAuthSettings): Tenant {
  return Object.assign(new Tenant(), {
    id: '5b0e7c4e-0000-4000-8000-000000000001',
    slug: 'acme',
    name: 'Acme',
    status: 'active',
    settings: auth ? { auth } : {},
  });
}

const INTROSPECTING = tenantWith({
  introspection: {
    endpoint: 'https://idp.example/introspect',
    clientId: 'mcp',
    clientSecretSealed: 'sealed',
  },
});

function attempt(bearer: string | undefined, tenant?: Tenant) {
  const asked = { tenant: 0 };
  const value: AuthAttempt = {
    req: { headers: {} } as Request,
    bearer,
    tenant: () => {
      asked.tenant += 1;
      return Promise.resolve(tenant);
    },
  };
  return Object.assign(value, { asked });
}

describe(AdminTokenAuthenticator.name, () => {
  let adminToken: FakeAdminToken;
  let sut: AdminTokenAuthenticator;

  beforeEach(() => {
    adminToken = new FakeAdminToken();
    sut = new AdminTokenAuthenticator(adminToken as unknown as AdminTokenService);
  });

  it('is the admin-token authenticator', () => {
    expect(sut.kind).toBe('admin-token');
  });

  describe('accepts', () => {
    it.each([
      ['on a route without a tenant', undefined],
      ['on a tenant without introspection', tenantWith()],
      ['on a tenant with an issuer only', tenantWith({ jwt: { issuer: 'https://idp.example' } })],
    ])('any opaque bearer %s: the admin token, or a wrong one to refuse', async (_what, tenant) => {
      await expect(sut.accepts(attempt(ADMIN_TOKEN, tenant))).resolves.toBe(true);
      await expect(sut.accepts(attempt('a-wrong-guess', tenant))).resolves.toBe(true);
    });

    it('on a tenant that introspects opaque tokens, the admin token itself', async () => {
      await expect(sut.accepts(attempt(ADMIN_TOKEN, INTROSPECTING))).resolves.toBe(true);
    });

    it('on a tenant that introspects opaque tokens, no other opaque bearer: those are the tenant’s', async () => {
      await expect(sut.accepts(attempt('tenant-opaque-token', INTROSPECTING))).resolves.toBe(false);
      expect(adminToken.shown).toEqual(['tenant-opaque-token']);
    });

    it.each([
      ['no bearer', undefined],
      ['an API key', generateApiKey().token],
      ['a JWT', JWT],
    ])('not %s, without reading the tenant', async (_what, bearer) => {
      const a = attempt(bearer, tenantWith());

      await expect(sut.accepts(a)).resolves.toBe(false);

      expect(a.asked.tenant).toBe(0);
      expect(adminToken.shown).toEqual([]);
    });
  });

  describe('authenticate', () => {
    it('resolves the admin token to the platform admin, of no tenant and no scopes', async () => {
      await expect(sut.authenticate(attempt(ADMIN_TOKEN))).resolves.toEqual({
        kind: 'platform-admin',
        id: 'platform-admin',
        tenantId: null,
        scopes: [],
      });
    });

    it.each([
      ['a wrong token', 'a-wrong-guess'],
      ['the admin token with a character more', `${ADMIN_TOKEN}x`],
      ['no bearer', undefined],
    ])('refuses %s as invalid', async (_what, bearer) => {
      const err: unknown = await sut.authenticate(attempt(bearer)).catch((e: unknown) => e);

      expect(err).toBeInstanceOf(CredentialRefused);
      expect((err as CredentialRefused).reason).toBe('invalid');
      expect((err as CredentialRefused).getStatus()).toBe(401);
      expect((err as CredentialRefused).message).toBe('bearer token is not valid');
    });
  });
});
