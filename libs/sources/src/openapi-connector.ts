import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { PlatformConfig } from '@app/config';
import { EgressPolicy, readBodyCapped, ResponseTooLarge } from '@app/egress';
import { ToolContent } from '@app/tools';
import {
  describeFailure,
  type LoadedSource,
  type ReadCatalog,
  UpstreamError,
} from './loaded-source';
import { buildRequest, loadOpenApiDocument, operationTools, toToolResult } from './openapi';
import type { CatalogTool, OpenApiSourceConfig } from './tool-source.entity';

type OpenApiSource = LoadedSource<OpenApiSourceConfig>;

/** The token endpoint refused the source's client credentials. */
export class CredentialRefused extends UpstreamError {}

/** The largest OpenAPI document fetched from a URL, and the largest API answer relayed. */
export const MAX_DOCUMENT_BYTES = 5 * 1024 * 1024;
export const MAX_ANSWER_BYTES = 1024 * 1024;

type OAuthCredential = Extract<OpenApiSourceConfig['credential'], { kind: 'oauth' }>;
type Token = Promise<{ token: string; expires: number }>;

/**
 * HTTP APIs described by OpenAPI: each selected operation is a tool; a call becomes one request
 * built from the document, with the source's credential (a header, or an OAuth client-credentials
 * token fetched and kept until shortly before it expires) and never the caller's.
 */
@Injectable()
export class OpenApiConnector {
  private readonly tokens = new LRUCache<string, Token>({ max: 1_000 });

  constructor(
    private readonly egress: EgressPolicy,
    private readonly config: PlatformConfig,
  ) {}

  /** The document as the source has it: fetched from its URL (under the egress policy) or inline. */
  async document(source: OpenApiSource): Promise<unknown> {
    const { documentUrl, document } = source.config;
    if (!documentUrl) return document;
    let res: Response;
    try {
      res = await this.egress.fetch(documentUrl, {
        headers: { accept: 'application/json, application/yaml, text/yaml, */*' },
        timeoutMs: this.config.sourceTimeoutMs,
      });
    } catch (err) {
      if (err instanceof Error && err.name === 'EgressRefused') throw err;
      throw new UpstreamError(`could not fetch ${documentUrl}: ${describeFailure(err)}`);
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      throw new UpstreamError(`could not fetch ${documentUrl}: it answered ${res.status}`);
    }
    try {
      return (await readBodyCapped(res, MAX_DOCUMENT_BYTES)).toString('utf8');
    } catch (err) {
      if (err instanceof ResponseTooLarge) {
        throw new UpstreamError(`${documentUrl} is larger than ${MAX_DOCUMENT_BYTES} bytes`);
      }
      throw new UpstreamError(`could not read ${documentUrl}: ${describeFailure(err)}`);
    }
  }

  async readCatalog(source: OpenApiSource): Promise<ReadCatalog> {
    const doc = await loadOpenApiDocument(await this.document(source));
    await this.tryCredential(source);
    const c = source.config.credential;
    const { tools, skipped } = operationTools(doc, source.config.operations, {
      credentialHeaders: c?.kind === 'header' ? [c.header] : [],
    });
    return {
      tools: tools.map((op): CatalogTool => ({
        name: op.name,
        ...(op.title ? { title: op.title } : {}),
        description: op.description,
        inputSchema: op.inputSchema,
        annotations: op.annotations,
        operation: op,
      })),
      skipped: skipped.map((s) => ({ name: s.operationId, reason: s.reason })),
    };
  }

  async call(
    source: OpenApiSource,
    tool: CatalogTool,
    args: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<ToolContent> {
    if (!tool.operation) throw new UpstreamError(`${tool.name} has no operation`);
    const request = buildRequest(tool.operation, source.config.baseUrl, args);
    const send = async (fresh: boolean) => {
      const injected = await this.credential(source, fresh);
      // The credential replaces a header of the same name whatever its case: merged, the API would
      // get the caller's value beside it (the catalog leaves such parameters out; this is the net).
      const own = new Set(Object.keys(injected).map((h) => h.toLowerCase()));
      const headers = Object.fromEntries(
        Object.entries(request.headers).filter(([h]) => !own.has(h.toLowerCase())),
      );
      Object.assign(headers, injected);
      return this.egress.fetch(request.url, {
        method: request.method,
        headers,
        body: request.body,
        // A redirect could carry the injected credential elsewhere: it is the API's answer.
        redirect: 'manual',
        signal,
        timeoutMs: this.config.sourceTimeoutMs,
      });
    };
    let res = await send(false);
    if (res.status === 401 && source.config.credential?.kind === 'oauth') {
      await res.body?.cancel().catch(() => undefined);
      res = await send(true);
    }
    let body: string;
    try {
      body = (await readBodyCapped(res, MAX_ANSWER_BYTES)).toString('utf8');
    } catch (err) {
      if (err instanceof ResponseTooLarge) {
        return new ToolContent(
          [
            {
              type: 'text',
              // Not tool.name: that is the operation's, not the prefixed name the caller used.
              text: `the API's answer is larger than ${MAX_ANSWER_BYTES} bytes and was not relayed`,
            },
          ],
          { isError: true },
        );
      }
      throw err;
    }
    const result = toToolResult(res.status, res.statusText, res.headers.get('content-type'), body);
    return new ToolContent(result.content, {
      ...(result.structuredContent ? { structuredContent: result.structuredContent } : {}),
      ...(result.isError ? { isError: true } : {}),
    });
  }

  private async credential(source: OpenApiSource, fresh: boolean): Promise<Record<string, string>> {
    const c = source.config.credential;
    const secret = source.secrets.credential;
    if (!c || secret === undefined) return {};
    if (c.kind === 'header') return { [c.header]: secret };
    return { authorization: `Bearer ${await this.token(c, secret, fresh)}` };
  }

  /**
   * A token for these client credentials, kept until shortly before it expires. Kept by the
   * credentials themselves (hashed), so the token fetched when the source was saved serves its
   * first calls, and a changed credential never gets the old one.
   */
  private async token(c: OAuthCredential, secret: string, fresh: boolean): Promise<string> {
    const key = createHash('sha256')
      .update(JSON.stringify([c.tokenUrl, c.clientId, c.scope ?? null, secret]))
      .digest('base64url');
    let token = this.tokens.get(key);
    if (fresh || !token || (await token.catch(() => ({ expires: 0 }))).expires <= Date.now()) {
      const pending = this.fetchToken(c, secret);
      token = pending;
      this.tokens.set(key, pending);
      pending.catch(() => {
        if (this.tokens.get(key) === pending) this.tokens.delete(key);
      });
    }
    return (await token).token;
  }

  /** OAuth client credentials are tried once when the source is saved, so a typo is found then. */
  private async tryCredential(source: OpenApiSource): Promise<void> {
    const c = source.config.credential;
    if (c?.kind !== 'oauth' || source.secrets.credential === undefined) return;
    await this.token(c, source.secrets.credential, true);
  }

  private async fetchToken(
    c: OAuthCredential,
    clientSecret: string,
  ): Promise<{ token: string; expires: number }> {
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (c.scope) form.set('scope', c.scope);
    const basic = Buffer.from(
      `${encodeURIComponent(c.clientId)}:${encodeURIComponent(clientSecret)}`,
    ).toString('base64');
    let res: Response;
    try {
      res = await this.egress.fetch(c.tokenUrl, {
        method: 'POST',
        headers: {
          authorization: `Basic ${basic}`,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: form.toString(),
        redirect: 'manual',
        timeoutMs: this.config.sourceTimeoutMs,
      });
    } catch (err) {
      if (err instanceof Error && err.name === 'EgressRefused') throw err;
      throw new UpstreamError(`could not get a token from ${c.tokenUrl}: ${describeFailure(err)}`);
    }
    const text = (await readBodyCapped(res, 64 * 1024)).toString('utf8');
    if (!res.ok) {
      // 400 and 401 are how token endpoints refuse a client (RFC 6749 §5.2): the tenant's to fix.
      const refused = res.status === 400 || res.status === 401;
      throw new (refused ? CredentialRefused : UpstreamError)(
        `could not get a token from ${c.tokenUrl}: it answered ${res.status}${refused ? ' (check clientId, clientSecret and scope)' : ''}`,
      );
    }
    let parsed: { access_token?: unknown; expires_in?: unknown };
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      throw new UpstreamError(`${c.tokenUrl} answered something other than a JSON token response`);
    }
    if (typeof parsed.access_token !== 'string' || !parsed.access_token) {
      throw new UpstreamError(`${c.tokenUrl} answered without an access_token`);
    }
    const lifetime = typeof parsed.expires_in === 'number' ? parsed.expires_in : 300;
    // Renewed a little before it expires, so a call never carries a token that lapses on the way.
    return {
      token: parsed.access_token,
      expires: Date.now() + Math.max(10, lifetime - 30) * 1000,
    };
  }
}
