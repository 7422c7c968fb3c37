import { createPublicKey, KeyObject } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { EgressPolicy, readBodyCapped } from '@app/egress';
import { ChangeFeed, type ReplicaTopic, type TenantJwtSettings } from '@app/tenancy';

/** Asymmetric algorithms only: `none` and every HMAC algorithm are refused before any key lookup. */
export const JWT_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
] as const;
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

const FRESH_FOR_MS = 10 * 60_000;
const MIN_REFETCH_INTERVAL_MS = 30_000;
const FETCH_TIMEOUT_MS = 3_000;
/** After a failed fetch of a provider with no keys cached: 5 s, doubling per failure, up to 30 s. */
const NEGATIVE_TTL_MS = 5_000;
const MAX_NEGATIVE_TTL_MS = 30_000;
const MAX_JWKS_BYTES = 256 * 1024;

interface KeySet {
  keys: Map<string, KeyObject>;
  fetchedAt: number;
}

interface Entry {
  set?: KeySet;
  lastAttempt: number;
  inflight?: Promise<KeySet>;
  /** Failed fetches in a row, and until when no fetch is tried (negative caching). */
  failures: number;
  failedUntil: number;
}

export class JwtRejected extends Error {}

function decodeHeader(token: string): { kid?: string; alg?: string } {
  try {
    const part = token.split('.')[0] ?? '';
    const header = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;
    return typeof header === 'object' && header ? header : {};
  } catch {
    return {};
  }
}

/**
 * Signing keys of tenants' identity providers. Keys are fetched with a timeout, kept after they go
 * stale so an unreachable provider does not lock users out, refreshed after ten minutes, and
 * refetched for an unknown `kid` at most once per 30 seconds per provider. A failed fetch is
 * remembered per JWKS URI (5 s, doubling per further failure up to 30 s): meanwhile a provider
 * with no cached keys refuses tokens at once with the same reason, without a fetch, so anonymous
 * traffic naming a broken or slow provider cannot turn into one outbound request per request.
 * Requests arriving while a fetch runs wait for that one fetch.
 */
@Injectable()
export class JwksCache {
  private readonly logger = new Logger(JwksCache.name);
  private readonly entries = new Map<string, Entry>();
  private readonly forgotten?: ReplicaTopic<{ jwksUri: string }>;

  /** Without a change feed (unit specs), forget() acts on this process only. */
  constructor(
    private readonly egress: EgressPolicy,
    changes?: ChangeFeed,
  ) {
    this.forgotten = changes?.topic('jwks-forget');
    this.forgotten?.subscribe(({ jwksUri }) => this.entries.delete(jwksUri));
  }

  /** The public key that should have signed this token, or a reason it cannot be verified. */
  async keyFor(settings: TenantJwtSettings, token: string): Promise<KeyObject> {
    const { kid, alg } = decodeHeader(token);
    const allowed = settings.algorithms?.length ? settings.algorithms : JWT_ALGORITHMS;
    if (!alg || !(allowed as readonly string[]).includes(alg)) {
      throw new JwtRejected(
        `algorithm ${alg ?? '(none)'} is not accepted; use one of ${allowed.join(', ')}`,
      );
    }
    const entry = this.entries.get(settings.jwksUri) ?? {
      lastAttempt: 0,
      failures: 0,
      failedUntil: 0,
    };
    this.entries.set(settings.jwksUri, entry);

    let set = entry.set;
    if (!set || Date.now() - set.fetchedAt > FRESH_FOR_MS) {
      set = (await this.refresh(settings.jwksUri, entry, !set)) ?? set;
    }
    let key = set && pick(set, kid);
    if (!key && set && Date.now() - entry.lastAttempt > MIN_REFETCH_INTERVAL_MS) {
      set = (await this.refresh(settings.jwksUri, entry, true)) ?? set;
      key = set && pick(set, kid);
    }
    if (!set)
      throw new JwtRejected(
        'the identity provider’s signing keys could not be fetched; try again shortly',
      );
    if (!key)
      throw new JwtRejected(
        `no signing key ${kid ? `with kid "${kid}"` : 'matches the token'} at the identity provider`,
      );
    return key;
  }

  /** Drops a key set no tenant uses any more, in every replica. */
  forget(jwksUri: string): void {
    if (this.forgotten) this.forgotten.publish({ jwksUri });
    else this.entries.delete(jwksUri);
  }

  /**
   * Fetches now, or joins the fetch that runs; returns undefined (the caller keeps stale keys)
   * when it fails or when a recent failure still stands; never throws.
   */
  private async refresh(uri: string, entry: Entry, mustHave: boolean): Promise<KeySet | undefined> {
    if (!mustHave && Date.now() - entry.lastAttempt < MIN_REFETCH_INTERVAL_MS) return undefined;
    if (!entry.inflight) {
      if (Date.now() < entry.failedUntil) return undefined;
      entry.inflight = this.fetchKeys(uri)
        .then(
          (set) => {
            entry.failures = 0;
            entry.failedUntil = 0;
            return set;
          },
          (err: unknown) => {
            // Logged once per failed fetch, which the negative cache keeps to a few per minute.
            entry.failures += 1;
            const wait = Math.min(MAX_NEGATIVE_TTL_MS, NEGATIVE_TTL_MS * 2 ** (entry.failures - 1));
            entry.failedUntil = Date.now() + wait;
            this.logger.warn(
              `JWKS ${uri} unavailable: ${(err as Error).message}; ` +
                (entry.set ? 'using cached keys' : `refusing its tokens for ${wait / 1000} s`),
            );
            throw err;
          },
        )
        .finally(() => (entry.inflight = undefined));
      entry.lastAttempt = Date.now();
    }
    try {
      entry.set = await entry.inflight;
      return entry.set;
    } catch {
      return undefined;
    }
  }

  private async fetchKeys(uri: string): Promise<KeySet> {
    // A tenant admin chose this URL: it is fetched under the egress policy, and never redirected.
    const res = await this.egress.fetch(uri, {
      timeoutMs: FETCH_TIMEOUT_MS,
      headers: { accept: 'application/json' },
      redirect: 'manual',
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const body = await readBodyCapped(res, MAX_JWKS_BYTES);
    const doc = JSON.parse(body.toString('utf8')) as { keys?: unknown } | null;
    if (!doc || !Array.isArray(doc.keys)) throw new Error('not a JWKS document (no "keys" array)');
    const keys = new Map<string, KeyObject>();
    (doc.keys as unknown[]).forEach((entry, i) => {
      if (!entry || typeof entry !== 'object' || Array.isArray(entry)) return;
      const jwk = entry as Record<string, unknown>;
      if (jwk.use !== undefined && jwk.use !== 'sig') return;
      if (jwk.d !== undefined) return; // a private key published by mistake is not used
      if (jwk.kty !== 'RSA' && jwk.kty !== 'EC') return;
      try {
        const key = createPublicKey({ key: jwk as never, format: 'jwk' });
        if (strongEnough(key)) keys.set(typeof jwk.kid === 'string' ? jwk.kid : `#${i}`, key);
      } catch {
        // A malformed key in the set does not invalidate the others.
      }
    });
    return { keys, fetchedAt: Date.now() };
  }
}

function pick(set: KeySet, kid: string | undefined): KeyObject | undefined {
  if (kid !== undefined) return set.keys.get(kid);
  return set.keys.size === 1 ? set.keys.values().next().value : undefined;
}

/** RSA keys of at least 2048 bits, EC keys on the NIST curves JWS uses; anything else is ignored. */
function strongEnough(key: KeyObject): boolean {
  const d = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss') {
    return (d?.modulusLength ?? 0) >= 2048;
  }
  if (key.asymmetricKeyType === 'ec') {
    return ['prime256v1', 'secp384r1', 'secp521r1'].includes(d?.namedCurve ?? '');
  }
  return false;
}
