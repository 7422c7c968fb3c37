import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatApiKey, parseApiKey } from '@app/tenancy';
import { pollUntil } from './support/http';
import { bearer, initializeRequest, MCP_POST_HEADERS, rawMcp, rawPost } from './support/mcp';
import { ADMIN, ADMIN_TOKEN, startPlatform } from './support/platform';

/** One JSON line of the log, as far as these tests read it. */
interface LogLine {
  level: number;
  msg?: string;
  req?: { id?: string; method?: string; url?: string };
  res?: { statusCode?: number };
}

const PINO_DEBUG = 20;
const PINO_INFO = 30;

async function readLog(file: string): Promise<{ text: string; lines: LogLine[] }> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const lines = text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as LogLine);
  return { text, lines };
}

/** The access-log lines of one request, found by its request id. */
const accessLines = (lines: LogLine[], requestId: string) =>
  lines.filter((l) => l.req?.id === requestId && l.res?.statusCode !== undefined);

/** The request id the platform assigned, from the response header. */
function requestIdOf(headers: Headers): string {
  const id = headers.get('x-request-id');
  if (!id) throw new Error('response without X-Request-Id');
  return id;
}

describe('access log', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcp-platform-access-log-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe('at LOG_LEVEL info', () => {
    const QUERY_SECRET = 'secretvalue';
    let file: string;
    let slug: string;
    let key: string;
    let wrongKey: string;
    let ids: { admin: string; mcpOk: string; mcpRefused: string; mcpQuery: string };
    let statuses: { mcpRefused: number; mcpQuery: number };
    let log: { text: string; lines: LogLine[] };

    beforeAll(async () => {
      file = join(dir, 'info.log');
      const p = await startPlatform({ LOG_FILE: file, LOG_LEVEL: 'info' });
      try {
        const t = await p.admin.tenantWithKey(['math:use']);
        slug = t.slug;
        key = t.key;
        wrongKey = formatApiKey(parseApiKey(t.key)!.keyId, 'W'.repeat(32));

        const ok = await rawPost(p, slug, initializeRequest(), bearer(key));
        expect(ok.status).toBe(200);
        const refused = await rawPost(p, slug, initializeRequest(), bearer(wrongKey));
        expect(refused.status).toBe(401);
        const query = await rawMcp(p, slug, {
          path: `mcp?api_key=${QUERY_SECRET}`,
          headers: { ...MCP_POST_HEADERS, ...bearer(key) },
          body: initializeRequest(),
        });
        expect(query.status).toBeGreaterThanOrEqual(400);
        const admin = await p.http().get('/admin/tenants').set(ADMIN).expect(200);

        ids = {
          admin: String(admin.headers['x-request-id']),
          mcpOk: requestIdOf(ok.headers),
          mcpRefused: requestIdOf(refused.headers),
          mcpQuery: requestIdOf(query.headers),
        };
        statuses = { mcpRefused: refused.status, mcpQuery: query.status };
      } finally {
        await p.close();
      }
      // Lines are written asynchronously, in order: once the last request's is there, all are.
      log = await pollUntil(5_000, 'the access-log line of the last request', async () => {
        const read = await readLog(file);
        return accessLines(read.lines, ids.admin).length ? read : undefined;
      });
    });

    it('logs an admin request at info with its method, URL, id and status', () => {
      expect(accessLines(log.lines, ids.admin)).toEqual([
        expect.objectContaining({
          level: PINO_INFO,
          msg: 'request completed',
          req: expect.objectContaining({ id: ids.admin, method: 'GET', url: '/admin/tenants' }),
          res: { statusCode: 200 },
        }),
      ]);
    });

    it('logs a refused MCP request at info, once, under the id the client was given', () => {
      expect(accessLines(log.lines, ids.mcpRefused)).toEqual([
        expect.objectContaining({
          level: PINO_INFO,
          msg: 'request completed',
          req: expect.objectContaining({
            id: ids.mcpRefused,
            method: 'POST',
            url: `/t/${slug}/mcp`,
          }),
          res: { statusCode: 401 },
        }),
      ]);
      expect(statuses.mcpRefused).toBe(401);
    });

    it('does not log a successful MCP request at info', () => {
      expect(accessLines(log.lines, ids.mcpOk)).toEqual([]);
      const mcpAccessLines = log.lines.filter(
        (l) => l.req?.url?.startsWith(`/t/${slug}/`) && l.res?.statusCode === 200,
      );
      expect(mcpAccessLines).toEqual([]);
    });

    it('masks query values in the logged URL and never writes them anywhere', () => {
      expect(accessLines(log.lines, ids.mcpQuery)).toEqual([
        expect.objectContaining({
          level: PINO_INFO,
          req: expect.objectContaining({ url: `/t/${slug}/mcp?api_key=[redacted]` }),
          res: { statusCode: statuses.mcpQuery },
        }),
      ]);
      expect(log.text).not.toContain(QUERY_SECRET);
    });

    it('never writes an API key or the admin token', () => {
      expect(log.lines.length).toBeGreaterThan(0);
      expect(log.text).not.toContain(key);
      expect(log.text).not.toContain(wrongKey);
      expect(log.text).not.toContain(parseApiKey(key)!.secret);
      expect(log.text).not.toContain(ADMIN_TOKEN);
    });
  });

  describe('at LOG_LEVEL debug', () => {
    it('logs a successful MCP request at debug with its status', async () => {
      const file = join(dir, 'debug.log');
      const p = await startPlatform({ LOG_FILE: file, LOG_LEVEL: 'debug' });
      let slug: string;
      let id: string;
      try {
        const t = await p.admin.tenantWithKey(['math:use']);
        slug = t.slug;
        const ok = await rawPost(p, slug, initializeRequest(), bearer(t.key));
        expect(ok.status).toBe(200);
        id = requestIdOf(ok.headers);
      } finally {
        await p.close();
      }

      const lines = await pollUntil(5_000, 'the access-log line', async () => {
        const found = accessLines((await readLog(file)).lines, id);
        return found.length ? found : undefined;
      });
      expect(lines).toEqual([
        expect.objectContaining({
          level: PINO_DEBUG,
          msg: 'request completed',
          req: expect.objectContaining({ id, method: 'POST', url: `/t/${slug}/mcp` }),
          res: { statusCode: 200 },
        }),
      ]);
    });
  });
});
