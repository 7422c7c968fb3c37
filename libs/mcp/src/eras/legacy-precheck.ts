import { Injectable } from '@nestjs/common';
import type { Response } from 'express';
import { JSONRPC_INVALID_REQUEST, JSONRPC_SESSION_NOT_FOUND, sendJsonRpcError } from '../jsonrpc';
import { attachAuth, type McpExchange, type McpRequest } from '../mcp-exchange';
import type { McpSession } from '../session-store';
import { ToolSurface } from '../tool-surface';

/** The methods that use one capability, checked against the policy before any SDK sees them. */
export const PRECHECKED: ReadonlySet<string> = new Set([
  'tools/call',
  'resources/read',
  'prompts/get',
]);

/**
 * What the 2025-era transports check before their SDK sees a message: batches are refused, and a
 * `tools/call` goes through the same HTTP pre-check as in every era.
 */
@Injectable()
export class LegacyPrecheck {
  constructor(private readonly surface: ToolSurface) {}

  async passes({ req, res }: McpExchange): Promise<boolean> {
    if (Array.isArray(req.body)) {
      sendJsonRpcError(
        res,
        400,
        JSONRPC_INVALID_REQUEST,
        'JSON-RPC batches are not supported: send one message per request',
      );
      return false;
    }
    attachAuth(req);
    const body = req.body as { method?: unknown; params?: unknown } | null;
    if (!body || typeof body.method !== 'string' || !PRECHECKED.has(body.method)) return true;
    return this.surface.precheck(req, res, '2025', body.method, body.params);
  }
}

/** A session of another principal is answered exactly like one that does not exist. */
export function sessionNotFound(res: Response, message?: string): void {
  sendJsonRpcError(
    res,
    404,
    JSONRPC_SESSION_NOT_FOUND,
    message ?? 'Session not found: initialize a new session',
  );
}

export function sessionOwner(
  req: McpRequest,
): Pick<McpSession, 'tenantId' | 'principalId' | 'keyId' | 'lastSeen'> {
  return {
    tenantId: req.tenant.id,
    principalId: req.user.id,
    keyId: req.user.keyId,
    lastSeen: Date.now(),
  };
}
