import { ServiceUnavailableException, UnauthorizedException } from '@nestjs/common';

/** Why a credential was refused: a small fixed set, used as a metric label and in the audit log. */
export type RefusalReason =
  | 'missing'
  | 'query_string'
  | 'malformed'
  | 'invalid'
  | 'revoked'
  | 'expired'
  | 'wrong_tenant'
  | 'jwt_rejected'
  | 'no_identity_provider'
  | 'token_inactive'
  | 'external_rejected';

export class CredentialRefused extends UnauthorizedException {
  constructor(
    readonly reason: RefusalReason,
    message: string,
  ) {
    super(message);
  }
}

export function refusalReason(err: unknown): RefusalReason {
  return err instanceof CredentialRefused ? err.reason : 'invalid';
}

/**
 * The service that checks a credential (an introspection endpoint, a tenant's auth service) is
 * down, slow or answering nonsense: a 503 with Retry-After, never a 500 and never an accept.
 */
export class AuthUnavailable extends ServiceUnavailableException {
  constructor(
    message: string,
    readonly retryAfterSeconds = 5,
  ) {
    super(message);
  }
}
