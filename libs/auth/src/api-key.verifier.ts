import { Injectable } from '@nestjs/common';
import { PlatformConfig } from '@app/config';
import {
  ApiKey,
  ApiKeysService,
  ChangeFeed,
  KeyUsageRecorder,
  parseApiKey,
  secretMatches,
  TtlCache,
} from '@app/tenancy';
import type { Principal } from './principal';
import { CredentialRefused } from './refusal';

/** Verifies a presented API key: shape and checksum first, then a cached lookup by key id. */
@Injectable()
export class ApiKeyVerifier {
  private readonly cache: TtlCache<ApiKey | null>;

  constructor(
    private readonly keys: ApiKeysService,
    private readonly usage: KeyUsageRecorder,
    changes: ChangeFeed,
    config: PlatformConfig,
  ) {
    this.cache = new TtlCache(config.apiKeyCacheTtlMs);
    changes.subscribe((c) => {
      if (c.kind === 'key') this.cache.delete(c.keyId);
      // A deleted tenant takes its keys with it.
      if (c.kind === 'tenant') this.cache.deleteWhere((k) => k?.tenantId === c.tenantId);
      if (c.kind === 'all') this.cache.clear();
    });
  }

  async verify(token: string): Promise<Principal> {
    const parsed = parseApiKey(token);
    if (!parsed) {
      throw new CredentialRefused(
        'malformed',
        'API key is malformed (bad format or checksum); check it was copied whole',
      );
    }
    const key = await this.cache.get(parsed.keyId, () => this.keys.findByKeyId(parsed.keyId));
    const now = Date.now();
    const current = !!key && secretMatches(parsed.secret, key.secretHash);
    // The secret a rotation replaced works until its grace period ends, and no longer.
    const previousUntil =
      !!key &&
      !current &&
      !!key.previousValidUntil &&
      key.previousValidUntil.getTime() > now &&
      secretMatches(parsed.secret, key.previousSecretHash)
        ? key.previousValidUntil.getTime()
        : undefined;
    if (!key || (!current && previousUntil === undefined)) {
      throw new CredentialRefused('invalid', 'API key is not valid');
    }
    if (key.revokedAt) throw new CredentialRefused('revoked', 'API key has been revoked');
    if (key.expiresAt && key.expiresAt.getTime() <= now) {
      throw new CredentialRefused('expired', `API key expired at ${key.expiresAt.toISOString()}`);
    }
    this.usage.markUsed(key.id);
    return {
      kind: 'api-key',
      id: key.id,
      keyId: key.keyId,
      tenantId: key.tenantId,
      scopes: key.scopes,
      tools: key.tools,
      resources: key.resources,
      prompts: key.prompts,
      rateLimitPerMinute: key.rateLimitPerMinute,
      ...expiry(key.expiresAt?.getTime(), previousUntil),
    };
  }
}

/** The earlier of the key's expiry and the end of the old secret's grace period, if any. */
function expiry(...at: (number | undefined)[]): { expiresAt?: number } {
  const known = at.filter((t): t is number => t !== undefined);
  return known.length ? { expiresAt: Math.min(...known) } : {};
}
