import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { Request } from 'express';
import { Strategy } from 'passport-custom';
import { ApiKeyVerifier } from '../api-key.verifier';
import { extractCredential } from '../credentials';
import type { Principal } from '../principal';

export const API_KEY_STRATEGY = 'api-key';

@Injectable()
export class ApiKeyStrategy extends PassportStrategy(Strategy, API_KEY_STRATEGY) {
  constructor(private readonly verifier: ApiKeyVerifier) {
    super();
  }

  validate(req: Request): Promise<Principal> {
    return this.verifier.verify(extractCredential(req)?.value ?? '');
  }
}
