import { UnauthorizedException } from '@nestjs/common';

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
  | 'no_identity_provider';

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
