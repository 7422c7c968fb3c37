import { BadRequestException } from '@nestjs/common';

/** A Postgres uuid literal; anything else never reaches a uuid column (it would be a 500). */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Opaque keyset cursor over (created_at, id). */
export interface PageCursor {
  at: Date;
  id: string;
}

export function encodeCursor(c: PageCursor): string {
  return Buffer.from(`${c.at.toISOString()}|${c.id}`).toString('base64url');
}

export function decodeCursor(raw: string): PageCursor {
  const text = Buffer.from(raw, 'base64url').toString('utf8');
  const [at, id] = text.split('|');
  const date = new Date(at ?? '');
  const year = date.getUTCFullYear();
  if (!id || !UUID_PATTERN.test(id) || Number.isNaN(year) || year < 1 || year > 9999) {
    throw new BadRequestException('cursor is not valid: pass the nextCursor of a previous page');
  }
  return { at: date, id };
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
