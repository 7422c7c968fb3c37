import { Injectable } from '@nestjs/common';
import { PlatformConfig } from '@app/config';
import type { Tenant, TenantJwtSettings } from '@app/tenancy';
import { resourceUrl } from '../challenge';
import { type Jose, loadJose } from '../esm';
import { DiscoveryFailed, IssuerMetadata } from '../issuer-metadata';
import { JWT_ALGORITHMS, JwksCache, JwksUnavailable } from '../jwks-cache';
import type { Principal } from '../principal';
import { CredentialRefused } from '../refusal';
import { type AuthAttempt, type Authenticator, looksLikeJwt } from './authenticator';
import { scopesFrom } from './scopes';

const CLOCK_TOLERANCE_S = 30;
const UNAVAILABLE = 'the identity provider’s signing keys could not be fetched; try again shortly';

/**
 * Bearer JWTs from the tenant's own identity provider, verified by jose: signature with a key from
 * the issuer's JWKS (configured, or discovered from the issuer's metadata), asymmetric algorithms
 * only, issuer, audience (RFC 8707: the tenant's resource URL, or its configured audience), a
 * required `exp` and `sub`, 30 s of clock tolerance. The token is never sent anywhere.
 */
@Injectable()
export class JwtAuthenticator implements Authenticator {
  readonly kind = 'jwt';

  constructor(
    private readonly config: PlatformConfig,
    private readonly jwks: JwksCache,
    private readonly metadata: IssuerMetadata,
  ) {}

  /** JWT-shaped bearers, unless the tenant introspects every token it has (no issuer configured). */
  async accepts({ bearer, tenant }: AuthAttempt): Promise<boolean> {
    if (!bearer || !looksLikeJwt(bearer)) return false;
    const auth = (await tenant())?.settings.auth;
    return !auth?.introspection || !!auth.jwt;
  }

  async authenticate({ bearer, tenant: tenantOf }: AuthAttempt): Promise<Principal> {
    const tenant = await tenantOf();
    const settings = tenant?.settings.auth?.jwt;
    if (!tenant || !settings) {
      throw new CredentialRefused(
        'no_identity_provider',
        'JWT bearer tokens are accepted only on the routes of a tenant with an identity provider configured',
      );
    }
    const jose = await loadJose();
    const claims = await this.verify(jose, bearer!, tenant, settings).catch((err: unknown) => {
      throw new CredentialRefused('jwt_rejected', `bearer token rejected: ${reasonOf(jose, err)}`);
    });
    return {
      kind: 'jwt',
      id: `${settings.issuer}#${claims.sub}`,
      tenantId: tenant.id,
      scopes: scopesFrom(claims, settings.scopesClaim),
      tools: null,
      resources: null,
      prompts: null,
      expiresAt: claims.exp! * 1000,
    };
  }

  private async verify(
    jose: typeof Jose,
    token: string,
    tenant: Tenant,
    settings: TenantJwtSettings,
  ): Promise<Jose.JWTPayload> {
    const allowed = settings.algorithms?.length ? settings.algorithms : [...JWT_ALGORITHMS];
    // Checked before any key is looked up: `none` and HMAC never reach the key set.
    let alg: unknown;
    let kid: unknown;
    try {
      ({ alg, kid } = jose.decodeProtectedHeader(token));
    } catch {
      throw new Rejected('not a valid token');
    }
    if (typeof alg !== 'string' || !allowed.includes(alg)) {
      throw new Rejected(
        `algorithm ${typeof alg === 'string' ? alg : '(none)'} is not accepted; use one of ${allowed.join(', ')}`,
      );
    }
    const audience = [resourceUrl(this.config.publicUrl, tenant.slug), settings.audience].filter(
      (a): a is string => !!a,
    );
    const jwksUri = await this.metadata.jwksUriFor(settings);
    const { payload } = await jose
      .jwtVerify(token, await this.jwks.lookup(jwksUri), {
        algorithms: allowed,
        issuer: settings.issuer,
        audience,
        clockTolerance: CLOCK_TOLERANCE_S,
        requiredClaims: ['exp', 'sub'],
      })
      .catch((err: unknown) => {
        if (err instanceof jose.errors.JWTClaimValidationFailed && err.claim === 'aud') {
          throw new Rejected(`audience must be ${audience.join(' or ')}`);
        }
        if (err instanceof jose.errors.JWKSNoMatchingKey && typeof kid === 'string') {
          throw new Rejected(`no signing key with kid "${kid}" at the identity provider`);
        }
        throw err;
      });
    if (typeof payload.sub !== 'string' || !payload.sub)
      throw new Rejected('token has no subject (sub)');
    return payload;
  }
}

class Rejected extends Error {}

/** A refusal reason a person can act on, from jose's error codes. */
function reasonOf(jose: typeof Jose, err: unknown): string {
  if (err instanceof Rejected) return err.message;
  if (err instanceof JwksUnavailable) return UNAVAILABLE;
  if (err instanceof DiscoveryFailed) {
    return `the identity provider’s metadata could not be used (${err.message}); try again shortly`;
  }
  const { errors } = jose;
  if (err instanceof errors.JWTExpired) return 'token has expired';
  if (err instanceof errors.JWTClaimValidationFailed) {
    const missing = err.reason === 'missing';
    switch (err.claim) {
      case 'iss':
        return 'issuer is not this tenant’s identity provider';
      case 'exp':
        return missing ? 'token has no expiry (exp)' : 'token expiry (exp) must be a number';
      case 'sub':
        return 'token has no subject (sub)';
      case 'nbf':
        return 'token is not yet valid (nbf)';
      default:
        return `claim ${err.claim} is not valid`;
    }
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return 'algorithm is not accepted';
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) {
    return 'no signing key matches the token at the identity provider';
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'invalid signature';
  if (err instanceof errors.JWTInvalid || err instanceof errors.JWSInvalid) {
    return 'not a valid token';
  }
  if (err instanceof errors.JWKSInvalid || err instanceof errors.JWKSTimeout) return UNAVAILABLE;
  if (err instanceof errors.JOSENotSupported || err instanceof TypeError) {
    return 'no signing key matches the token at the identity provider';
  }
  return UNAVAILABLE;
}
