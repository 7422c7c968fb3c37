import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { usePlatform } from './support/platform';
import { bearer, TransportKind } from './support/mcp';

interface NoteView {
  id: string;
  title: string;
  body: string;
  createdAt: string;
}

const NOTES_SCOPES = ['notes:read', 'notes:write'];

const textOf = (r: CallToolResult) =>
  (r.content as { type: string; text: string }[])[0]?.text ?? '';

describe('notes tools', () => {
  const p = usePlatform();
  const open = (slug: string, key: string, kind: TransportKind = 'streamable') =>
    p.connect(slug, bearer(key), kind);
  const call = async (c: Client, name: string, args: Record<string, unknown>) =>
    (await c.callTool({ name, arguments: args })) as CallToolResult;
  const ok = async <T>(c: Client, name: string, args: Record<string, unknown>): Promise<T> => {
    const res = await call(c, name, args);
    if (res.isError) throw new Error(`${name} failed: ${textOf(res)}`);
    return res.structuredContent as T;
  };
  const create = (c: Client, title: string, body?: string) =>
    ok<NoteView>(c, 'notes_create', body === undefined ? { title } : { title, body });
  const search = async (c: Client, query: string) =>
    (await ok<{ items: NoteView[] }>(c, 'notes_search', { query })).items;
  const listAll = async (c: Client) =>
    (await ok<{ items: NoteView[] }>(c, 'notes_list', { limit: 100 })).items;

  describe.each<TransportKind>(['streamable', 'sse'])('over %s', (kind) => {
    it('creates, reads, lists, searches and deletes a note', async () => {
      const t = await p.admin.tenantWithKey(NOTES_SCOPES);
      const c = await open(t.slug, t.key, kind);

      const note = await create(c, 'Groceries', 'milk, eggs, bread');
      expect(note).toMatchObject({ title: 'Groceries', body: 'milk, eggs, bread' });
      expect(note.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(Number.isNaN(Date.parse(note.createdAt))).toBe(false);

      expect(await ok<NoteView>(c, 'notes_get', { id: note.id })).toEqual(note);
      expect(await listAll(c)).toEqual([note]);
      expect(await search(c, 'eggs')).toEqual([note]);

      expect(await ok(c, 'notes_delete', { id: note.id })).toEqual({ deleted: true, id: note.id });
      const gone = await call(c, 'notes_get', { id: note.id });
      expect(gone.isError).toBe(true);
      expect(textOf(gone)).toContain(note.id);
      expect(await listAll(c)).toEqual([]);
      expect(await search(c, 'eggs')).toEqual([]);
      const again = await call(c, 'notes_delete', { id: note.id });
      expect(again.isError).toBe(true);
    });
  });

  it('creates a note without a body', async () => {
    const t = await p.admin.tenantWithKey(NOTES_SCOPES);
    const c = await open(t.slug, t.key);
    const note = await create(c, 'Title only');
    expect(note.body).toBe('');
    expect(await ok<NoteView>(c, 'notes_get', { id: note.id })).toMatchObject({
      title: 'Title only',
      body: '',
    });
  });

  it('searches title and body as a case-insensitive substring', async () => {
    const t = await p.admin.tenantWithKey(NOTES_SCOPES);
    const c = await open(t.slug, t.key);
    const meeting = await create(c, 'Team MEETING notes', 'agenda: budget');
    const recipe = await create(c, 'Pancakes', 'Whisk the Flour and milk');
    const other = await create(c, 'Unrelated', 'nothing here');
    const idsOf = (items: NoteView[]) => items.map((n) => n.id).sort();

    expect(idsOf(await search(c, 'meeting'))).toEqual([meeting.id]);
    expect(idsOf(await search(c, 'eetin'))).toEqual([meeting.id]);
    expect(idsOf(await search(c, 'FLOUR'))).toEqual([recipe.id]);
    expect(idsOf(await search(c, 'whisk the flour'))).toEqual([recipe.id]);
    expect(idsOf(await search(c, 'BUDGET'))).toEqual([meeting.id]);
    expect(idsOf(await search(c, 'n'))).toEqual(idsOf([meeting, recipe, other]));
    expect(await search(c, 'zebra')).toEqual([]);
  });

  it('treats LIKE wildcards in a search query as plain characters', async () => {
    const t = await p.admin.tenantWithKey(NOTES_SCOPES);
    const c = await open(t.slug, t.key);
    const pct = await create(c, 'Discount', '50% off');
    await create(c, 'Plain', 'five0 off');
    await create(c, 'under', 'a_b');
    await create(c, 'other', 'axb');
    expect((await search(c, '0%')).map((n) => n.id)).toEqual([pct.id]);
    expect((await search(c, '%')).map((n) => n.id)).toEqual([pct.id]);
    expect((await search(c, 'a_b')).map((n) => n.title)).toEqual(['under']);
    const path = await create(c, 'windows path', 'C:\\Users\\me');
    expect((await search(c, 'c:\\users')).map((n) => n.id)).toEqual([path.id]);
    expect(await search(c, 'c:users')).toEqual([]);
  });

  it('keeps every tenant’s notes private', async () => {
    const a = await p.admin.tenantWithKey(NOTES_SCOPES);
    const b = await p.admin.tenantWithKey(NOTES_SCOPES);
    const ca = await open(a.slug, a.key);
    const cb = await open(b.slug, b.key);
    const mine = await create(ca, 'A shared word', 'alpha');
    const theirs = await create(cb, 'B shared word', 'secret of b');

    expect((await listAll(ca)).map((n) => n.id)).toEqual([mine.id]);
    expect((await listAll(cb)).map((n) => n.id)).toEqual([theirs.id]);
    expect((await search(ca, 'shared word')).map((n) => n.id)).toEqual([mine.id]);
    expect(await search(ca, 'secret of b')).toEqual([]);

    const get = await call(ca, 'notes_get', { id: theirs.id });
    expect(get.isError).toBe(true);
    expect(textOf(get)).not.toContain('secret of b');
    // Indistinguishable from an id that never existed.
    const never = await call(ca, 'notes_get', { id: '00000000-0000-4000-8000-000000000000' });
    expect(textOf(get).replace(theirs.id, '<id>')).toBe(
      textOf(never).replace('00000000-0000-4000-8000-000000000000', '<id>'),
    );

    const del = await call(ca, 'notes_delete', { id: theirs.id });
    expect(del.isError).toBe(true);
    // B's note survived A's attempt.
    expect(await ok<NoteView>(cb, 'notes_get', { id: theirs.id })).toEqual(theirs);
  });

  it('shares notes between keys of the same tenant', async () => {
    const t = await p.admin.tenantWithKey(NOTES_SCOPES);
    const reader = await p.admin.createKey(t.slug, { scopes: ['notes:read'] });
    const note = await create(await open(t.slug, t.key), 'Visible to the team');
    const cr = await open(t.slug, reader.secret);
    expect(await ok<NoteView>(cr, 'notes_get', { id: note.id })).toEqual(note);
    // A read-only key cannot delete.
    await expect(
      cr.callTool({ name: 'notes_delete', arguments: { id: note.id } }),
    ).rejects.toThrow();
    expect(await ok<NoteView>(cr, 'notes_get', { id: note.id })).toEqual(note);
  });

  it('turns bad arguments into readable tool errors', async () => {
    const t = await p.admin.tenantWithKey(NOTES_SCOPES);
    const c = await open(t.slug, t.key);
    for (const [name, args, pattern] of [
      ['notes_create', { title: '' }, /title/],
      ['notes_create', { title: '   ' }, /title/],
      ['notes_create', { body: 'no title' }, /title/],
      ['notes_create', { title: 'x'.repeat(201) }, /title/],
      ['notes_create', { title: 'nul\u0000char' }, /NUL/],
      ['notes_get', {}, /id/],
      ['notes_delete', {}, /id/],
      ['notes_get', { id: 42 }, /id/],
      ['notes_search', { query: '' }, /query/],
      ['notes_list', { limit: 0 }, /limit/],
      ['notes_list', { limit: 101 }, /limit/],
      ['notes_list', { cursor: 'definitely-not-a-cursor' }, /cursor/],
    ] as [string, Record<string, unknown>, RegExp][]) {
      const res = await call(c, name, args);
      expect({ name, args, isError: res.isError }).toEqual({ name, args, isError: true });
      expect(textOf(res)).toMatch(pattern);
    }
    // None of those created anything.
    expect(await listAll(c)).toEqual([]);
    // A malformed id is simply not found, not an internal error.
    const bad = await call(c, 'notes_get', { id: 'not-a-uuid' });
    expect(bad.isError).toBe(true);
    expect(textOf(bad)).toMatch(/no note/);
  });

  it('pages through notes with a cursor, each note exactly once', async () => {
    const t = await p.admin.tenantWithKey(NOTES_SCOPES);
    const c = await open(t.slug, t.key);
    const created: NoteView[] = [];
    for (let i = 0; i < 7; i++) created.push(await create(c, `note ${i}`, `body ${i}`));

    const pages: NoteView[][] = [];
    let cursor: string | null | undefined;
    do {
      const page = await ok<{ items: NoteView[]; nextCursor: string | null }>(
        c,
        'notes_list',
        cursor ? { limit: 3, cursor } : { limit: 3 },
      );
      pages.push(page.items);
      cursor = page.nextCursor;
      expect(pages.length).toBeLessThanOrEqual(3);
    } while (cursor);

    expect(pages.map((pg) => pg.length)).toEqual([3, 3, 1]);
    const seen = pages.flat();
    expect(new Set(seen.map((n) => n.id)).size).toBe(7);
    expect(seen.map((n) => n.id).sort()).toEqual(created.map((n) => n.id).sort());
    // The pages, joined, are the one-page listing in the same order, oldest first.
    const all = await listAll(c);
    expect(seen).toEqual(all);
    const times = all.map((n) => Date.parse(n.createdAt));
    expect([...times].sort((x, y) => x - y)).toEqual(times);
  });

  it('ends the listing with a null cursor when the last page is exactly full', async () => {
    const t = await p.admin.tenantWithKey(NOTES_SCOPES);
    const c = await open(t.slug, t.key);
    for (let i = 0; i < 4; i++) await create(c, `n${i}`);
    const first = await ok<{ items: NoteView[]; nextCursor: string | null }>(c, 'notes_list', {
      limit: 2,
    });
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = await ok<{ items: NoteView[]; nextCursor: string | null }>(c, 'notes_list', {
      limit: 2,
      cursor: first.nextCursor,
    });
    expect(second.items).toHaveLength(2);
    expect(second.nextCursor).toBeNull();
  });
});
