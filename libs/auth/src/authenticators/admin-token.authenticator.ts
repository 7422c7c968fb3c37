import { Injectable } from '@nestjs/common';
import { looksLikeApiKey } from '@app/tenancy';
import { AdminTokenService } from '../admin-token.service';
import type { Principal } from '../principal';
import { CredentialRefused } from '../refusal';
import { type AuthAttempt, type Authenticator, looksLikeJwt } from './authenticator';

const PLATFORM_ADMIN: Principal = Object.freeze({
  kind: 'platform-admin',
  id: 'platform-admin',
  tenantId: null,
  scopes: Object.freeze([]),
});

/**
 * The platform admin token: an opaque bearer. On the routes of a tenant that introspects opaque
 * tokens, only the admin token itself is taken here; any other opaque bearer is the tenant's.
 */
@Injectable()
export class AdminTokenAuthenticator implements Authenticator {
  readonly kind = 'admin-token';

  constructor(private readonly adminToken: AdminTokenService) {}

  async accepts({ bearer, tenant }: AuthAttempt): Promise<boolean> {
    if (!bearer || looksLikeApiKey(bearer) || looksLikeJwt(bearer)) return false;
    if (!(await tenant())?.settings.auth?.introspection) return true;
    return this.adminToken.verify(bearer);
  }

  authenticate({ bearer }: AuthAttempt): Promise<Principal> {
    if (!bearer || !this.adminToken.verify(bearer)) {
      return Promise.reject(new CredentialRefused('invalid', 'bearer token is not valid'));
    }
    return Promise.resolve(PLATFORM_ADMIN);
  }
}
