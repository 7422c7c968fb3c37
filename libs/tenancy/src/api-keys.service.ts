import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { Page, UUID_PATTERN } from '@app/database';
import { generateApiKey, hashSecret } from './api-key-codec';
import { ChangeFeed } from './change-feed';
import { ApiKey } from './entities';
import { PageRequest, paginate } from './paging';

export interface CreateApiKey {
  name: string;
  scopes: string[];
  tools?: string[] | null;
  resources?: string[] | null;
  prompts?: string[] | null;
  expiresAt?: Date | null;
  rateLimitPerMinute?: number | null;
}

export type UpdateApiKey = Partial<CreateApiKey>;

export interface IssuedApiKey {
  key: ApiKey;
  /** The whole key. Returned to the caller once and never stored. */
  token: string;
}

@Injectable()
export class ApiKeysService {
  constructor(
    @InjectRepository(ApiKey) private readonly keys: Repository<ApiKey>,
    private readonly changes: ChangeFeed,
  ) {}

  async create(tenantId: string, input: CreateApiKey): Promise<IssuedApiKey> {
    const generated = generateApiKey();
    const key = await this.keys.save(
      this.keys.create({
        tenantId,
        name: input.name,
        scopes: input.scopes,
        tools: input.tools ?? null,
        resources: input.resources ?? null,
        prompts: input.prompts ?? null,
        expiresAt: input.expiresAt ?? null,
        rateLimitPerMinute: input.rateLimitPerMinute ?? null,
        keyId: generated.keyId,
        secretHash: hashSecret(generated.secret),
      }),
    );
    return { key, token: generated.token };
  }

  list(tenantId: string, page: PageRequest): Promise<Page<ApiKey>> {
    return paginate(
      this.keys.createQueryBuilder('k').where('k.tenant_id = :tenantId', { tenantId }),
      'k',
      page,
    );
  }

  async get(tenantId: string, id: string): Promise<ApiKey> {
    const key = UUID_PATTERN.test(id) ? await this.keys.findOneBy({ tenantId, id }) : null;
    if (!key) throw new NotFoundException(`API key "${id}" not found in this tenant`);
    return key;
  }

  /**
   * Lookup by the public key id carried inside a presented key. The key id is globally unique and
   * names its tenant; callers check that tenant against the route.
   */
  findByKeyId(keyId: string): Promise<ApiKey | null> {
    return this.keys.findOneBy({ keyId });
  }

  async update(tenantId: string, id: string, patch: UpdateApiKey): Promise<ApiKey> {
    const key = await this.getActive(tenantId, id, 'edited');
    Object.assign(key, patch);
    return this.saveAndAnnounce(key);
  }

  async revoke(tenantId: string, id: string): Promise<ApiKey> {
    const key = await this.get(tenantId, id);
    if (key.revokedAt) return key;
    key.revokedAt = new Date();
    key.previousSecretHash = null;
    key.previousValidUntil = null;
    return this.saveAndAnnounce(key);
  }

  async rotate(tenantId: string, id: string, graceSeconds: number): Promise<IssuedApiKey> {
    const key = await this.getActive(tenantId, id, 'rotated');
    const generated = generateApiKey(key.keyId);
    const now = new Date();
    key.previousSecretHash = graceSeconds > 0 ? key.secretHash : null;
    key.previousValidUntil =
      graceSeconds > 0 ? new Date(now.getTime() + graceSeconds * 1000) : null;
    key.secretHash = hashSecret(generated.secret);
    key.rotatedAt = now;
    return { key: await this.saveAndAnnounce(key), token: generated.token };
  }

  private async getActive(tenantId: string, id: string, verb: string): Promise<ApiKey> {
    const key = await this.get(tenantId, id);
    if (key.revokedAt) {
      throw new ConflictException(
        `API key "${id}" is revoked and cannot be ${verb}; create a new key`,
      );
    }
    return key;
  }

  private async saveAndAnnounce(key: ApiKey): Promise<ApiKey> {
    const saved = await this.keys.save(key);
    this.changes.publish({ kind: 'key', tenantId: saved.tenantId, keyId: saved.keyId });
    return saved;
  }
}
