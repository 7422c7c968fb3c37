// The module object itself (not a namespace copy), so the resolver can be stubbed in place.
import dns from 'node:dns/promises';
import { getEventListeners } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Test } from '@nestjs/testing';
import { ConfigModule, loadConfig } from '@app/config';
import { EgressPolicy } from './egress-policy';
import { EgressModule } from './egress.module';
import { EgressRefused, EgressTimeout } from './errors';
import { readBodyCapped } from './read-body';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

interface TestServer {
  readonly url: string;
  readonly port: number;
  /** TCP connections accepted, whether or not a request followed. */
  connections: number;
  readonly seen: Seen[];
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()));
});

async function serve(
  handler: (req: IncomingMessage, res: ServerResponse, seen: Seen) => void,
  host = '127.0.0.1',
): Promise<TestServer> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seen = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      state.seen.push(seen);
      handler(req, res, seen);
    });
  });
  server.on('connection', () => state.connections++);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  const { port } = server.address() as AddressInfo;
  const state: TestServer = {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    connections: 0,
    seen: [],
  };
  return state;
}

const ok =
  (body = 'hello') =>
  (_req: IncomingMessage, res: ServerResponse) => {
    res.setHeader('content-type', 'text/plain');
    res.end(body);
  };

const redirectTo =
  (location: string, status = 302) =>
  (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(status, { location });
    res.end('moved');
  };

function policy(allow: string[] = []): EgressPolicy {
  const sut = new EgressPolicy(loadConfig({ EGRESS_ALLOW: allow.join(',') }));
  cleanups.push(() => sut.onApplicationShutdown());
  return sut;
}

async function refusal(promise: Promise<unknown>): Promise<EgressRefused> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof EgressRefused)) {
    throw new Error(
      `expected EgressRefused, got ${err instanceof Error ? err.stack : String(err)}`,
    );
  }
  return err;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe(EgressPolicy.name, () => {
  describe('addresses', () => {
    it('refuses loopback without EGRESS_ALLOW, before connecting', async () => {
      const srv = await serve(ok());
      const sut = policy();

      const err = await refusal(sut.fetch(`${srv.url}/x`));

      expect(err.reason).toBe('address');
      expect(err.url).toBe(`${srv.url}/x`);
      expect(err.message).toBe(
        `${srv.url}/x is not allowed: its host resolves to 127.0.0.1, a loopback address; ` +
          'the operator can allow such ranges with EGRESS_ALLOW',
      );
      expect(srv.connections).toBe(0);
    });

    it('fetches from loopback when EGRESS_ALLOW holds it', async () => {
      const srv = await serve(ok('hello there'));
      const sut = policy(['127.0.0.0/8']);

      const res = await sut.fetch(`${srv.url}/x`);

      expect(res.status).toBe(200);
      expect(await res.text()).toBe('hello there');
      expect(res.url).toBe(`${srv.url}/x`);
      expect(srv.seen.map((s) => s.url)).toEqual(['/x']);
    });

    it('strips userinfo and query from the message', async () => {
      const sut = policy();

      const err = await refusal(sut.fetch('http://user:secret@10.0.0.5:8080/x?token=abc#f'));

      expect(err.url).toBe('http://10.0.0.5:8080/x');
      expect(err.message).toBe(
        'http://10.0.0.5:8080/x is not allowed: its host resolves to 10.0.0.5, a private address; ' +
          'the operator can allow such ranges with EGRESS_ALLOW',
      );
      expect(err.message).not.toMatch(/secret|token|abc/);
    });

    it.each([
      ['http://169.254.169.254/latest/meta-data/', 'link-local'],
      ['http://[::1]:9/', 'loopback'],
      ['http://[::ffff:127.0.0.1]:9/', 'loopback'],
      ['http://0x7f000001:9/', 'loopback'],
      ['http://100.64.0.1/', 'carrier-grade NAT'],
      ['https://[fd00::1]/', 'unique-local'],
    ])('refuses the IP literal in %s as %s', async (url, range) => {
      const sut = policy();

      const err = await refusal(sut.fetch(url));

      expect(err.reason).toBe('address');
      expect(err.message).toContain(` ${range} address;`);
    });

    it('checks a hostname where it connects: localhost is refused unless all its addresses are allowed', async () => {
      const srv = await serve(ok('via localhost'));
      const url = `http://localhost:${srv.port}/`;
      const resolved = (await dns.lookup('localhost', { all: true })).map((a) => a.address);
      const hasV6 = resolved.some((a) => a.includes(':'));

      const refused = await refusal(policy().fetch(url));
      expect(refused.reason).toBe('address');
      expect(refused.message).toMatch(
        /its host resolves to (127\.0\.0\.1|::1), a loopback address/,
      );

      // Any refused address refuses the host, so allowing only 127/8 is not enough where
      // localhost also resolves to ::1.
      const partly = policy(['127.0.0.0/8']).fetch(url);
      if (hasV6) {
        expect((await refusal(partly)).message).toContain('::1, a loopback address');
      } else {
        expect(await (await partly).text()).toBe('via localhost');
      }

      const res = await policy(['127.0.0.0/8', '::1/128']).fetch(url);
      expect(await res.text()).toBe('via localhost');
      expect(srv.connections).toBeGreaterThan(0);
    });

    it('says when a host does not resolve, without resolver details', async () => {
      const sut = policy();

      const err = await refusal(sut.fetch('https://no-such-host.invalid/openapi.json'));

      expect(err.reason).toBe('unresolvable');
      expect(err.message).toBe(
        'https://no-such-host.invalid/openapi.json is not allowed: its host no-such-host.invalid did not resolve',
      );
    });

    it('check() passes an allowed URL and refuses the rest', async () => {
      const sut = policy(['127.0.0.1']);

      await expect(sut.check('http://127.0.0.1:1/')).resolves.toBeUndefined();
      expect((await refusal(policy().check(new URL('http://localhost:1/')))).reason).toBe(
        'address',
      );
      expect((await refusal(sut.check('http://127.0.0.2/'))).reason).toBe('address');
      expect((await refusal(sut.check('http://no-such-host.invalid/'))).reason).toBe(
        'unresolvable',
      );
      expect((await refusal(sut.check('ftp://example.com/'))).reason).toBe('scheme');
    });
  });

  describe('resolution (a stubbed resolver)', () => {
    const resolveTo = (...addresses: string[]) =>
      jest
        .spyOn(dns, 'lookup')
        .mockImplementation((() =>
          Promise.resolve(
            addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
          )) as unknown as typeof dns.lookup);
    afterEach(() => jest.restoreAllMocks());

    it('connects to the address it checked, and sends the original Host', async () => {
      const srv = await serve((_req, res, seen) => res.end(seen.headers.host));
      const stub = resolveTo('127.0.0.1');
      const sut = policy(['127.0.0.1']);

      const res = await sut.fetch(`http://upstream.test:${srv.port}/`);

      expect(await res.text()).toBe(`upstream.test:${srv.port}`);
      expect(stub).toHaveBeenCalledWith('upstream.test', expect.objectContaining({ all: true }));
    });

    it('refuses a host when any of its addresses is refused, and names it', async () => {
      const srv = await serve(ok());
      resolveTo('127.0.0.1', '10.0.0.1');
      const sut = policy(['127.0.0.1']);

      const err = await refusal(sut.fetch(`http://multi.test:${srv.port}/`));

      expect(err.message).toBe(
        `http://multi.test:${srv.port}/ is not allowed: its host resolves to 10.0.0.1, ` +
          'a private address (one of the 2 it resolves to); the operator can allow such ranges with EGRESS_ALLOW',
      );
      expect(srv.connections).toBe(0);
    });

    it('checks again when it connects, so a host that rebinds after check() is refused', async () => {
      const srv = await serve(ok());
      const stub = resolveTo('8.8.8.8');
      const sut = policy();
      await sut.check(`http://rebind.test:${srv.port}/`);
      stub.mockRestore();
      resolveTo('127.0.0.1');

      const err = await refusal(sut.fetch(`http://rebind.test:${srv.port}/`));

      expect(err.message).toContain('resolves to 127.0.0.1, a loopback address');
      expect(srv.connections).toBe(0);
    });
  });

  describe('schemes', () => {
    it.each([
      'file:///etc/passwd',
      'ftp://example.com/x',
      'gopher://127.0.0.1:6379/_INFO',
      'data:,hi',
    ])('refuses %s', async (url) => {
      const sut = policy(['0.0.0.0/0', '::/0']);

      const err = await refusal(sut.fetch(url));

      expect(err.reason).toBe('scheme');
      expect(err.message).toContain('only http: and https: URLs are fetched');
    });

    it('refuses a URL that does not parse, without echoing it', async () => {
      await expect(policy().fetch('http://exa mple.com/?key=secret')).rejects.toThrow(
        /^not a valid URL$/,
      );
    });
  });

  describe('redirects', () => {
    it.each([
      ['127.0.0.2', (port: number) => `http://127.0.0.2:${port}/`],
      ['::1', (port: number) => `http://[::1]:${port}/`],
      ['10.0.0.1', () => 'http://10.0.0.1/'],
    ])('refuses a redirect to %s without connecting there', async (address, target) => {
      // Listening on every address, so an unchecked redirect would reach it.
      const inner = await serve(ok('inner'), '::').catch(() => serve(ok('inner'), '0.0.0.0'));
      const outer = await serve(redirectTo(target(inner.port)));
      const sut = policy(['127.0.0.1/32']);

      const err = await refusal(sut.fetch(`${outer.url}/start?secret=1`));

      expect(err.reason).toBe('address');
      expect(err.message).toContain(`${outer.url}/start redirected to `);
      expect(err.message).toContain(`, which is not allowed: its host resolves to ${address}`);
      expect(err.message).not.toContain('secret');
      expect(inner.connections).toBe(0);
    });

    it('refuses a redirect to another scheme', async () => {
      const outer = await serve(redirectTo('file:///etc/passwd'));
      const sut = policy(['127.0.0.1']);

      const err = await refusal(sut.fetch(outer.url));

      expect(err.reason).toBe('scheme');
      expect(err.message).toContain('redirected to file:///etc/passwd');
    });

    it('follows up to maxRedirects hops and refuses the next', async () => {
      const srv = await serve((req, res) => {
        const n = Number(req.url!.slice(1));
        redirectTo(`/${n + 1}`)(req, res);
      });
      const sut = policy(['127.0.0.1']);

      const err = await refusal(sut.fetch(`${srv.url}/0`, { maxRedirects: 3 }));

      expect(err.reason).toBe('redirects');
      expect(err.url).toBe(`${srv.url}/0`);
      expect(err.message).toBe(`${srv.url}/0 is not allowed: it redirected more than 3 times`);
      expect(srv.seen.map((s) => s.url)).toEqual(['/0', '/1', '/2', '/3']);
    });

    it('follows 5 redirects by default', async () => {
      const srv = await serve((req, res) => {
        const n = Number(req.url!.slice(1));
        if (n < 5) redirectTo(`/${n + 1}`, 307)(req, res);
        else ok(`arrived at ${n}`)(req, res);
      });
      const sut = policy(['127.0.0.1']);

      const res = await sut.fetch(`${srv.url}/0`);

      expect(await res.text()).toBe('arrived at 5');
      expect(res.url).toBe(`${srv.url}/5`);
      expect(res.redirected).toBe(true);
      expect((await refusal(sut.fetch(`${srv.url}/-1`))).reason).toBe('redirects');
    });

    it("returns the 3xx as is with redirect: 'manual'", async () => {
      const srv = await serve(redirectTo('http://10.0.0.1/'));
      const sut = policy(['127.0.0.1']);

      const res = await sut.fetch(srv.url, { redirect: 'manual' });

      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toBe('http://10.0.0.1/');
      expect(await res.text()).toBe('moved');
    });

    it("refuses to follow with redirect: 'error'", async () => {
      const srv = await serve(redirectTo('/next'));

      const err = await refusal(policy(['127.0.0.1']).fetch(srv.url, { redirect: 'error' }));

      expect(err.reason).toBe('redirects');
      expect(srv.seen).toHaveLength(1);
    });

    it.each([
      [303, 'POST', 'GET', ''],
      [303, 'PUT', 'GET', ''],
      [302, 'POST', 'GET', ''],
      [301, 'POST', 'GET', ''],
      [302, 'PUT', 'PUT', 'payload'],
      [307, 'POST', 'POST', 'payload'],
      [308, 'POST', 'POST', 'payload'],
    ])('after %i, %s becomes %s', async (status, method, expected, body) => {
      const srv = await serve((req, res, seen) => {
        if (req.url === '/from') redirectTo('/to', status)(req, res);
        else res.end(JSON.stringify(seen));
      });
      const sut = policy(['127.0.0.1']);

      const res = await sut.fetch(`${srv.url}/from`, {
        method,
        body: 'payload',
        headers: { 'content-type': 'text/plain' },
      });

      const seen = JSON.parse(await res.text()) as Seen;
      expect(seen.method).toBe(expected);
      expect(seen.body).toBe(body);
      expect(seen.headers['content-type']).toBe(body ? 'text/plain' : undefined);
    });

    it('drops credentials on a redirect to another origin, keeps them on the same one', async () => {
      const other = await serve((_req, res, seen) => res.end(JSON.stringify(seen.headers)));
      const srv = await serve((req, res, seen) => {
        if (req.url === '/same') redirectTo('/echo')(req, res);
        else if (req.url === '/echo') res.end(JSON.stringify(seen.headers));
        else redirectTo(`${other.url}/echo`)(req, res);
      });
      const sut = policy(['127.0.0.1']);
      const init = { headers: { authorization: 'Bearer t', cookie: 'c=1', 'x-kept': 'yes' } };

      const same = JSON.parse(await (await sut.fetch(`${srv.url}/same`, init)).text());
      const cross = JSON.parse(await (await sut.fetch(`${srv.url}/cross`, init)).text());

      expect(same).toMatchObject({ authorization: 'Bearer t', cookie: 'c=1', 'x-kept': 'yes' });
      expect(cross['x-kept']).toBe('yes');
      expect(cross.authorization).toBeUndefined();
      expect(cross.cookie).toBeUndefined();
    });
  });

  describe('time', () => {
    it('fails with a clear error when the server never answers', async () => {
      const srv = await serve(() => undefined);
      const sut = policy(['127.0.0.1']);
      const started = Date.now();

      const err = await sut
        .fetch(`${srv.url}/slow?k=s`, { timeoutMs: 150 })
        .catch((e: unknown) => e);

      expect(err).toBeInstanceOf(EgressTimeout);
      expect((err as Error).message).toBe(`${srv.url}/slow did not answer within 150 ms`);
      expect(Date.now() - started).toBeLessThan(2000);
    });

    it('applies the timeout to a body that stalls', async () => {
      const srv = await serve((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"partial":');
      });
      const sut = policy(['127.0.0.1']);

      const res = await sut.fetch(srv.url, { timeoutMs: 150 });

      await expect(res.text()).rejects.toBeInstanceOf(EgressTimeout);
    });

    it('lets an event stream outlive the timeout', async () => {
      const srv = await serve((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: one\n\n');
        setTimeout(() => res.end('data: two\n\n'), 300);
      });
      const sut = policy(['127.0.0.1']);

      const res = await sut.fetch(srv.url, { timeoutMs: 100 });

      expect(await res.text()).toBe('data: one\n\ndata: two\n\n');
    });

    it("honours the caller's signal, with its own reason", async () => {
      const srv = await serve(() => undefined);
      const sut = policy(['127.0.0.1']);
      const controller = new AbortController();
      setTimeout(() => controller.abort(new Error('caller gave up')), 50);

      await expect(sut.fetch(srv.url, { signal: controller.signal })).rejects.toThrow(
        'caller gave up',
      );
    });
  });

  describe('signals', () => {
    it("unlinks from a long-lived caller's signal once each body is done", async () => {
      const srv = await serve(ok('again'));
      const sut = policy(['127.0.0.1']);
      const transport = new AbortController();

      for (let i = 0; i < 3; i++) {
        expect(await (await sut.fetch(srv.url, { signal: transport.signal })).text()).toBe('again');
      }
      await refusal(sut.fetch('http://10.0.0.1/', { signal: transport.signal }));

      expect(getEventListeners(transport.signal, 'abort')).toHaveLength(0);
    });

    it("ends an event stream when the caller's signal aborts", async () => {
      const srv = await serve((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: first\n\n');
      });
      const sut = policy(['127.0.0.1']);
      const controller = new AbortController();

      const res = await sut.fetch(srv.url, { signal: controller.signal });
      const reader = res.body!.getReader();
      expect(new TextDecoder().decode((await reader.read()).value)).toBe('data: first\n\n');
      controller.abort(new Error('session closed'));

      await expect(reader.read()).rejects.toThrow('session closed');
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    });
  });

  describe('fetchFn', () => {
    it('streams a response chunk by chunk', async () => {
      let sendRest!: () => void;
      const rest = new Promise<void>((r) => (sendRest = r));
      const srv = await serve((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.write('event: a\ndata: 1\n\n');
        void rest.then(async () => {
          res.write('event: b\ndata: 2\n\n');
          await sleep(20);
          res.end('event: c\ndata: 3\n\n');
        });
      });
      const sut = policy(['127.0.0.1']).fetchFn;

      const res = await sut(`${srv.url}/sse`, { headers: { accept: 'text/event-stream' } });
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();

      // The first event arrives while the server still holds back the rest.
      expect((await reader.read()).value).toBe('event: a\ndata: 1\n\n');
      sendRest();
      let tail = '';
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        tail += value;
      }
      expect(tail).toBe('event: b\ndata: 2\n\nevent: c\ndata: 3\n\n');
      expect(srv.seen[0].headers.accept).toBe('text/event-stream');
    });

    it('takes a Request: method, headers, body and signal', async () => {
      const srv = await serve((_req, res, seen) => res.end(JSON.stringify(seen)));
      const sut = policy(['127.0.0.1']).fetchFn;

      const res = await sut(
        new Request(`${srv.url}/rpc`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'mcp-session-id': 's1' },
          body: '{"jsonrpc":"2.0"}',
        }),
      );

      const seen = JSON.parse(await res.text()) as Seen;
      expect(seen).toMatchObject({
        method: 'POST',
        url: '/rpc',
        body: '{"jsonrpc":"2.0"}',
        headers: { 'content-type': 'application/json', 'mcp-session-id': 's1' },
      });

      const aborted = new AbortController();
      aborted.abort(new Error('already aborted'));
      await expect(sut(new Request(srv.url, { signal: aborted.signal }))).rejects.toThrow();
    });

    it('takes a URL, and keeps the policy', async () => {
      const srv = await serve(ok('by url'));

      expect(await (await policy(['127.0.0.1']).fetchFn(new URL(srv.url))).text()).toBe('by url');
      expect(await refusal(policy().fetchFn(new URL(srv.url)))).toBeInstanceOf(EgressRefused);
      expect(await refusal(policy().fetchFn(new Request(srv.url)))).toBeInstanceOf(EgressRefused);
      expect(srv.connections).toBe(1);
    });

    it('gives a body readBodyCapped can cap', async () => {
      const srv = await serve((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('x'.repeat(1024));
        res.end('y'.repeat(1024));
      });
      const sut = policy(['127.0.0.1']);

      expect((await readBodyCapped(await sut.fetch(srv.url), 4096)).length).toBe(2048);
      await expect(readBodyCapped(await sut.fetch(srv.url), 1500)).rejects.toThrow(
        `the response from ${srv.url}/ exceeds 1500 bytes`,
      );
    });
  });

  describe('module', () => {
    it('is provided globally from PlatformConfig and closes its connections at shutdown', async () => {
      const srv = await serve(ok('from module'));
      const moduleRef = await Test.createTestingModule({
        imports: [ConfigModule.forRoot(loadConfig({ EGRESS_ALLOW: '127.0.0.1' })), EgressModule],
      }).compile();
      await moduleRef.init();
      const sut = moduleRef.get(EgressPolicy);

      expect(await (await sut.fetch(srv.url)).text()).toBe('from module');
      await moduleRef.close();

      await expect(sut.fetch(srv.url)).rejects.toThrow();
    });
  });
});
