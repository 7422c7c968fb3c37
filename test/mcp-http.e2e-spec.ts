import { ToolRegistry } from '@app/tools';
import {
  bearer,
  initializeRequest,
  MCP_POST_HEADERS,
  rawInitialize,
  rawMcp,
  rawPost,
  TenantWithKey,
  toolsCall,
  toolsList,
} from './support/mcp';
import { usePlatform } from './support/platform';

describe('MCP endpoint HTTP rules', () => {
  const p = usePlatform();
  let t: TenantWithKey;

  beforeAll(async () => {
    t = await p.admin.tenantWithKey(['math:use']);
  });

  describe('request bodies', () => {
    it('refuses a body that is not JSON with 400 and a JSON-RPC parse error, in a session and outside one', async () => {
      for (const headers of [
        bearer(t.key),
        (await rawInitialize(p, t.slug, bearer(t.key))).headers,
      ]) {
        const res = await rawMcp(p, t.slug, {
          headers: { ...MCP_POST_HEADERS, ...headers },
          body: '{"jsonrpc":"2.0","id":1,"method":"tools/list",',
        });
        expect(res.status).toBe(400);
        expect(res.json).toEqual({
          jsonrpc: '2.0',
          id: null,
          error: { code: -32700, message: expect.stringMatching(/^Parse error/) },
        });
      }
    });

    const padded = (bytes: number) => ({
      ...toolsList(),
      params: { _meta: { padding: 'x'.repeat(bytes) } },
    });

    it('refuses a JSON-RPC batch with 400, in a session and outside one', async () => {
      const s = await rawInitialize(p, t.slug, bearer(t.key));
      const inSession = await rawPost(p, t.slug, [toolsList(1), toolsList(2)], s.headers);
      expect(inSession.status).toBe(400);
      expect(inSession.messages[0]?.error?.message).toMatch(/batch/i);
      const init = await rawPost(p, t.slug, [initializeRequest()], bearer(t.key));
      expect(init.status).toBe(400);
      expect(init.headers.get('mcp-session-id')).toBeNull();
    });

    it('refuses a body over 1 MiB with 413', async () => {
      const s = await rawInitialize(p, t.slug, bearer(t.key));
      const big = await rawPost(p, t.slug, padded(1024 * 1024 + 1024), s.headers);
      expect(big.status).toBe(413);
      expect(big.messages[0]?.error?.message).toMatch(/1 MiB/);
    });

    it('refuses a request larger than the largest tool-argument limit before parsing it, and accepts one just under', async () => {
      const s = await rawInitialize(p, t.slug, bearer(t.key));
      const limit = p.app.get(ToolRegistry).largestArgumentBytes();
      const over = await rawPost(p, t.slug, padded(limit), s.headers);
      expect(over.status).toBe(413);
      expect(over.messages[0]?.error).toEqual({
        code: -32602,
        message: expect.stringMatching(/no request may take more than \d+ bytes/),
      });
      const fits = await rawPost(p, t.slug, padded(limit - 1024), s.headers);
      expect(fits.status).toBe(200);
      expect(fits.messages[0]?.result?.tools).toBeDefined();
    });

    it('reads a large response from the client (no method) up to the 1 MiB body limit', async () => {
      const s = await rawInitialize(p, t.slug, bearer(t.key));
      const response = {
        jsonrpc: '2.0',
        id: 'never-asked',
        result: { padding: 'x'.repeat(1000 * 1000) },
      };
      const res = await rawPost(p, t.slug, response, s.headers);
      expect(res.status).not.toBe(413);
      expect(res.status).toBeLessThan(500);
    });

    it('refuses a non-JSON content type with a 4xx, never a 5xx', async () => {
      const s = await rawInitialize(p, t.slug, bearer(t.key));
      for (const headers of [bearer(t.key), s.headers]) {
        const res = await rawMcp(p, t.slug, {
          headers: { ...headers, Accept: MCP_POST_HEADERS.Accept, 'Content-Type': 'text/plain' },
          body: JSON.stringify(toolsList()),
        });
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
        expect([400, 415]).toContain(res.status);
      }
      // A text/plain initialize does not open a session.
      const init = await rawMcp(p, t.slug, {
        headers: {
          ...bearer(t.key),
          Accept: MCP_POST_HEADERS.Accept,
          'Content-Type': 'text/plain',
        },
        body: JSON.stringify(initializeRequest()),
      });
      expect(init.status).toBeGreaterThanOrEqual(400);
      expect(init.status).toBeLessThan(500);
      expect(init.headers.get('mcp-session-id')).toBeNull();
    });
  });

  describe('headers', () => {
    it('answers a POST that does not accept an event stream with 406', async () => {
      const noAccept = await p
        .http()
        .post(`/t/${t.slug}/mcp`)
        .set(bearer(t.key))
        .set('Content-Type', 'application/json')
        .send(initializeRequest());
      expect(noAccept.status).toBe(406);
      expect(noAccept.headers['mcp-session-id']).toBeUndefined();
      const s = await rawInitialize(p, t.slug, bearer(t.key));
      const jsonOnly = await rawMcp(p, t.slug, {
        headers: { ...s.headers, 'Content-Type': 'application/json', Accept: 'application/json' },
        body: toolsCall('add', { a: 1, b: 2 }),
      });
      expect(jsonOnly.status).toBe(406);
    });

    it('refuses an unsupported MCP-Protocol-Version after initialize with 400', async () => {
      const s = await rawInitialize(p, t.slug, bearer(t.key));
      const res = await rawPost(p, t.slug, toolsList(), {
        ...s.headers,
        'MCP-Protocol-Version': '1999-01-01',
      });
      expect(res.status).toBe(400);
      expect(res.messages[0]?.error?.message).toMatch(/1999-01-01/);
      // The session is not harmed by it.
      expect((await rawPost(p, t.slug, toolsList(), s.headers)).status).toBe(200);
    });

    it('answers an unsupported HTTP method with 404 or 405, not 5xx', async () => {
      const res = await rawMcp(p, t.slug, { method: 'PUT', headers: bearer(t.key), body: '{}' });
      expect([404, 405]).toContain(res.status);
    });
  });

  describe('browser protections', () => {
    it('refuses a foreign Origin with 403 on every MCP route', async () => {
      const evil = { Origin: 'https://evil.example' };
      const post = await rawPost(p, t.slug, initializeRequest(), { ...bearer(t.key), ...evil });
      expect(post.status).toBe(403);
      expect(post.headers.get('mcp-session-id')).toBeNull();
      expect((post.json as { message: string }).message).toMatch(/evil\.example/);
      const sse = await rawMcp(p, t.slug, {
        method: 'GET',
        path: 'sse',
        headers: { ...bearer(t.key), ...evil, Accept: 'text/event-stream' },
      });
      expect(sse.status).toBe(403);
      const messages = await rawMcp(p, t.slug, {
        path: 'messages?sessionId=x',
        headers: { ...bearer(t.key), ...evil, 'Content-Type': 'application/json' },
        body: toolsList(),
      });
      expect(messages.status).toBe(403);
      // Without the Origin header the same request is served.
      expect((await rawPost(p, t.slug, initializeRequest(), bearer(t.key))).status).toBe(200);
    });

    it('accepts an Origin the tenant allows, and only for that tenant', async () => {
      const own = await p.admin.tenantWithKey([]);
      const other = await p.admin.tenantWithKey([]);
      const origin = { Origin: 'https://app.example.com' };
      expect(
        (await rawPost(p, own.slug, initializeRequest(), { ...bearer(own.key), ...origin })).status,
      ).toBe(403);
      await p.admin.patchTenant(own.slug, { allowedOrigins: ['https://app.example.com'] });
      const allowed = await rawPost(p, own.slug, initializeRequest(), {
        ...bearer(own.key),
        ...origin,
      });
      expect(allowed.status).toBe(200);
      expect(allowed.headers.get('mcp-session-id')).toBeTruthy();
      // Other origins stay refused on that tenant, and the origin stays refused elsewhere.
      expect(
        (
          await rawPost(p, own.slug, initializeRequest(), {
            ...bearer(own.key),
            Origin: 'https://evil.example',
          })
        ).status,
      ).toBe(403);
      expect(
        (await rawPost(p, other.slug, initializeRequest(), { ...bearer(other.key), ...origin }))
          .status,
      ).toBe(403);
    });

    it('refuses a foreign Host header with 403 (DNS rebinding) while bound to loopback', async () => {
      expect(p.config.host).toBe('127.0.0.1');
      const res = await p
        .http()
        .post(`/t/${t.slug}/mcp`)
        .set('Host', 'evil.example')
        .set(bearer(t.key))
        .set(MCP_POST_HEADERS)
        .send(initializeRequest());
      expect(res.status).toBe(403);
      expect(res.headers['mcp-session-id']).toBeUndefined();
      const ok = await p
        .http()
        .post(`/t/${t.slug}/mcp`)
        .set('Host', `localhost:${p.config.port}`)
        .set(bearer(t.key))
        .set(MCP_POST_HEADERS)
        .send(initializeRequest());
      expect(ok.status).toBe(200);
    });
  });
});
