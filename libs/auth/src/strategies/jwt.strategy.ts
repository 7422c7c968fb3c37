import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { Request } from 'express';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { PlatformConfig } from '@app/config';
import { resourceUrl } from '../challenge';
import { JWT_ALGORITHMS, JwksCache, JwtRejected } from '../jwks-cache';
import type { Principal } from '../principal';

export const JWT_STRATEGY = 'jwt';

interface Claims {
  iss?: unknown;
  sub?: unknown;
  aud?: unknown;
  exp?: unknown;
  scope?: unknown;
  scp?: unknown;
  [claim: string]: unknown;
}

/**
 * The principal's scopes: `scope` or `scp` by default, else the configured claim, which may be a
 * dotted path into nested claims (Keycloak's `realm_access.roles`); a top-level claim whose name
 * contains the dots wins. Space-separated strings and string arrays are understood.
 */
export function scopesFrom(claims: Claims, claim: string | undefined): string[] {
  const raw = claim ? claimAt(claims, claim) : (claims.scope ?? claims.scp);
  if (typeof raw === 'string') return raw.split(' ').filter(Boolean);
  if (Array.isArray(raw)) return raw.filter((s): s is string => typeof s === 'string');
  return [];
}

function claimAt(claims: Claims, path: string): unknown {
  if (Object.hasOwn(claims, path)) return claims[path];
  let at: unknown = claims;
  for (const part of path.split('.')) {
    if (typeof at !== 'object' || at === null || Array.isArray(at) || !Object.hasOwn(at, part)) {
      return undefined;
    }
    at = (at as Record<string, unknown>)[part];
  }
  return at;
}

/**
 * Bearer JWTs from the tenant's own identity provider. passport-jwt (jsonwebtoken) checks the
 * signature, `exp` and `nbf` with the key the JwksCache finds; issuer, audience (RFC 8707: the
 * tenant's resource URL, or its configured audience) and a required `exp` are checked here.
 * The token is never sent anywhere.
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, JWT_STRATEGY) {
  constructor(
    private readonly config: PlatformConfig,
    jwks: JwksCache,
  ) {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      passReqToCallback: true,
      algorithms: [...JWT_ALGORITHMS],
      jsonWebTokenOptions: { clockTolerance: 30 },
      secretOrKeyProvider: (
        req: Request,
        token: string,
        done: (err: unknown, key?: string) => void,
      ) => {
        const settings = req.tenant?.settings.auth?.jwt;
        if (!settings) {
          done(new JwtRejected('this tenant has no identity provider configured; use an API key'));
          return;
        }
        jwks.keyFor(settings, token).then(
          // jsonwebtoken takes a KeyObject as well as PEM; the typings only know the latter.
          (key) => done(null, key as unknown as string),
          (err: unknown) =>
            done(err instanceof JwtRejected ? err : new JwtRejected('signing key lookup failed')),
        );
      },
    });
  }

  validate(req: Request, claims: Claims): Principal {
    const tenant = req.tenant!;
    const settings = tenant.settings.auth!.jwt!;
    if (claims.iss !== settings.issuer)
      throw new JwtRejected('issuer is not this tenant’s identity provider');
    const expected = [resourceUrl(this.config.publicUrl, tenant.slug), settings.audience].filter(
      Boolean,
    );
    const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!audiences.some((a) => expected.includes(a as string))) {
      throw new JwtRejected(`audience must be ${expected.join(' or ')}`);
    }
    if (typeof claims.exp !== 'number') throw new JwtRejected('token has no expiry (exp)');
    if (typeof claims.sub !== 'string' || !claims.sub)
      throw new JwtRejected('token has no subject (sub)');
    return {
      kind: 'jwt',
      id: `${settings.issuer}#${claims.sub}`,
      tenantId: tenant.id,
      scopes: scopesFrom(claims, settings.scopesClaim),
      tools: null,
      resources: null,
      prompts: null,
      expiresAt: claims.exp * 1000,
    };
  }
}
