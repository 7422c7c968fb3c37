/**
 * The reference for the modern era (MCP revision 2026-07-28: no initialize, no sessions, a `_meta`
 * envelope on every request): nothing but the v2 SDK, `@modelcontextprotocol/server` and
 * `@modelcontextprotocol/node`, wired exactly as the SDK's "Serve over HTTP" guide shows:
 * `createMcpHandler(factory)`, the factory building a fresh `McpServer` with one `add` tool (a zod
 * input schema `{a, b}` of numbers, answering the text of a + b), mounted on plain `node:http` with
 * `toNodeHandler(handler)` behind the guide's `localhostHostValidation` /
 * `localhostOriginValidation` guards. No auth, no tenancy, no database. 2025-era requests are
 * answered too (the handler's default `legacy: 'stateless'`), but the bench sends it only modern
 * ones.
 *
 * Listens on 127.0.0.1:PORT (0 = any free port) at /mcp. When started by the bench (with an IPC
 * channel) it reports { ready: port } and exits when the bench goes away.
 *
 *   node dist/bench/reference-modern-server.js
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  localhostHostValidation,
  localhostOriginValidation,
  toNodeHandler,
} from '@modelcontextprotocol/node';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';

const HOST = '127.0.0.1';

const handler = createMcpHandler(() => {
  const server = new McpServer({ name: 'reference-modern', version: '1.0.0' });
  server.registerTool(
    'add',
    {
      description: 'Adds two numbers: a + b.',
      inputSchema: z.object({ a: z.number(), b: z.number() }),
    },
    ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }] }),
  );
  return server;
});

function serve(): void {
  const port = Number(process.env.PORT || 0);
  const nodeHandler = toNodeHandler(handler);
  const validateHost = localhostHostValidation();
  const validateOrigin = localhostOriginValidation();
  const listener = createServer((req, res) => {
    if (!validateHost(req, res) || !validateOrigin(req, res)) return;
    if (req.url !== '/mcp') {
      res.writeHead(404).end();
      return;
    }
    void nodeHandler(req, res);
  });
  listener.listen(port, HOST, () => {
    const { port: bound } = listener.address() as AddressInfo;
    if (process.send) process.send({ ready: bound, mode: 'modern' });
    else process.stdout.write(`reference server (modern) on http://${HOST}:${bound}/mcp\n`);
  });
  const stop = () => {
    listener.close();
    listener.closeAllConnections?.();
    void handler.close().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // Started by the bench: never outlive it.
  if (process.send) process.on('disconnect', stop);
}

serve();
