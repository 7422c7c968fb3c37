import { hkdfSync, randomBytes } from 'node:crypto';
import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { PlatformConfig } from '@app/config';
import { PlatformSetting } from './entities';

const SETTING = 'secrets_key';

/**
 * The platform's master secret, from SECRETS_KEY when set; otherwise generated on first start and
 * kept in the database, so every replica on that database derives the same keys. Each use gets
 * its own key derived with HKDF (a sealed request state cannot be opened as anything else).
 */
@Injectable()
export class PlatformSecrets implements OnModuleInit {
  private readonly logger = new Logger('Secrets');
  private master?: Buffer;
  private readonly derived = new Map<string, Buffer>();

  constructor(
    private readonly config: PlatformConfig,
    @InjectRepository(PlatformSetting) private readonly settings: Repository<PlatformSetting>,
  ) {}

  async onModuleInit(): Promise<void> {
    if (this.config.secretsKey) {
      this.master = Buffer.from(this.config.secretsKey, 'utf8');
      this.logger.log('secrets key: from SECRETS_KEY');
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
    let key = this.derived.get(purpose);
    if (!key) {
      key = Buffer.from(hkdfSync('sha256', this.master, '', `mcp-platform:${purpose}`, 32));
      this.derived.set(purpose, key);
    }
    return key;
  }
}
