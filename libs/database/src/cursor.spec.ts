import { BadRequestException } from '@nestjs/common';
import { decodeCursor, encodeCursor } from './cursor';

describe('page cursors', () => {
  it('round-trips a position', () => {
    const at = new Date('2026-01-02T03:04:05.678Z');
    const id = '2f1b7a8e-0d0e-4a57-9d51-0f3c7f6c9f10';
    expect(decodeCursor(encodeCursor({ at, id }))).toEqual({ at, id });
  });

  const enc = (s: string) => Buffer.from(s).toString('base64url');
  it.each([
    '',
    'garbage',
    enc("x|'; drop table tenants"),
    enc('2026-01-01T00:00:00Z|----'),
    enc('2026-01-01T00:00:00Z|' + 'a'.repeat(40)),
    enc('+275000-01-01T00:00:00Z|2f1b7a8e-0d0e-4a57-9d51-0f3c7f6c9f10'),
  ])('rejects %p with a 400', (raw) => {
    expect(() => decodeCursor(raw)).toThrow(BadRequestException);
  });
});
