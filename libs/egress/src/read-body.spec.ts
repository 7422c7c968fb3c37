import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ResponseTooLarge } from './errors';
import { readBodyCapped } from './read-body';

/** An endless body of 1 KiB chunks that counts what was pulled and whether it was cancelled. */
function endless() {
  const state = { pulls: 0, cancelled: false };
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      state.pulls++;
      controller.enqueue(new Uint8Array(1024));
    },
    cancel() {
      state.cancelled = true;
    },
  });
  return { body, state };
}

describe(readBodyCapped.name, () => {
  const sut = readBodyCapped;

  it('reads a body under the cap, and one exactly at it', async () => {
    expect((await sut(new Response('hello'), 100)).toString()).toBe('hello');
    expect((await sut(new Response('12345'), 5)).toString()).toBe('12345');
  });

  it('reads an empty body', async () => {
    expect((await sut(new Response(null, { status: 204 }), 10)).length).toBe(0);
  });

  it('stops and cancels a stream as soon as it passes the cap', async () => {
    const { body, state } = endless();

    await expect(sut(new Response(body), 10_000)).rejects.toThrow(
      new ResponseTooLarge(10_000, undefined),
    );

    expect(state.cancelled).toBe(true);
    expect(state.pulls).toBeLessThan(15);
  });

  it('refuses an oversized Content-Length without reading the body', async () => {
    const { body, state } = endless();
    const res = new Response(body, { headers: { 'content-length': '5000' } });
    const pullsBefore = state.pulls;

    await expect(sut(res, 4999)).rejects.toBeInstanceOf(ResponseTooLarge);

    expect(state.cancelled).toBe(true);
    expect(state.pulls).toBe(pullsBefore);
  });

  it('does not trust Content-Length of an encoded body, but still counts what it reads', async () => {
    const encoded = { 'content-encoding': 'gzip' };
    const small = new Response('x'.repeat(40), {
      headers: { ...encoded, 'content-length': '100' },
    });
    const large = new Response('x'.repeat(40), { headers: { ...encoded, 'content-length': '5' } });

    expect((await sut(small, 50)).length).toBe(40);
    await expect(sut(large, 30)).rejects.toBeInstanceOf(ResponseTooLarge);
  });

  it('refuses an announced size over the cap from a real server that never sends it', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-length': '1000000' });
      res.write('only a little');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const res = await fetch(`http://127.0.0.1:${port}/doc?token=t`);

      await expect(sut(res, 1000)).rejects.toThrow(
        `the response from http://127.0.0.1:${port}/doc exceeds 1000 bytes`,
      );
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
