import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { PlatformConfig } from '@app/config';
import { PlatformSetting } from './entities';

const SETTING = 'secrets_key';

/** A sealed secret could not be opened: sealed under a key the platform no longer has, or altered. */
export class SealedSecretError extends Error {}

const SEALED = /^s1\.([0-9a-f]{16})\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)$/;

/**
 * The platform's master secret, from SECRETS_KEY when set; otherwise generated on first start and
 * kept in the database, so every replica on that database derives the same keys. Each use gets
 * its own key derived with HKDF (a sealed request state cannot be opened as anything else).
 *
 * Secrets at rest are sealed with AES-256-GCM under a key for their purpose, tagged with that
 * key's id. Rotation: the key before it (SECRETS_KEY_PREVIOUS, or the generated key once
 * SECRETS_KEY is set) still opens old seals, and `isCurrent` tells the owners what to re-seal.
 */
@Injectable()
export class PlatformSecrets implements OnModuleInit {
  private readonly logger = new Logger('Secrets');
  private master?: Buffer;
  private previous?: Buffer;
  private readonly derived = new Map<string, Buffer>();

  constructor(
    private readonly config: PlatformConfig,
    @InjectRepository(PlatformSetting) private readonly settings: Repository<PlatformSetting>,
  ) {}

  async onModuleInit(): Promise<void> {
    if (this.config.secretsKey) {
      this.master = Buffer.from(this.config.secretsKey, 'utf8');
      if (this.config.secretsKeyPrevious) {
        this.previous = Buffer.from(this.config.secretsKeyPrevious, 'utf8');
      } else {
        const generated = await this.settings.findOneBy({ key: SETTING });
        if (generated && typeof generated.value === 'string') {
          this.previous = Buffer.from(generated.value, 'base64');
        }
      }
      this.logger.log(
        `secrets key: from SECRETS_KEY${this.previous ? ' (the previous key still opens older secrets)' : ''}`,
      );
      return;
    }
    // Two replicas starting at once both insert; the first row wins and both read it back.
    await this.settings
      .createQueryBuilder()
      .insert()
      .values({ key: SETTING, value: randomBytes(32).toString('base64') })
      .orIgnore()
      .execute();
    const stored = await this.settings.findOneBy({ key: SETTING });
    if (!stored || typeof stored.value !== 'string') {
      throw new Error('the stored secrets key is missing or unreadable (platform_settings)');
    }
    this.master = Buffer.from(stored.value, 'base64');
    this.logger.log(
      'secrets key: generated once and stored in the database (set SECRETS_KEY to manage it yourself)',
    );
  }

  /** A 32-byte key for one purpose, e.g. `request-state`. */
  key(purpose: string): Buffer {
    if (!this.master) throw new Error('PlatformSecrets used before the application started');
    return this.derive(this.master, purpose, 'current');
  }

  /** Seals a secret for storage: `s1.<key id>.<iv>.<tag>.<ciphertext>`, all base64url. */
  seal(purpose: string, plaintext: string): string {
    const key = this.key(purpose);
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(purpose));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['s1', keyId(key), iv, cipher.getAuthTag(), body]
      .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
      .join('.');
  }

  /** Opens what `seal` sealed, under the current key or the previous one. */
  open(purpose: string, sealed: string): string {
    const m = SEALED.exec(sealed);
    if (!m) throw new SealedSecretError('not a sealed secret');
    const [, id, iv, tag, body] = m as unknown as [string, string, string, string, string];
    const key = [this.key(purpose), this.previousKey(purpose)].find((k) => k && keyId(k) === id);
    if (!key) {
      throw new SealedSecretError(
        'sealed under a secrets key this platform does not have (was SECRETS_KEY changed without SECRETS_KEY_PREVIOUS?)',
      );
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(purpose));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      const out = Buffer.concat([
        decipher.update(Buffer.from(body, 'base64url')),
        decipher.final(),
      ]);
      return out.toString('utf8');
    } catch {
      throw new SealedSecretError('the sealed secret does not open (altered, or another purpose)');
    }
  }

  /** Whether a sealed secret is under the current key (else its owner should re-seal it). */
  isCurrent(purpose: string, sealed: string): boolean {
    return SEALED.exec(sealed)?.[1] === keyId(this.key(purpose));
  }

  private previousKey(purpose: string): Buffer | undefined {
    return this.previous && this.derive(this.previous, purpose, 'previous');
  }

  private derive(master: Buffer, purpose: string, which: string): Buffer {
    const slot = `${which}:${purpose}`;
    let key = this.derived.get(slot);
    if (!key) {
      key = Buffer.from(hkdfSync('sha256', master, '', `mcp-platform:${purpose}`, 32));
      this.derived.set(slot, key);
    }
    return key;
  }
}

/** A public, stable id of a key (not the key): the first 8 bytes of the SHA-256 of its hash. */
function keyId(key: Buffer): string {
  return createHash('sha256')
    .update(createHash('sha256').update(key).digest())
    .digest('hex')
    .slice(0, 16);
}
