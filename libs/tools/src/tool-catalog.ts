import { Injectable } from '@nestjs/common';
import type { ToolDefinition } from './tool-registry';
import { ToolRegistry } from './tool-registry';

/**
 * The tools of one tenant that are data rather than code (its tool sources), as a snapshot: a new
 * object whenever they change, so what is computed from one (lists, JSON) can be kept by identity.
 */
export interface TenantTools {
  readonly tools: readonly ToolDefinition[];
}

/** Where a tenant's data-defined tools come from (the sources lib); asked on every request. */
export interface TenantToolProvider {
  toolsFor(tenantId: string): Promise<TenantTools>;
}

/** One tenant's catalog: the built-in tools, then its source tools. Immutable. */
export class TenantCatalog {
  private readonly byName: ReadonlyMap<string, ToolDefinition>;
  private scopeList?: readonly string[];

  constructor(
    builtins: Iterable<ToolDefinition>,
    readonly sourced: readonly ToolDefinition[],
    private readonly baseScopes: readonly string[],
  ) {
    const byName = new Map<string, ToolDefinition>();
    for (const t of builtins) byName.set(t.name, t);
    // A source tool never shadows a built-in one (prefixes are checked when sources are saved).
    for (const t of sourced) if (!byName.has(t.name)) byName.set(t.name, t);
    this.byName = byName;
  }

  get(name: string): ToolDefinition | undefined {
    return this.byName.get(name);
  }

  all(): Iterable<ToolDefinition> {
    return this.byName.values();
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  /** Every scope a key or token of this tenant can usefully hold. */
  scopes(): readonly string[] {
    this.scopeList ??= this.sourced.length
      ? Object.freeze(
          [
            ...new Set([...this.baseScopes, ...this.sourced.flatMap((t) => t.requiredScopes)]),
          ].sort(),
        )
      : this.baseScopes;
    return this.scopeList;
  }
}

/**
 * The per-tenant tool catalog every path reads — lists, calls, the HTTP pre-check, the admin
 * catalog, key allow-lists and scopes_supported: the built-in tools (found at boot) plus the
 * tenant's source tools (data, from the provider the sources lib registers). A tenant without
 * source tools shares one catalog object with every other such tenant.
 */
@Injectable()
export class ToolCatalog {
  private provider?: TenantToolProvider;
  private builtinOnly?: TenantCatalog;
  private readonly bySnapshot = new WeakMap<TenantTools, TenantCatalog>();

  constructor(private readonly registry: ToolRegistry) {}

  /** Called once by the lib that owns data-defined tools. */
  use(provider: TenantToolProvider): void {
    if (this.provider) throw new Error('a tenant tool provider is registered already');
    this.provider = provider;
  }

  /** The catalog of built-in tools alone (the same for every tenant). */
  builtins(): TenantCatalog {
    this.builtinOnly ??= new TenantCatalog(this.registry.all(), [], this.registry.scopes());
    return this.builtinOnly;
  }

  async forTenant(tenantId: string): Promise<TenantCatalog> {
    const snapshot = this.provider ? await this.provider.toolsFor(tenantId) : undefined;
    if (!snapshot?.tools.length) return this.builtins();
    let catalog = this.bySnapshot.get(snapshot);
    if (!catalog) {
      catalog = new TenantCatalog(this.registry.all(), snapshot.tools, this.registry.scopes());
      this.bySnapshot.set(snapshot, catalog);
    }
    return catalog;
  }

  /** Whether any built-in tool's name starts with `<prefix>_` or is the prefix itself. */
  prefixTaken(prefix: string): boolean {
    return this.registry.names().some((n) => n === prefix || n.startsWith(`${prefix}_`));
  }
}
