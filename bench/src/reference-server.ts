/**
 * The reference the platform is measured against: nothing but @modelcontextprotocol/sdk and
 * Express, exposing the same `add` tool as the platform (a, b numbers → `{result}` as
 * structuredContent plus text). No auth, no tenancy, no database.
 *
 *   REF_MODE=stateless  a new McpServer per request; StreamableHTTPServerTransport with
 *                       sessionIdGenerator: undefined, enableJsonResponse: true (JSON bodies)
 *   REF_MODE=stateful   sessions created by initialize and kept in a map (the SDK's own example);
 *                       responses are SSE-framed, like the platform's stateful mode
 *
 * Listens on 127.0.0.1:PORT (0 = any free port) at POST/GET/DELETE /mcp. When started by the
 * bench (with an IPC channel) it reports { ready: port } and exits when the bench goes away.
 *
 *   REF_MODE=stateful node dist/bench/reference-server.js
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import express, { type Request, type Response } from 'express';
import { z } from 'zod';

const HOST = '127.0.0.1';

function buildServer(): McpServer {
  const server = new McpServer({ name: 'reference', version: '1.0.0' });
  server.registerTool(
    'add',
    {
      title: 'Add',
      description: 'Adds two numbers: a + b.',
      inputSchema: {
        a: z.number().describe('First operand'),
        b: z.number().describe('Second operand'),
      },
      outputSchema: { result: z.number() },
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    },
    ({ a, b }) => {
      const out = { result: a + b };
      return { content: [{ type: 'text', text: JSON.stringify(out) }], structuredContent: out };
    },
  );
  return server;
}

function jsonRpcError(res: Response, status: number, message: string): void {
  res.status(status).json({ jsonrpc: '2.0', error: { code: -32000, message }, id: null });
}

const internalError = (res: Response, err: unknown) => {
  if (!res.headersSent) {
    jsonRpcError(res, 500, `Internal error: ${err instanceof Error ? err.message : String(err)}`);
  }
};

function statelessRoutes(app: express.Express): void {
  app.post('/mcp', async (req: Request, res: Response) => {
    const server = buildServer();
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    try {
      await server.connect(transport);
      await transport.handleRequest(req, res, req.body);
    } catch (err) {
      internalError(res, err);
    }
  });
  const notAllowed = (_req: Request, res: Response) => {
    res.setHeader('Allow', 'POST');
    jsonRpcError(res, 405, 'Method not allowed');
  };
  app.get('/mcp', notAllowed);
  app.delete('/mcp', notAllowed);
}

function statefulRoutes(app: express.Express): void {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  app.post('/mcp', async (req: Request, res: Response) => {
    try {
      const id = req.headers['mcp-session-id'];
      if (typeof id === 'string') {
        const transport = transports.get(id);
        if (!transport) return jsonRpcError(res, 404, 'Session not found');
        return await transport.handleRequest(req, res, req.body);
      }
      if (!isInitializeRequest(req.body)) {
        return jsonRpcError(res, 400, 'Bad Request: no valid session id');
      }
      const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sid) => void transports.set(sid, transport),
      });
      transport.onclose = () => {
        if (transport.sessionId) transports.delete(transport.sessionId);
      };
      await buildServer().connect(transport);
      await transport.handleRequest(req, res, req.body);
    } catch (err) {
      internalError(res, err);
    }
  });
  const toSession = async (req: Request, res: Response) => {
    const id = req.headers['mcp-session-id'];
    const transport = typeof id === 'string' ? transports.get(id) : undefined;
    if (!transport) return jsonRpcError(res, 404, 'Session not found');
    await transport.handleRequest(req, res);
  };
  app.get('/mcp', toSession);
  app.delete('/mcp', toSession);
}

function serve(): void {
  const mode = process.env.REF_MODE === 'stateful' ? 'stateful' : 'stateless';
  const port = Number(process.env.PORT || 0);
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '1mb' }));
  if (mode === 'stateless') statelessRoutes(app);
  else statefulRoutes(app);

  const listener = app.listen(port, HOST, () => {
    const { port: bound } = listener.address() as AddressInfo;
    if (process.send) process.send({ ready: bound, mode });
    else process.stdout.write(`reference server (${mode}) on http://${HOST}:${bound}/mcp\n`);
  });
  const stop = () => {
    listener.close();
    listener.closeAllConnections?.();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // Started by the bench: never outlive it.
  if (process.send) process.on('disconnect', stop);
}

serve();
