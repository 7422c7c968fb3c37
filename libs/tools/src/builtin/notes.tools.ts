import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { decodeCursor } from '@app/database';
import { McpTool, RequireScopes } from '../decorators';
import { ask, inputRequired } from '../input';
import { ResourceUpdates } from '../resource-updates';
import { type ToolContext, ToolInputError } from '../tool-context';
import { LONG_TEXT_LIMITS, LONG_TEXT_MAX } from './long-text';
import { Note } from './note.entity';
import { NOTES_INDEX_URI, noteUri } from './notes.capabilities';
import { NotesService } from './notes.service';

const NoteOut = z.object({
  id: z.string(),
  title: z.string(),
  body: z.string(),
  createdAt: z.string(),
});
const NoteList = z.object({ items: z.array(NoteOut), nextCursor: z.string().nullable() });
const NoteId = z.object({
  id: z.string().max(64).describe('The note id returned by notes_create'),
});
const noControl = (s: string) => !s.includes('\u0000');

const CreateInput = z.object({
  title: z.string().trim().min(1).max(200).refine(noControl, 'must not contain NUL characters'),
  body: z
    .string()
    .max(LONG_TEXT_MAX)
    .refine(noControl, 'must not contain NUL characters')
    .default(''),
});
const ListInput = z.object({
  limit: z.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional().describe('nextCursor of the previous page'),
});
const SearchInput = z.object({
  query: z.string().trim().min(1).max(200).refine(noControl, 'must not contain NUL characters'),
  limit: z.number().int().min(1).max(100).default(20),
});

const view = (n: Note): z.infer<typeof NoteOut> => ({
  id: n.id,
  title: n.title,
  body: n.body,
  createdAt: n.createdAt.toISOString(),
});

@Injectable()
export class NotesTools {
  constructor(
    private readonly notes: NotesService,
    private readonly updates: ResourceUpdates,
  ) {}

  @McpTool({
    name: 'notes_create',
    title: 'Create a note',
    description: 'Stores a note (title and optional body) private to this tenant.',
    input: CreateInput,
    output: NoteOut,
    annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
    limits: LONG_TEXT_LIMITS,
  })
  @RequireScopes('notes:write')
  async create(args: z.infer<typeof CreateInput>, ctx: ToolContext) {
    const note = await this.notes.create(ctx.tenant.id, { ...args, createdBy: ctx.principal.id });
    this.updates.updated(ctx.tenant.id, NOTES_INDEX_URI);
    return view(note);
  }

  @McpTool({
    name: 'notes_delete',
    title: 'Delete a note',
    description:
      'Deletes one of this tenant’s notes by id. Clients that support elicitation ask the user to confirm first.',
    input: NoteId,
    output: z.object({
      deleted: z.boolean(),
      id: z.string(),
      reason: z.string().optional().describe('Why nothing was deleted'),
    }),
    annotations: {
      readOnlyHint: false,
      destructiveHint: true,
      idempotentHint: true,
      openWorldHint: false,
    },
  })
  @RequireScopes('notes:write')
  async delete({ id }: z.infer<typeof NoteId>, ctx: ToolContext) {
    const note = await this.notes.get(ctx.tenant.id, id);
    if (!note) throw new ToolInputError(`no note with id "${id}"`);
    if (ctx.clientCan('elicitation')) {
      const action = ctx.answers.action('confirm');
      if (action === undefined) {
        return inputRequired({
          confirm: ask.elicit(`Delete the note “${note.title}”? This cannot be undone.`, {
            type: 'object',
            properties: { confirm: { type: 'boolean', title: 'Yes, delete it' } },
            required: ['confirm'],
          }),
        });
      }
      if (action !== 'accept' || ctx.answers.accepted('confirm')?.confirm !== true) {
        const reason =
          action === 'accept'
            ? 'the user left “Yes, delete it” unchecked'
            : `the user ${action === 'decline' ? 'declined' : 'cancelled'}`;
        return { deleted: false, id, reason };
      }
    }
    if (!(await this.notes.delete(ctx.tenant.id, id)))
      throw new ToolInputError(`no note with id "${id}"`);
    this.updates.updated(ctx.tenant.id, noteUri(id), NOTES_INDEX_URI);
    return { deleted: true, id };
  }

  @McpTool({
    name: 'notes_list',
    title: 'List notes',
    description: 'Lists this tenant’s notes, oldest first, a page at a time.',
    input: ListInput,
    output: NoteList,
    annotations: { readOnlyHint: true, openWorldHint: false },
  })
  @RequireScopes('notes:read')
  async list({ limit, cursor }: z.infer<typeof ListInput>, ctx: ToolContext) {
    if (cursor) {
      try {
        decodeCursor(cursor);
      } catch {
        throw new ToolInputError('cursor is not valid: pass the nextCursor of a previous page');
      }
    }
    const page = await this.notes.list(ctx.tenant.id, { limit, cursor });
    return { items: page.items.map(view), nextCursor: page.nextCursor };
  }

  @McpTool({
    name: 'notes_get',
    title: 'Get a note',
    description: 'Reads one of this tenant’s notes by id.',
    input: NoteId,
    output: NoteOut,
    annotations: { readOnlyHint: true, openWorldHint: false },
  })
  @RequireScopes('notes:read')
  async get({ id }: z.infer<typeof NoteId>, ctx: ToolContext) {
    const note = await this.notes.get(ctx.tenant.id, id);
    if (!note) throw new ToolInputError(`no note with id "${id}"`);
    return view(note);
  }

  @McpTool({
    name: 'notes_search',
    title: 'Search notes',
    description: 'Finds this tenant’s notes whose title or body contains the query, ignoring case.',
    input: SearchInput,
    output: z.object({ items: z.array(NoteOut) }),
    annotations: { readOnlyHint: true, openWorldHint: false },
  })
  @RequireScopes('notes:read')
  async search({ query, limit }: z.infer<typeof SearchInput>, ctx: ToolContext) {
    return { items: (await this.notes.search(ctx.tenant.id, query, limit)).map(view) };
  }
}
