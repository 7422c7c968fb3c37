import type { NextFunction, Request, Response } from 'express';

const MCP_PATH = /^\/t\/[^/]+\/(mcp|messages)(\?|$)/;

interface BodyParserError {
  type?: string;
  status?: number;
}

/**
 * Express error middleware placed right after the body parsers: a body that is not JSON or is too
 * large is the client's mistake, answered in the shape the route speaks (JSON-RPC on MCP routes).
 */
export function bodyParserErrors(
  err: unknown,
  req: Request,
  res: Response,
  next: NextFunction,
): void {
  const e = err as BodyParserError;
  const known =
    e?.type === 'entity.parse.failed'
      ? { status: 400, code: -32700, message: 'Parse error: the request body is not valid JSON' }
      : e?.type === 'entity.too.large'
        ? { status: 413, code: -32600, message: 'request body is larger than the 1 MiB limit' }
        : undefined;
  if (!known) return next(err);
  if (MCP_PATH.test(req.originalUrl)) {
    res
      .status(known.status)
      .json({ jsonrpc: '2.0', error: { code: known.code, message: known.message }, id: null });
    return;
  }
  res.status(known.status).json({
    statusCode: known.status,
    error: known.status === 400 ? 'Bad Request' : 'Payload Too Large',
    message: known.message,
  });
}
