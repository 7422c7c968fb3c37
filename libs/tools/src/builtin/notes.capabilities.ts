import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import type { PromptResult, ResourceContents } from '../capability-registry';
import {
  McpComplete,
  McpPrompt,
  McpResource,
  McpResourceTemplate,
  RequireScopes,
} from '../decorators';
import type { CompletionContext } from '../capability-registry';
import type { CapabilityContext } from '../tool-context';
import { Note } from './note.entity';
import { NotesService } from './notes.service';

export const noteUri = (id: string) => `notes://${id}`;
export const NOTES_INDEX_URI = 'notes://index';

const asMarkdown = (n: Note): ResourceContents => ({
  uri: noteUri(n.id),
  mimeType: 'text/markdown',
  text: `# ${n.title}\n\n${n.body}`,
});

/** How many notes the summary prompt embeds. */
const SUMMARY_NOTES = 10;
const COMPLETIONS = 100;

const SummaryArgs = z.object({
  query: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .describe('Words to look for in the notes’ titles and bodies'),
});

/** A tenant's notes as resources, a prompt over them, and completion from the tenant's own data. */
@Injectable()
@RequireScopes('notes:read')
export class NotesCapabilities {
  constructor(private readonly notes: NotesService) {}

  @McpResourceTemplate({
    name: 'note',
    uriTemplate: 'notes://{id}',
    title: 'A note',
    description: 'One of this tenant’s notes, as Markdown (its title as the heading).',
    mimeType: 'text/markdown',
  })
  async note(_uri: string, { id }: Record<string, string>, ctx: CapabilityContext) {
    const note = await this.notes.get(ctx.tenant.id, id);
    return note ? asMarkdown(note) : null;
  }

  @McpComplete({ resourceTemplate: 'note', argument: 'id' })
  completeNoteId(value: string, ctx: CompletionContext): Promise<string[]> {
    return this.notes.idsStartingWith(ctx.tenant.id, value, COMPLETIONS + 1);
  }

  @McpResource({
    name: 'notes-index',
    uri: NOTES_INDEX_URI,
    title: 'Notes index',
    description: 'The 100 newest notes of this tenant: id, title, URI and creation time.',
    mimeType: 'application/json',
  })
  async index(uri: string, ctx: CapabilityContext): Promise<ResourceContents> {
    const notes = await this.notes.recent(ctx.tenant.id, 100);
    const items = notes.map((n) => ({
      id: n.id,
      title: n.title,
      uri: noteUri(n.id),
      createdAt: n.createdAt.toISOString(),
    }));
    return { uri, mimeType: 'application/json', text: JSON.stringify({ items }) };
  }

  @McpPrompt({
    name: 'notes_summary',
    title: 'Summarize notes',
    description:
      'Drafts a request to summarize this tenant’s notes that match a query, with the notes attached.',
    args: SummaryArgs,
  })
  async summary(
    { query }: z.infer<typeof SummaryArgs>,
    ctx: CapabilityContext,
  ): Promise<PromptResult> {
    const found = await this.notes.search(ctx.tenant.id, query, SUMMARY_NOTES);
    if (found.length === 0) {
      return {
        description: `No notes match “${query}”`,
        messages: [
          {
            role: 'user',
            content: {
              type: 'text',
              text: `I have no notes matching “${query}”. Suggest what I could write down about it.`,
            },
          },
        ],
      };
    }
    return {
      description: `Summary of ${found.length} note(s) matching “${query}”`,
      messages: [
        {
          role: 'user',
          content: {
            type: 'text',
            text:
              `Write a short summary of my ${found.length} note(s) about “${query}” below: ` +
              'the main points first, then open questions. Cite notes by their title.',
          },
        },
        ...found.map((n) => ({
          role: 'user' as const,
          content: { type: 'resource', resource: asMarkdown(n) },
        })),
      ],
    };
  }

  @McpComplete({ prompt: 'notes_summary', argument: 'query' })
  completeQuery(value: string, ctx: CompletionContext): Promise<string[]> {
    return this.notes.titlesStartingWith(ctx.tenant.id, value, COMPLETIONS + 1);
  }
}
