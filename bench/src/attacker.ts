/**
 * The noisy neighbour of `npm run bench`: in a process of its own (so that building and sending
 * its bodies does not stall the bench's own latency measurements), it sends `tools/call add` with
 * about 1 MiB of arguments to one tenant's endpoint as fast as `connections` connections allow,
 * for `seconds`, then prints a JSON summary (AttackerSummary) on stdout.
 *
 *   node dist/bench/attacker.js <url> <bearer key> <connections> <seconds>
 */
import autocannon from 'autocannon';

export interface AttackerSummary {
  bodyBytes: number;
  requests: number;
  rps: number;
  statuses: Record<string, number>;
  socketErrors: number;
  timeouts: number;
}

function attack(url: string, key: string, connections: number, seconds: number): void {
  const numbers: number[] = [];
  for (let size = 0, i = 0; size < 1_000_000; i++, size += 2) numbers.push(i % 10);
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'tools/call',
    params: { name: 'add', arguments: { a: 1, b: 2, padding: numbers } },
  });
  const statuses: Record<string, number> = {};
  autocannon(
    {
      url,
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${key}`,
      },
      body,
      connections,
      duration: seconds,
      timeout: 10,
      requests: [{ onResponse: (status) => void (statuses[status] = (statuses[status] ?? 0) + 1) }],
    },
    (err: unknown, r) => {
      if (err) {
        process.stderr.write(
          `attacker failed: ${err instanceof Error ? err.message : JSON.stringify(err)}\n`,
        );
        process.exit(1);
      }
      const summary: AttackerSummary = {
        bodyBytes: Buffer.byteLength(body),
        requests: r.requests.total,
        rps: r.requests.total / r.duration,
        statuses,
        socketErrors: r.errors,
        timeouts: r.timeouts,
      };
      process.stdout.write(JSON.stringify(summary));
      process.exit(0);
    },
  );
}

if (require.main === module) {
  const [url, key, connections, seconds] = process.argv.slice(2);
  attack(url, key, Number(connections), Number(seconds));
}
