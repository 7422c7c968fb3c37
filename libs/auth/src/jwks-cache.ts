import { createPublicKey, KeyObject } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { EgressPolicy, readBodyCapped } from '@app/egress';
import { ChangeFeed, type ReplicaTopic } from '@app/tenancy';
import { type Jose, loadJose } from './esm';

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

/** The key set could not be fetched (and none is cached). */
export class JwksUnavailable extends Error {}

export type KeyLookup = ReturnType<typeof Jose.createRemoteJWKSet>;

interface Entry {
  lookup: KeyLookup;
  /** The last key set fetched, as served to jose again while the provider is away. */
  lastGood?: string;
  failures: number;
  failedUntil: number;
  lastError?: string;
}

/**
 * Signing keys of tenants' identity providers: one jose `createRemoteJWKSet` per JWKS URI (which
 * joins concurrent fetches, refreshes after ten minutes and refetches for an unknown `kid` at most
 * once per 30 seconds), fetched through the egress policy with a timeout and a size cap. The fetch
 * behind it keeps what jose alone would not: the last good key set is served again while the
 * provider is unreachable, so an outage does not lock users out; and a provider with nothing cached
 * that fails is not asked again for 5 s (doubling per failure up to 30 s), so anonymous traffic
 * naming a broken or slow provider cannot turn into one outbound request per request.
 */
@Injectable()
export class JwksCache {
  private readonly logger = new Logger(JwksCache.name);
  private readonly entries = new LRUCache<string, Entry>({ max: 10_000 });
  private readonly forgotten?: ReplicaTopic<{ jwksUri: string }>;

  /** Without a change feed (unit specs), forget() acts on this process only. */
  constructor(
    private readonly egress: EgressPolicy,
    changes?: ChangeFeed,
  ) {
    this.forgotten = changes?.topic('jwks-forget');
    this.forgotten?.subscribe(({ jwksUri }) => this.entries.delete(jwksUri));
  }

  /** jose's key lookup for this JWKS URI, for `jwtVerify`. */
  async lookup(jwksUri: string): Promise<KeyLookup> {
    const jose = await loadJose();
    // Looked up after the await, so that concurrent first requests share one key set.
    const hit = this.entries.get(jwksUri);
    if (hit) return hit.lookup;
    const entry: Entry = { failures: 0, failedUntil: 0 } as Entry;
    entry.lookup = jose.createRemoteJWKSet(new URL(jwksUri), {
      cacheMaxAge: FRESH_FOR_MS,
      cooldownDuration: MIN_REFETCH_INTERVAL_MS,
      timeoutDuration: FETCH_TIMEOUT_MS + 1_000,
      [jose.customFetch]: (url: string, init: { signal?: AbortSignal }) =>
        this.fetchKeys(url, entry, init.signal),
    });
    this.entries.set(jwksUri, entry);
    return entry.lookup;
  }

  /** Drops a key set no tenant uses any more, in every replica. */
  forget(jwksUri: string): void {
    if (this.forgotten) this.forgotten.publish({ jwksUri });
    else this.entries.delete(jwksUri);
  }

  private async fetchKeys(uri: string, entry: Entry, signal?: AbortSignal): Promise<Response> {
    if (Date.now() < entry.failedUntil) {
      if (entry.lastGood) return jsonResponse(entry.lastGood);
      throw new JwksUnavailable(entry.lastError ?? 'JWKS unavailable');
    }
    try {
      // A tenant admin chose this URL: it is fetched under the egress policy, and never redirected.
      const res = await this.egress.fetch(uri, {
        timeoutMs: FETCH_TIMEOUT_MS,
        headers: { accept: 'application/json' },
        redirect: 'manual',
        signal,
      });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const body = await readBodyCapped(res, MAX_JWKS_BYTES);
      entry.lastGood = JSON.stringify({ keys: usableKeys(JSON.parse(body.toString('utf8'))) });
      entry.failures = 0;
      entry.failedUntil = 0;
    } catch (err) {
      // Logged once per failed fetch, which the negative cache keeps to a few per minute.
      entry.failures += 1;
      const wait = Math.min(MAX_NEGATIVE_TTL_MS, NEGATIVE_TTL_MS * 2 ** (entry.failures - 1));
      entry.failedUntil = Date.now() + wait;
      entry.lastError = (err as Error).message;
      this.logger.warn(
        `JWKS ${uri} unavailable: ${entry.lastError}; ` +
          (entry.lastGood ? 'using cached keys' : `refusing its tokens for ${wait / 1000} s`),
      );
      if (!entry.lastGood) throw new JwksUnavailable(entry.lastError);
    }
    return jsonResponse(entry.lastGood);
  }
}

const jsonResponse = (body: string) =>
  new Response(body, { status: 200, headers: { 'content-type': 'application/json' } });

/**
 * The keys of a JWKS document that may verify a signature: RSA of at least 2048 bits and EC on the
 * NIST curves, for signing, public only (a private key published by mistake is not used); a
 * malformed key does not invalidate the others.
 */
export function usableKeys(doc: unknown): Record<string, unknown>[] {
  const keys = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new Error('not a JWKS document (no "keys" array)');
  return keys.filter((entry): entry is Record<string, unknown> => {
    if (!entry || typeof entry !== 'object' || Array.isArray(entry)) return false;
    const jwk = entry as Record<string, unknown>;
    if (jwk.use !== undefined && jwk.use !== 'sig') return false;
    if (jwk.d !== undefined) return false;
    if (jwk.kty !== 'RSA' && jwk.kty !== 'EC') return false;
    try {
      return strongEnough(createPublicKey({ key: jwk as never, format: 'jwk' }));
    } catch {
      return false;
    }
  });
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
