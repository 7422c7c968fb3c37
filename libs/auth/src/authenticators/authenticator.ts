import type { Request } from 'express';
import type { Tenant } from '@app/tenancy';
import type { Principal } from '../principal';

/** What an authenticator is given: the request, its bearer token, and the route's tenant. */
export interface AuthAttempt {
  readonly req: Request;
  /** The token of `Authorization: Bearer <token>`; undefined when there is no such header. */
  readonly bearer: string | undefined;
  /**
   * The tenant the route's `:tenant` names (undefined: no `:tenant`, or no such tenant), read once
   * per request by the TenantResolver however many authenticators ask.
   */
  tenant(): Promise<Tenant | undefined>;
}

/**
 * One kind of credential. The global guard asks each authenticator, in the order of the
 * AUTHENTICATORS list, whether the request carries its kind (`accepts`: headers and tenant settings
 * only, nothing verified); the first that does authenticates it, and no other is tried.
 * `authenticate` resolves to the principal or throws a `CredentialRefused` (401, with a reason) or
 * an `AuthUnavailable` (503 + Retry-After: whatever checks the credential cannot answer now).
 */
export interface Authenticator {
  /** A short name: the refusal metrics and logs use it. */
  readonly kind: string;
  accepts(attempt: AuthAttempt): boolean | Promise<boolean>;
  authenticate(attempt: AuthAttempt): Promise<Principal>;
}

/** The Nest token of the ordered authenticator list (see AuthModule). */
export const AUTHENTICATORS = Symbol('AUTHENTICATORS');

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;

/** Three base64url segments: a JWS compact serialization, by shape alone. */
export function looksLikeJwt(token: string): boolean {
  return JWT_SHAPE.test(token);
}
