import { Injectable, Logger } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { EgressPolicy, EgressRefused, readBodyCapped } from '@app/egress';
import type { TenantJwtSettings } from '@app/tenancy';
import { loadOauth } from './esm';

/** Metadata is read again after an hour; until a read succeeds the old one is used. */
const FRESH_FOR_MS = 60 * 60_000;
const FETCH_TIMEOUT_MS = 3_000;
const NEGATIVE_TTL_MS = 5_000;
const MAX_NEGATIVE_TTL_MS = 30_000;
const MAX_METADATA_BYTES = 256 * 1024;

export type DiscoveryFailure = 'unreachable' | 'mismatch' | 'invalid';

/** Why an issuer's metadata could not be used; the message names the document and the fault. */
export class DiscoveryFailed extends Error {
  constructor(
    readonly failure: DiscoveryFailure,
    message: string,
  ) {
    super(message);
  }
}

interface Entry {
  jwksUri?: string;
  fetchedAt: number;
  failures: number;
  failedUntil: number;
  lastError?: DiscoveryFailed;
  inflight?: Promise<string>;
}

/**
 * What a tenant's JWT issuer publishes about itself: its OpenID Connect discovery document, or
 * else its RFC 8414 authorization-server metadata, read with oauth4webapi (which also checks that
 * the document's `issuer` is the configured one) through the egress policy. Only `jwks_uri` is
 * used. Kept for an hour and refreshed; a failed refresh keeps the last good answer, and an issuer
 * that has never answered is not asked again for 5 s (doubling to 30 s).
 */
@Injectable()
export class IssuerMetadata {
  private readonly logger = new Logger(IssuerMetadata.name);
  private readonly entries = new LRUCache<string, Entry>({ max: 10_000 });

  constructor(private readonly egress: EgressPolicy) {}

  /** The JWKS URI to verify this tenant's tokens with: the configured one, else the discovered. */
  async jwksUriFor(settings: TenantJwtSettings): Promise<string> {
    if (settings.jwksUri) return settings.jwksUri;
    const entry = this.entries.get(settings.issuer) ?? {
      fetchedAt: 0,
      failures: 0,
      failedUntil: 0,
    };
    this.entries.set(settings.issuer, entry);
    const now = Date.now();
    if (entry.jwksUri && now - entry.fetchedAt < FRESH_FOR_MS) return entry.jwksUri;
    if (now < entry.failedUntil && !entry.inflight) {
      if (entry.jwksUri) return entry.jwksUri;
      throw entry.lastError ?? new DiscoveryFailed('unreachable', 'issuer metadata unavailable');
    }
    entry.inflight ??= this.discover(settings.issuer)
      .then(
        (jwksUri) => {
          Object.assign(entry, { jwksUri, fetchedAt: Date.now(), failures: 0, failedUntil: 0 });
          return jwksUri;
        },
        (err: unknown) => {
          entry.failures += 1;
          const wait = Math.min(MAX_NEGATIVE_TTL_MS, NEGATIVE_TTL_MS * 2 ** (entry.failures - 1));
          entry.failedUntil = Date.now() + wait;
          entry.lastError = asFailure(err);
          this.logger.warn(
            `metadata of issuer ${settings.issuer} unavailable: ${entry.lastError.message}` +
              (entry.jwksUri ? '; using the last known jwks_uri' : ''),
          );
          if (entry.jwksUri) return entry.jwksUri;
          throw entry.lastError;
        },
      )
      .finally(() => (entry.inflight = undefined));
    return entry.inflight;
  }

  /**
   * Reads the issuer's metadata now (the admin API, before saving an issuer without a jwksUri),
   * and remembers the answer for the requests that follow.
   */
  async check(issuer: string): Promise<string> {
    const jwksUri = await this.discover(issuer).catch((err: unknown) => {
      throw asFailure(err);
    });
    this.entries.set(issuer, { jwksUri, fetchedAt: Date.now(), failures: 0, failedUntil: 0 });
    return jwksUri;
  }

  forget(issuer: string): void {
    this.entries.delete(issuer);
  }

  private async discover(issuer: string): Promise<string> {
    const oauth = await loadOauth();
    const url = new URL(issuer);
    const options = {
      [oauth.customFetch]: this.fetchCapped,
      [oauth.allowInsecureRequests]: url.protocol === 'http:',
      signal: () => AbortSignal.timeout(FETCH_TIMEOUT_MS + 1_000),
    };
    let res = await oauth.discoveryRequest(url, { ...options, algorithm: 'oidc' });
    let tried = 'OpenID Connect discovery';
    // An OAuth-only server has no OpenID Connect document; RFC 8414 puts its own elsewhere.
    if (res.status === 404) {
      res = await oauth.discoveryRequest(url, { ...options, algorithm: 'oauth2' });
      tried = 'OpenID Connect discovery answered HTTP 404, RFC 8414 metadata';
    }
    if (res.status !== 200) {
      throw new DiscoveryFailed(
        res.status >= 500 ? 'unreachable' : 'invalid',
        `no metadata at ${issuer} (${tried} answered HTTP ${res.status})`,
      );
    }
    let metadata: { issuer?: unknown; jwks_uri?: unknown };
    try {
      metadata = await oauth.processDiscoveryResponse(url, res);
    } catch (err) {
      const mismatch = (err as { code?: string }).code === oauth.JSON_ATTRIBUTE_COMPARISON;
      throw new DiscoveryFailed(
        mismatch ? 'mismatch' : 'invalid',
        mismatch
          ? `the metadata's issuer is not ${issuer}: tokens from it would not be this issuer's`
          : `the issuer's metadata is not usable: ${(err as Error).message}`,
      );
    }
    // oauth4webapi compares normalised URLs; tokens carry the string, which must be identical.
    if (metadata.issuer !== issuer) {
      throw new DiscoveryFailed(
        'mismatch',
        `the metadata's issuer is ${JSON.stringify(String(metadata.issuer).slice(0, 200))}, not exactly ${issuer}: tokens from it would not match`,
      );
    }
    const jwksUri = metadata.jwks_uri;
    if (typeof jwksUri !== 'string' || !/^https?:\/\//.test(jwksUri)) {
      throw new DiscoveryFailed('invalid', `the issuer's metadata has no jwks_uri`);
    }
    return jwksUri;
  }

  /** The egress policy's fetch, no redirects, with the body read under a size cap. */
  private readonly fetchCapped = async (
    url: string,
    init: { headers?: Record<string, string>; signal?: AbortSignal },
  ): Promise<Response> => {
    const res = await this.egress.fetch(url, {
      timeoutMs: FETCH_TIMEOUT_MS,
      headers: init.headers,
      signal: init.signal,
      redirect: 'manual',
    });
    const body = res.status === 200 ? await readBodyCapped(res, MAX_METADATA_BYTES) : undefined;
    if (!body) await res.body?.cancel();
    return new Response(body, { status: res.status, headers: Object.fromEntries(res.headers) });
  };
}

function asFailure(err: unknown): DiscoveryFailed {
  if (err instanceof DiscoveryFailed) return err;
  if (err instanceof EgressRefused) {
    return new DiscoveryFailed(
      err.reason === 'unresolvable' ? 'unreachable' : 'invalid',
      err.message,
    );
  }
  return new DiscoveryFailed(
    'unreachable',
    `the issuer's metadata could not be read: ${(err as Error).message}`,
  );
}
