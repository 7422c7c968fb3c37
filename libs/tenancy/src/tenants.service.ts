import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { PlatformConfig } from '@app/config';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { isUniqueViolation, Page } from '@app/database';
import { ChangeFeed } from './change-feed';
import { SLUG_PATTERN, Tenant, TenantJwtSettings, TenantSettings, TenantStatus } from './entities';
import { PageRequest, paginate } from './paging';
import { TtlCache } from './ttl-cache';

export interface CreateTenant {
  slug: string;
  name: string;
  settings?: TenantSettings;
}

export interface UpdateTenant {
  name?: string;
  status?: TenantStatus;
  allowedOrigins?: string[];
  rateLimits?: { keyPerMinute?: number; tenantPerMinute?: number };
}

@Injectable()
export class TenantsService {
  private readonly bySlug: TtlCache<Tenant | null>;

  constructor(
    @InjectRepository(Tenant) private readonly tenants: Repository<Tenant>,
    private readonly changes: ChangeFeed,
    config: PlatformConfig,
  ) {
    this.bySlug = new TtlCache(config.apiKeyCacheTtlMs);
    changes.subscribe((c) => {
      if (c.kind === 'tenant') this.bySlug.delete(c.slug);
      if (c.kind === 'all') this.bySlug.clear();
    });
  }

  /** Cached lookup for the request path; changes through this service invalidate it at once. */
  resolve(slug: string): Promise<Tenant | null> {
    return this.bySlug.get(slug, () => this.findBySlug(slug));
  }

  async create(input: CreateTenant): Promise<Tenant> {
    try {
      const tenant = await this.tenants.save(
        this.tenants.create({ ...input, status: 'active', settings: input.settings ?? {} }),
      );
      this.changes.publish({ kind: 'tenant', tenantId: tenant.id, slug: tenant.slug });
      return tenant;
    } catch (err) {
      if (isUniqueViolation(err, 'tenants_slug_key')) {
        throw new ConflictException(`a tenant with slug "${input.slug}" already exists`);
      }
      throw err;
    }
  }

  list(page: PageRequest): Promise<Page<Tenant>> {
    return paginate(this.tenants.createQueryBuilder('t'), 't', page);
  }

  async findBySlug(slug: string): Promise<Tenant | null> {
    // A string that cannot be a slug names no tenant; it never reaches the database.
    if (!SLUG_PATTERN.test(slug)) return null;
    return this.tenants.findOneBy({ slug });
  }

  async getBySlug(slug: string): Promise<Tenant> {
    const tenant = await this.findBySlug(slug);
    if (!tenant) throw new NotFoundException(`tenant "${slug}" not found`);
    return tenant;
  }

  async update(slug: string, patch: UpdateTenant): Promise<Tenant> {
    const tenant = await this.getBySlug(slug);
    const { allowedOrigins, rateLimits, ...fields } = patch;
    Object.assign(tenant, fields);
    if (allowedOrigins) tenant.settings = { ...tenant.settings, allowedOrigins };
    if (rateLimits) {
      tenant.settings = {
        ...tenant.settings,
        rateLimits: { ...tenant.settings.rateLimits, ...rateLimits },
      };
    }
    const saved = await this.tenants.save(tenant);
    this.changes.publish({ kind: 'tenant', tenantId: saved.id, slug: saved.slug });
    return saved;
  }

  async setJwtSettings(slug: string, jwt: TenantJwtSettings | null): Promise<Tenant> {
    const tenant = await this.getBySlug(slug);
    const { auth: _previous, ...rest } = tenant.settings;
    tenant.settings = jwt ? { ...rest, auth: { jwt } } : rest;
    const saved = await this.tenants.save(tenant);
    this.changes.publish({ kind: 'tenant', tenantId: saved.id, slug: saved.slug });
    return saved;
  }

  async remove(slug: string): Promise<Tenant> {
    const tenant = await this.getBySlug(slug);
    // Keys, grants, notes and audit events go with it (ON DELETE CASCADE).
    await this.tenants.delete({ id: tenant.id });
    this.changes.publish({ kind: 'tenant', tenantId: tenant.id, slug: tenant.slug });
    return tenant;
  }
}
