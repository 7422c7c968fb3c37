'use strict';
/**
 * The noisy neighbour of `npm run bench`: in a process of its own (so that building and sending
 * its bodies does not stall the bench's own latency measurements), it sends `tools/call add` with
 * about 1 MiB of arguments to one tenant's endpoint as fast as `connections` connections allow,
 * for `seconds`, then prints a JSON summary on stdout.
 *
 *   node bench/attacker.js <url> <bearer key> <connections> <seconds>
 */
const autocannon = require('autocannon');

const [url, key, connections, seconds] = process.argv.slice(2);
const numbers = [];
let size = 0;
for (let i = 0; size < 1_000_000; i++) {
  numbers.push(i % 10);
  size += 2;
}
const body = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: { name: 'add', arguments: { a: 1, b: 2, padding: numbers } },
});

const statuses = {};
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
    connections: Number(connections),
    duration: Number(seconds),
    timeout: 10,
    requests: [{ onResponse: (status) => (statuses[status] = (statuses[status] ?? 0) + 1) }],
  },
  (err, r) => {
    if (err) {
      process.stderr.write(`attacker failed: ${err.message}\n`);
      process.exit(1);
    }
    process.stdout.write(
      JSON.stringify({
        bodyBytes: Buffer.byteLength(body),
        requests: r.requests.total,
        rps: r.requests.total / r.duration,
        statuses,
        socketErrors: r.errors,
        timeouts: r.timeouts,
      }),
    );
    process.exit(0);
  },
);
