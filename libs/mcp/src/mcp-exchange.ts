import { Injectable } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import type { Response } from 'express';
import type { AuthenticatedRequest, Principal } from '@app/auth';
import { PlatformConfig, type TenantEndpoint } from '@app/config';
import { BodyRefused, createJsonBodyReader } from '@app/observability';
import type { Tenant } from '@app/tenancy';
import { ToolRegistry } from '@app/tools';
import { sendJsonRpcError } from './jsonrpc';
import { peekMethod } from './peek-method';

/** What both SDKs read from `req.auth`: plain data, the principal among it. */
export interface PlatformAuthInfo {
  token: string;
  clientId: string;
  scopes: string[];
  extra: { principal: Principal; requestId?: string | string[]; session?: unknown };
}

export type McpRequest = AuthenticatedRequest & {
  auth?: PlatformAuthInfo;
  tenant: Tenant;
  user: Principal;
  /** Size of the JSON body as received, once read. */
  bodyBytes?: number;
  /** Set once the body was read (it may be empty or not JSON). */
  bodyRead?: true;
};

/** One HTTP request to a tenant's MCP endpoints, authenticated by the global guard. */
export interface McpExchange {
  readonly req: McpRequest;
  readonly res: Response;
  /** `mcp` (Streamable HTTP, both eras), or `sse` / `messages` (the 2024-11-05 transport). */
  readonly endpoint: TenantEndpoint;
  /** When the request reached the endpoint, just authenticated (ms since the epoch). */
  readonly arrivedAt: number;
}

export const JSONRPC_INVALID_PARAMS = -32602;

export function tooLarge(bytes: number, limit: number, tool?: string): string {
  const what = tool
    ? `a tools/call of ${tool} may take at most ${limit} bytes (its argument limit)`
    : `no request may take more than ${limit} bytes (the largest tool-argument limit)`;
  return `Invalid params: the request is ${bytes} bytes; ${what}: send smaller arguments`;
}

/** Sets `req.auth` for the SDK of either era from the principal the guard put on the request. */
export function attachAuth(req: McpRequest): PlatformAuthInfo {
  req.auth = {
    token: '',
    clientId: req.user.id,
    scopes: [...req.user.scopes],
    // The SDK transport rebuilds headers from the raw request, so the id we assigned travels here.
    extra: { principal: req.user, requestId: req.headers['x-request-id'] },
  };
  return req.auth;
}

type BodyReader = ReturnType<typeof createJsonBodyReader>;

/**
 * Reads MCP bodies once the request is authenticated. Requests outside a session may carry no
 * more than the largest tool-argument limit; messages inside a 2025 session may be responses to
 * the server's own requests (sampling, say), larger than any request, while a request among them
 * is still held to the limit.
 */
@Injectable()
export class McpBodies {
  private readonly request: BodyReader;
  private readonly sessionMessage: BodyReader;

  constructor(config: PlatformConfig, registry: ToolRegistry) {
    const measure = (raw: Buffer, req: IncomingMessage & { bodyBytes?: number }) => {
      req.bodyBytes = raw.length;
    };
    this.request = createJsonBodyReader({
      timeoutMs: config.requestTimeoutMs,
      limit: () => registry.largestArgumentBytes(),
      tooLarge: (bytes, limit) => ({
        status: 413,
        code: JSONRPC_INVALID_PARAMS,
        message: tooLarge(bytes, limit),
      }),
      inspect: measure,
    });
    this.sessionMessage = createJsonBodyReader({
      timeoutMs: config.requestTimeoutMs,
      inspect: (raw, req) => {
        measure(raw, req);
        // Judged from the bytes, before parsing costs anything: a response has no method.
        const largest = registry.largestArgumentBytes();
        if (raw.length > largest && peekMethod(raw) !== null) {
          throw new BodyRefused(413, JSONRPC_INVALID_PARAMS, tooLarge(raw.length, largest));
        }
      },
    });
  }

  /** Reads the JSON body unless already read; answers refusals itself and then returns false. */
  async receive({ req, res }: McpExchange, kind: 'request' | 'session-message'): Promise<boolean> {
    if (req.bodyRead) return true;
    const outcome = await (kind === 'request' ? this.request : this.sessionMessage)(req, res);
    req.bodyRead = true;
    if (outcome.ok) return true;
    if (!outcome.gone && !res.headersSent) {
      sendJsonRpcError(res, outcome.status, outcome.code, outcome.message);
    }
    return false;
  }
}
