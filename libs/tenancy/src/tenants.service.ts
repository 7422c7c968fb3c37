import {
  ConflictException,
  Injectable,
  Logger,
  NotFoundException,
  OnModuleInit,
} from '@nestjs/common';
import { PlatformConfig } from '@app/config';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { isUniqueViolation, Page } from '@app/database';
import { ChangeFeed } from './change-feed';
import {
  ProtocolPosture,
  SLUG_PATTERN,
  Tenant,
  TenantAuthSettings,
  TenantRateLimits,
  TenantSettings,
  TenantStatus,
} from './entities';
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
  rateLimits?: TenantRateLimits;
  protocol?: ProtocolPosture;
}

const MISS_CHECKS_PER_SECOND = 5;

@Injectable()
export class TenantsService implements OnModuleInit {
  private readonly logger = new Logger(TenantsService.name);
  private readonly bySlug: TtlCache<Tenant | null>;
  /**
   * Every tenant's slug, kept current by the change feed, so a request naming an unknown tenant
   * is answered without a query. Undefined until loaded (lookups then go to the database).
   */
  private slugs?: Set<string>;
  private slugsLoading?: Promise<void>;
  /** Changes seen while the set loads: the load's snapshot may predate them. */
  private slugChanges: { slug: string; deleted: boolean }[] = [];
  /**
   * A tenant created through another replica is known here once its change arrives; until then
   * a few misses per second are checked in the database, so that race costs nothing visible
   * while a flood of made-up names still costs at most that many queries.
   */
  private missChecks = { tokens: MISS_CHECKS_PER_SECOND, at: 0 };

  constructor(
    @InjectRepository(Tenant) private readonly tenants: Repository<Tenant>,
    private readonly changes: ChangeFeed,
    config: PlatformConfig,
  ) {
    this.bySlug = new TtlCache(config.apiKeyCacheTtlMs);
    changes.subscribe((c) => {
      if (c.kind === 'tenant') {
        this.bySlug.delete(c.slug);
        this.noteSlug(c.slug, !!c.deleted);
      }
      if (c.kind === 'all') {
        this.bySlug.clear();
        void this.loadSlugs();
      }
    });
  }

  async onModuleInit(): Promise<void> {
    await this.loadSlugs();
  }

  /** Cached lookup for the request path; changes through this service invalidate it at once. */
  resolve(slug: string): Promise<Tenant | null> {
    if (this.slugs && !this.slugs.has(slug)) {
      if (!SLUG_PATTERN.test(slug) || !this.takeMissCheck()) return Promise.resolve(null);
      return this.findBySlug(slug).then((tenant) => {
        if (tenant) this.noteSlug(tenant.slug, false);
        return tenant;
      });
    }
    return this.bySlug.get(slug, () => this.findBySlug(slug));
  }

  private takeMissCheck(): boolean {
    const now = Date.now();
    const b = this.missChecks;
    b.tokens = Math.min(
      MISS_CHECKS_PER_SECOND,
      b.tokens + ((now - b.at) / 1000) * MISS_CHECKS_PER_SECOND,
    );
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  private noteSlug(slug: string, deleted: boolean): void {
    if (deleted) this.slugs?.delete(slug);
    else this.slugs?.add(slug);
    if (this.slugsLoading) this.slugChanges.push({ slug, deleted });
  }

  /** Reloads the slug set; on failure the previous set (or none) stays in use. */
  private loadSlugs(): Promise<void> {
    this.slugsLoading ??= this.tenants
      .createQueryBuilder('t')
      .select('t.slug', 'slug')
      .getRawMany<{ slug: string }>()
      .then((rows) => {
        const slugs = new Set(rows.map((r) => r.slug));
        for (const c of this.slugChanges) {
          if (c.deleted) slugs.delete(c.slug);
          else slugs.add(c.slug);
        }
        this.slugs = slugs;
      })
      .catch((err: unknown) => {
        this.logger.warn(`could not load tenant slugs: ${(err as Error).message}`);
      })
      .finally(() => {
        this.slugsLoading = undefined;
        this.slugChanges = [];
      });
    return this.slugsLoading;
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
    const { allowedOrigins, rateLimits, protocol, ...fields } = patch;
    Object.assign(tenant, fields);
    if (allowedOrigins) tenant.settings = { ...tenant.settings, allowedOrigins };
    if (protocol) tenant.settings = { ...tenant.settings, protocol };
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

  /** Replaces the tenant's auth settings as a whole; an empty object removes them. */
  async setAuthSettings(slug: string, auth: TenantAuthSettings): Promise<Tenant> {
    const tenant = await this.getBySlug(slug);
    const { auth: _previous, ...rest } = tenant.settings;
    tenant.settings = Object.keys(auth).length ? { ...rest, auth } : rest;
    const saved = await this.tenants.save(tenant);
    this.changes.publish({ kind: 'tenant', tenantId: saved.id, slug: saved.slug });
    return saved;
  }

  async remove(slug: string): Promise<Tenant> {
    const tenant = await this.getBySlug(slug);
    // Keys, grants, notes and audit events go with it (ON DELETE CASCADE).
    await this.tenants.delete({ id: tenant.id });
    this.changes.publish({ kind: 'tenant', tenantId: tenant.id, slug: tenant.slug, deleted: true });
    return tenant;
  }
}
