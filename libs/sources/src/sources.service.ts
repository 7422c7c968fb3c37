import {
  BadGatewayException,
  BadRequestException,
  ConflictException,
  Injectable,
  Logger,
  NotFoundException,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { isUniqueViolation, type Page, UUID_PATTERN } from '@app/database';
import { EgressPolicy, EgressRefused } from '@app/egress';
import {
  ChangeFeed,
  type PageRequest,
  paginate,
  PlatformSecrets,
  ToolGrantsService,
} from '@app/tenancy';
import { ToolCatalog } from '@app/tools';
import { type LoadedSource, type ReadCatalog, UpstreamError } from './loaded-source';
import { McpConnector } from './mcp-connector';
import { OpenApiDocumentError } from './openapi';
import { CredentialRefused, OpenApiConnector } from './openapi-connector';
import { SECRETS_PURPOSE, SourceCatalog } from './source-catalog';
import { sourceToolName } from './source-names';
import {
  type McpSourceConfig,
  type McpTransportChoice,
  type OpenApiSourceConfig,
  type SourceConfig,
  type SourceSecrets,
  ToolSourceRecord,
} from './tool-source.entity';

interface CommonInput {
  name: string;
  prefix?: string;
  scopes?: string[];
  toolScopes?: Record<string, string[]>;
  enabled?: boolean;
}

export interface McpSourceInput extends CommonInput {
  kind: 'mcp';
  url: string;
  transport?: McpTransportChoice;
  headers?: Record<string, string>;
}

export type OpenApiCredentialInput =
  | { header: string; value: string }
  | { tokenUrl: string; clientId: string; clientSecret: string; scope?: string };

export interface OpenApiSourceInput extends CommonInput {
  kind: 'openapi';
  document?: unknown;
  documentUrl?: string;
  baseUrl: string;
  operations?: { tags?: string[]; operationIds?: string[] };
  credential?: OpenApiCredentialInput;
}

export type CreateSourceInput = McpSourceInput | OpenApiSourceInput;

/** A change: any field of either kind (checked against the source's kind); null removes. */
export interface UpdateSourceInput {
  name?: string;
  prefix?: string;
  scopes?: string[];
  toolScopes?: Record<string, string[]>;
  enabled?: boolean;
  url?: string;
  transport?: McpTransportChoice;
  headers?: Record<string, string> | null;
  document?: unknown;
  documentUrl?: string;
  baseUrl?: string;
  operations?: { tags?: string[]; operationIds?: string[] } | null;
  credential?: OpenApiCredentialInput | null;
}

const MCP_FIELDS = ['url', 'transport', 'headers'] as const;
const OPENAPI_FIELDS = ['document', 'documentUrl', 'baseUrl', 'operations', 'credential'] as const;

/**
 * A tenant's tool sources as data: saved only after their catalog was read (so a typo in a URL is
 * an error, not a source without tools), with their secrets sealed, and every change told to
 * every replica so that open sessions see the new tool list.
 */
@Injectable()
export class SourcesService implements OnApplicationBootstrap {
  private readonly logger = new Logger('Sources');

  constructor(
    @InjectRepository(ToolSourceRecord) private readonly sources: Repository<ToolSourceRecord>,
    private readonly live: SourceCatalog,
    private readonly catalog: ToolCatalog,
    private readonly egress: EgressPolicy,
    private readonly mcp: McpConnector,
    private readonly openapi: OpenApiConnector,
    private readonly secrets: PlatformSecrets,
    private readonly changes: ChangeFeed,
    private readonly grants: ToolGrantsService,
  ) {
    this.mcp.onListChanged = (source) => {
      this.refresh(source.tenantId, source.id).catch((err: unknown) =>
        this.logger.warn(
          `reading the tools of source ${source.name} again after it said they changed: ${(err as Error).message}`,
        ),
      );
    };
  }

  /** Re-seals secrets sealed under the previous key (SECRETS_KEY rotation). */
  async onApplicationBootstrap(): Promise<void> {
    const rows = await this.sources
      .createQueryBuilder('s')
      .select(['s.id', 's.tenantId', 's.secrets'])
      .where('s.secrets IS NOT NULL')
      .getMany();
    let resealed = 0;
    for (const row of rows) {
      if (!row.secrets || this.secrets.isCurrent(SECRETS_PURPOSE, row.secrets)) continue;
      try {
        const plain = this.secrets.open(SECRETS_PURPOSE, row.secrets);
        await this.sources
          .createQueryBuilder()
          .update()
          .set({
            secrets: this.secrets.seal(SECRETS_PURPOSE, plain),
            updatedAt: () => 'updated_at',
          })
          .where('tenant_id = :tenantId AND id = :id', { tenantId: row.tenantId, id: row.id })
          .execute();
        resealed++;
      } catch (err) {
        this.logger.error(
          `the secrets of tool source ${row.id} do not open: ${(err as Error).message}`,
        );
      }
    }
    if (resealed)
      this.logger.log(`re-sealed the secrets of ${resealed} tool source(s) under the current key`);
  }

  list(tenantId: string, page: PageRequest): Promise<Page<ToolSourceRecord>> {
    const qb = this.sources.createQueryBuilder('s').where('s.tenant_id = :tenantId', { tenantId });
    return paginate(qb, 's', page);
  }

  async get(tenantId: string, id: string): Promise<ToolSourceRecord> {
    const row = UUID_PATTERN.test(id) ? await this.sources.findOneBy({ tenantId, id }) : null;
    if (!row) throw new NotFoundException(`tool source "${id}" not found in this tenant`);
    return row;
  }

  async create(tenantId: string, input: CreateSourceInput): Promise<ToolSourceRecord> {
    const prefix = input.prefix ?? input.name;
    this.assertPrefix(prefix);
    const { config, secrets } =
      input.kind === 'mcp' ? mcpParts(input) : openApiParts(input, undefined);
    const read = await this.read(tenantId, 'new', input.name, config, secrets);
    this.assertToolScopes(input.toolScopes, read);
    const row = this.sources.create({
      tenantId,
      name: input.name,
      kind: input.kind,
      prefix,
      enabled: input.enabled ?? true,
      config,
      secrets: this.live.sealSecrets(secrets),
      scopes: input.scopes ?? [],
      toolScopes: input.toolScopes ?? {},
      catalog: read.tools,
      skipped: read.skipped,
      refreshedAt: new Date(),
      lastSuccessAt: new Date(),
    });
    const saved = await this.save(row);
    this.changed(tenantId);
    return saved;
  }

  async update(tenantId: string, id: string, patch: UpdateSourceInput): Promise<ToolSourceRecord> {
    const row = await this.get(tenantId, id);
    const foreign = (row.kind === 'mcp' ? OPENAPI_FIELDS : MCP_FIELDS).filter(
      (f) => patch[f] !== undefined,
    );
    if (foreign.length) {
      throw new BadRequestException(
        `invalid request body: ${foreign.join(', ')} ${foreign.length > 1 ? 'are' : 'is'} not for ${row.kind} sources`,
      );
    }
    if (patch.prefix !== undefined) this.assertPrefix(patch.prefix);
    const current = this.live.loaded(row).secrets;
    let config: SourceConfig = row.config;
    let secrets: SourceSecrets = current;
    if (row.kind === 'mcp') {
      const c = row.config as McpSourceConfig;
      const headers = patch.headers === null ? {} : (patch.headers ?? current.headers ?? {});
      ({ config, secrets } = mcpParts({
        kind: 'mcp',
        name: row.name,
        url: patch.url ?? c.url,
        transport: patch.transport ?? c.transport,
        headers,
      }));
    } else {
      const c = row.config as OpenApiSourceConfig;
      const inline = patch.document !== undefined;
      const byUrl = patch.documentUrl !== undefined;
      ({ config, secrets } = openApiParts(
        {
          kind: 'openapi',
          name: row.name,
          baseUrl: patch.baseUrl ?? c.baseUrl,
          ...(inline ? { document: patch.document } : byUrl ? {} : { document: c.document }),
          ...(byUrl
            ? { documentUrl: patch.documentUrl }
            : inline
              ? {}
              : { documentUrl: c.documentUrl }),
          operations: patch.operations === null ? undefined : (patch.operations ?? c.operations),
          credential: patch.credential === null ? undefined : (patch.credential ?? undefined),
        },
        patch.credential === undefined
          ? { config: c.credential, secret: current.credential }
          : undefined,
      ));
    }
    const reread = JSON.stringify([config, secrets]) !== JSON.stringify([row.config, current]);
    const prefix = patch.prefix ?? row.prefix;
    let read: ReadCatalog = { tools: row.catalog, skipped: row.skipped };
    if (reread) read = await this.read(tenantId, row.id, patch.name ?? row.name, config, secrets);
    this.assertToolScopes(patch.toolScopes ?? row.toolScopes, read);
    Object.assign(row, {
      name: patch.name ?? row.name,
      prefix,
      enabled: patch.enabled ?? row.enabled,
      scopes: patch.scopes ?? row.scopes,
      toolScopes: patch.toolScopes ?? row.toolScopes,
      config,
      secrets: this.live.sealSecrets(secrets),
      ...(reread
        ? {
            catalog: read.tools,
            skipped: read.skipped,
            refreshedAt: new Date(),
            lastSuccessAt: new Date(),
          }
        : {}),
    });
    const saved = await this.save(row);
    await this.live.forget(row.id);
    this.changed(tenantId);
    return saved;
  }

  async remove(tenantId: string, id: string): Promise<ToolSourceRecord> {
    const row = await this.get(tenantId, id);
    await this.sources.delete({ tenantId, id });
    await this.live.forget(id);
    const names = row.catalog.map((t) => sourceToolName(row.prefix, t.name));
    await this.grants.forget(
      tenantId,
      names.filter((n): n is string => n !== undefined),
    );
    this.changed(tenantId);
    return row;
  }

  /** Reads the source's catalog again; a failure is recorded on the source and keeps the old one. */
  async refresh(tenantId: string, id: string): Promise<ToolSourceRecord> {
    const row = await this.get(tenantId, id);
    let read: ReadCatalog;
    try {
      read = await this.read(tenantId, row.id, row.name, row.config, this.live.loaded(row).secrets);
    } catch (err) {
      await this.sources.update(
        { tenantId, id },
        { lastError: (err as Error).message.slice(0, 500), lastErrorAt: new Date() },
      );
      throw err;
    }
    row.catalog = read.tools;
    row.skipped = read.skipped;
    row.refreshedAt = new Date();
    row.lastSuccessAt = new Date();
    const saved = await this.sources.save(row);
    await this.live.forget(row.id);
    this.changed(tenantId);
    return saved;
  }

  private changed(tenantId: string): void {
    this.changes.publish({ kind: 'catalog', tenantId });
  }

  private assertPrefix(prefix: string): void {
    if (this.catalog.prefixTaken(prefix)) {
      throw new ConflictException(
        `prefix "${prefix}" would mix with the built-in tools (${prefix}_…); choose another prefix`,
      );
    }
  }

  private assertToolScopes(
    toolScopes: Record<string, string[]> | undefined,
    read: ReadCatalog,
  ): void {
    const known = new Set(read.tools.map((t) => t.name));
    const unknown = Object.keys(toolScopes ?? {}).filter((t) => !known.has(t));
    if (unknown.length) {
      throw new BadRequestException(
        `invalid request body: toolScopes: unknown tool ${unknown.join(', ')} (the source has: ${[...known].join(', ') || 'no tools'})`,
      );
    }
  }

  /** The catalog of a source about to be saved; every refusal is a client error with the reason. */
  private async read(
    tenantId: string,
    id: string,
    name: string,
    config: SourceConfig,
    secrets: SourceSecrets,
  ): Promise<ReadCatalog> {
    const source: LoadedSource = { id, tenantId, name, version: Date.now(), config, secrets };
    try {
      for (const [field, url] of urlsOf(config)) {
        try {
          await this.egress.check(url);
        } catch (err) {
          if (err instanceof EgressRefused)
            throw new BadRequestException(`${field}: ${err.message}`);
          throw err;
        }
      }
      return config.kind === 'mcp'
        ? await this.mcp.readCatalog(source as LoadedSource<McpSourceConfig>)
        : await this.openapi.readCatalog(source as LoadedSource<OpenApiSourceConfig>);
    } catch (err) {
      if (err instanceof BadRequestException) throw err;
      if (err instanceof EgressRefused) throw new BadRequestException(err.message);
      if (err instanceof CredentialRefused) {
        throw new BadRequestException(`credential: ${err.message}; nothing was saved`);
      }
      if (err instanceof OpenApiDocumentError) {
        throw new BadRequestException(`invalid OpenAPI document: ${err.message}`);
      }
      if (err instanceof UpstreamError) {
        throw new BadGatewayException(`${err.message}; nothing was saved`);
      }
      throw err;
    }
  }

  private async save(row: ToolSourceRecord): Promise<ToolSourceRecord> {
    try {
      return await this.sources.save(row);
    } catch (err) {
      if (isUniqueViolation(err, 'tool_sources_name_key')) {
        throw new ConflictException(
          `a tool source named "${row.name}" exists already in this tenant`,
        );
      }
      if (isUniqueViolation(err, 'tool_sources_prefix_key')) {
        throw new ConflictException(
          `another tool source of this tenant uses the prefix "${row.prefix}"; choose another prefix`,
        );
      }
      throw err;
    }
  }
}

/** Every URL a source makes the platform fetch, with the field that names it. */
function urlsOf(config: SourceConfig): [string, string][] {
  if (config.kind === 'mcp') return [['url', config.url]];
  return [
    ['baseUrl', config.baseUrl],
    ...(config.documentUrl ? [['documentUrl', config.documentUrl] as [string, string]] : []),
    ...(config.credential?.kind === 'oauth'
      ? [['credential.tokenUrl', config.credential.tokenUrl] as [string, string]]
      : []),
  ];
}

function mcpParts(input: McpSourceInput): { config: McpSourceConfig; secrets: SourceSecrets } {
  const headers = input.headers ?? {};
  return {
    config: {
      kind: 'mcp',
      url: input.url,
      transport: input.transport ?? 'auto',
      headerNames: Object.keys(headers).sort(),
    },
    secrets: Object.keys(headers).length ? { headers } : {},
  };
}

function openApiParts(
  input: OpenApiSourceInput,
  kept: { config: OpenApiSourceConfig['credential']; secret: string | undefined } | undefined,
): { config: OpenApiSourceConfig; secrets: SourceSecrets } {
  const c = input.credential;
  const credential: OpenApiSourceConfig['credential'] = kept
    ? kept.config
    : !c
      ? undefined
      : 'header' in c
        ? { kind: 'header', header: c.header }
        : {
            kind: 'oauth',
            tokenUrl: c.tokenUrl,
            clientId: c.clientId,
            ...(c.scope ? { scope: c.scope } : {}),
          };
  const secret = kept ? kept.secret : !c ? undefined : 'header' in c ? c.value : c.clientSecret;
  return {
    config: {
      kind: 'openapi',
      baseUrl: input.baseUrl,
      ...(input.documentUrl ? { documentUrl: input.documentUrl } : { document: input.document }),
      ...(input.operations ? { operations: input.operations } : {}),
      ...(credential ? { credential } : {}),
    },
    secrets: secret !== undefined ? { credential: secret } : {},
  };
}
