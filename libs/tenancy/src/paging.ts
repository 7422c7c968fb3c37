import { ObjectLiteral, SelectQueryBuilder } from 'typeorm';
import { decodeCursor, encodeCursor, Page } from '@app/database';

export interface PageRequest {
  limit: number;
  cursor?: string;
}

/** Keyset pagination over (created_at, id), oldest first. */
export async function paginate<T extends ObjectLiteral & { createdAt: Date; id: string }>(
  qb: SelectQueryBuilder<T>,
  alias: string,
  page: PageRequest,
): Promise<Page<T>> {
  if (page.cursor) {
    const c = decodeCursor(page.cursor);
    qb.andWhere(`(${alias}.created_at, ${alias}.id) > (:cAt, :cId)`, { cAt: c.at, cId: c.id });
  }
  const rows = await qb
    .orderBy(`${alias}.created_at`, 'ASC')
    .addOrderBy(`${alias}.id`, 'ASC')
    .limit(page.limit + 1)
    .getMany();
  const items = rows.slice(0, page.limit);
  const last = items[items.length - 1];
  return {
    items,
    nextCursor:
      rows.length > page.limit && last ? encodeCursor({ at: last.createdAt, id: last.id }) : null,
  };
}
