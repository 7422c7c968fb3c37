import {
  Agent,
  createServer,
  IncomingMessage,
  request as httpRequest,
  Server,
  ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A plain round-robin HTTP load balancer on loopback: every request goes to the next backend in
 * turn, headers as sent, bodies streamed both ways. It counts what each backend got.
 */
export interface RoundRobinProxy {
  url: string;
  /** Requests forwarded to each backend, by backend index. */
  counts: number[];
  /** `METHOD path` of every forwarded request, by backend index. */
  seen: string[][];
  close(): Promise<void>;
}

export async function roundRobinProxy(backends: string[]): Promise<RoundRobinProxy> {
  const targets = backends.map((b) => new URL(b));
  const counts = targets.map(() => 0);
  const seen: string[][] = targets.map(() => []);
  const agent = new Agent({ keepAlive: true });
  let next = 0;

  const forward = (req: IncomingMessage, res: ServerResponse) => {
    const i = next;
    next = (next + 1) % targets.length;
    counts[i] += 1;
    seen[i].push(`${req.method} ${req.url}`);
    const target = targets[i];
    const upstream = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.statusMessage, up.rawHeaders);
        // Event streams must reach the client as they are written.
        res.flushHeaders();
        up.pipe(res);
        up.on('error', () => res.destroy());
      },
    );
    upstream.on('error', (err) => {
      if (!res.headersSent) {
        res.writeHead(502, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ statusCode: 502, error: 'Bad Gateway', message: err.message }));
      } else {
        res.destroy();
      }
    });
    // The client went away: so does the upstream request.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  };

  const server: Server = createServer(forward);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    seen,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
