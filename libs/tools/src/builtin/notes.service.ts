import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { type Page, UUID_PATTERN } from '@app/database';
import { PageRequest, paginate } from '@app/tenancy';
import { Note } from './note.entity';

/** Tenant-private notes. Every query is bound to a tenant id. */
@Injectable()
export class NotesService {
  constructor(@InjectRepository(Note) private readonly notes: Repository<Note>) {}

  create(
    tenantId: string,
    input: { title: string; body: string; createdBy: string },
  ): Promise<Note> {
    return this.notes.save(this.notes.create({ tenantId, ...input }));
  }

  async get(tenantId: string, id: string): Promise<Note | null> {
    return UUID_PATTERN.test(id) ? this.notes.findOneBy({ tenantId, id }) : null;
  }

  async delete(tenantId: string, id: string): Promise<boolean> {
    if (!UUID_PATTERN.test(id)) return false;
    const res = await this.notes.delete({ tenantId, id });
    return (res.affected ?? 0) > 0;
  }

  list(tenantId: string, page: PageRequest): Promise<Page<Note>> {
    return paginate(
      this.notes.createQueryBuilder('n').where('n.tenant_id = :tenantId', { tenantId }),
      'n',
      page,
    );
  }

  /** Case-insensitive substring match on title and body, newest first. */
  search(tenantId: string, query: string, limit: number): Promise<Note[]> {
    const pattern = `%${query.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    return this.notes
      .createQueryBuilder('n')
      .where('n.tenant_id = :tenantId', { tenantId })
      .andWhere(`(n.title || ' ' || n.body) ILIKE :pattern`, { pattern })
      .orderBy('n.created_at', 'DESC')
      .addOrderBy('n.id', 'DESC')
      .limit(limit)
      .getMany();
  }

  /** Ids of this tenant's notes starting with `prefix`, newest first: completion of note ids. */
  async idsStartingWith(tenantId: string, prefix: string, limit: number): Promise<string[]> {
    if (!/^[0-9a-f-]{0,36}$/i.test(prefix)) return [];
    const rows = await this.notes
      .createQueryBuilder('n')
      .select('n.id', 'id')
      .where('n.tenant_id = :tenantId', { tenantId })
      .andWhere('n.id::text LIKE :prefix', { prefix: `${prefix.toLowerCase()}%` })
      .orderBy('n.created_at', 'DESC')
      .limit(limit)
      .getRawMany<{ id: string }>();
    return rows.map((r) => r.id);
  }

  /** Distinct titles of this tenant's notes starting with `prefix` (ignoring case), A to Z. */
  async titlesStartingWith(tenantId: string, prefix: string, limit: number): Promise<string[]> {
    const pattern = `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const rows = await this.notes
      .createQueryBuilder('n')
      .select('DISTINCT n.title', 'title')
      .where('n.tenant_id = :tenantId', { tenantId })
      .andWhere('n.title ILIKE :pattern', { pattern })
      .orderBy('n.title', 'ASC')
      .limit(limit)
      .getRawMany<{ title: string }>();
    return rows.map((r) => r.title);
  }

  /** The newest notes first. */
  recent(tenantId: string, limit: number): Promise<Note[]> {
    return this.notes.find({
      where: { tenantId },
      order: { createdAt: 'DESC', id: 'DESC' },
      take: limit,
    });
  }
}
