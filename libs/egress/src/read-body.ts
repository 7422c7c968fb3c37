import { ResponseTooLarge, safeUrl } from './errors';

/**
 * The whole body, or ResponseTooLarge as soon as it passes `maxBytes` (the stream is cancelled,
 * so the rest is never downloaded). A Content-Length over the cap is refused before reading.
 */
export async function readBodyCapped(res: Response, maxBytes: number): Promise<Buffer> {
  const url = res.url ? safeUrl(new URL(res.url)) : undefined;
  const declared = res.headers.get('content-length')?.trim();
  const encoding = res.headers.get('content-encoding')?.trim().toLowerCase();
  // A compressed body is decoded on the way, so its Content-Length says nothing about what we read.
  if (declared && /^\d+$/.test(declared) && (!encoding || encoding === 'identity')) {
    if (Number(declared) > maxBytes) {
      await res.body?.cancel().catch(() => undefined);
      throw new ResponseTooLarge(maxBytes, url);
    }
  }
  if (!res.body) return Buffer.alloc(0);
  const reader = res.body.getReader() as ReadableStreamDefaultReader<Uint8Array>;
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new ResponseTooLarge(maxBytes, url);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total);
}
