import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { Request } from 'express';
import { Strategy } from 'passport-custom';
import { AdminTokenService } from '../admin-token.service';
import { extractCredential } from '../credentials';
import type { Principal } from '../principal';
import { CredentialRefused } from '../refusal';

export const ADMIN_TOKEN_STRATEGY = 'admin-token';

const PLATFORM_ADMIN: Principal = Object.freeze({
  kind: 'platform-admin',
  id: 'platform-admin',
  tenantId: null,
  scopes: Object.freeze([]),
});

@Injectable()
export class AdminTokenStrategy extends PassportStrategy(Strategy, ADMIN_TOKEN_STRATEGY) {
  constructor(private readonly adminToken: AdminTokenService) {
    super();
  }

  validate(req: Request): Principal {
    const token = extractCredential(req)?.value ?? '';
    if (!token || !this.adminToken.verify(token)) {
      throw new CredentialRefused('invalid', 'bearer token is not valid');
    }
    return PLATFORM_ADMIN;
  }
}
