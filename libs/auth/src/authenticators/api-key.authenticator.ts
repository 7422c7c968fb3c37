import { Injectable } from '@nestjs/common';
import { looksLikeApiKey } from '@app/tenancy';
import { ApiKeyVerifier } from '../api-key.verifier';
import { apiKeyHeader } from '../credentials';
import type { Principal } from '../principal';
import type { AuthAttempt, Authenticator } from './authenticator';

/** The tenant's API keys: in `X-API-Key`, or as a bearer token of the key's shape. */
@Injectable()
export class ApiKeyAuthenticator implements Authenticator {
  readonly kind = 'api-key';

  constructor(private readonly verifier: ApiKeyVerifier) {}

  accepts({ req, bearer }: AuthAttempt): boolean {
    return apiKeyHeader(req) !== undefined || (!!bearer && looksLikeApiKey(bearer));
  }

  authenticate({ req, bearer }: AuthAttempt): Promise<Principal> {
    return this.verifier.verify(apiKeyHeader(req) ?? bearer ?? '');
  }
}
