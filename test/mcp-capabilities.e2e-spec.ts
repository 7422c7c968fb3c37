import { randomUUID } from 'node:crypto';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  ElicitRequestSchema,
  ResourceUpdatedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { Client as V2Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { allAudit, waitForAudit } from './support/audit';
import { baseUrl } from './support/admin';
import { pollUntil, sleep } from './support/http';
import { bearer, rawPost, PROTOCOL_VERSION } from './support/mcp';
import { MODERN, modernPost } from './support/mcp-modern';
import { usePlatform } from './support/platform';

type Rpc = {
  result?: Record<string, unknown> & {
    content?: { type: string; text?: string }[];
    structuredContent?: Record<string, unknown>;
  };
  error?: { code: number; message: string; data?: Record<string, unknown> };
};
const final = (messages: unknown[]) =>
  (messages as (Rpc & { id?: unknown })[]).find((m) => 'result' in m || 'error' in m)!;

type Elicit = 'accept' | 'uncheck' | 'decline' | 'cancel';
const ANSWER: Record<
  Elicit,
  { action: 'accept' | 'decline' | 'cancel'; content?: Record<string, boolean> }
> = {
  accept: { action: 'accept', content: { confirm: true } },
  uncheck: { action: 'accept', content: { confirm: false } },
  decline: { action: 'decline' },
  cancel: { action: 'cancel' },
};

/**
 * One client as a user runs it: a real SDK client of the era (v1 2025 session, v2 2026-07-28),
 * with the same surface for the assertions. `elicit` answers every elicitation (and records its
 * message); without it the client does not declare elicitation at all.
 */
interface EraClient {
  listResources(): Promise<{ uri: string; name: string }[]>;
  listTemplates(): Promise<{ uriTemplate: string; name: string }[]>;
  read(uri: string): Promise<{ uri: string; mimeType?: string; text?: string }[]>;
  listPrompts(): Promise<{ name: string; arguments?: { name: string; required?: boolean }[] }[]>;
  getPrompt(
    name: string,
    args: Record<string, string>,
  ): Promise<{ messages: { role: string; content: Record<string, unknown> }[] }>;
  complete(ref: Record<string, string>, name: string, value: string): Promise<string[]>;
  call(name: string, args: Record<string, unknown>): Promise<Record<string, unknown>>;
  asked: string[];
  close(): Promise<void>;
}

describe('resources, prompts, completion and asking the user', () => {
  const p = usePlatform({ REQUEST_STATE_TTL: '2' });
  const open: EraClient[] = [];
  afterAll(async () => {
    await Promise.all(open.map((c) => c.close().catch(() => undefined)));
  });

  const url = (slug: string) => new URL(`${baseUrl(p)}/t/${slug}/mcp`);

  /** What both SDKs' clients offer under the same names. */
  interface SdkClient {
    listResources(): Promise<{ resources: { uri: string; name: string }[] }>;
    listResourceTemplates(): Promise<{
      resourceTemplates: { uriTemplate: string; name: string }[];
    }>;
    readResource(p: { uri: string }): Promise<{ contents: unknown[] }>;
    listPrompts(): Promise<{ prompts: Awaited<ReturnType<EraClient['listPrompts']>> }>;
    getPrompt(p: { name: string; arguments: Record<string, string> }): Promise<unknown>;
    complete(p: {
      ref: never;
      argument: { name: string; value: string };
    }): Promise<{ completion: { values: string[] } }>;
    callTool(p: { name: string; arguments: Record<string, unknown> }): Promise<object>;
    close(): Promise<void>;
  }

  function track(client: SdkClient, asked: string[]): EraClient {
    const c: EraClient = {
      listResources: async () => (await client.listResources()).resources,
      listTemplates: async () => (await client.listResourceTemplates()).resourceTemplates,
      read: async (uri) =>
        (await client.readResource({ uri })).contents as { uri: string; text?: string }[],
      listPrompts: async () => (await client.listPrompts()).prompts,
      getPrompt: async (name, args) =>
        (await client.getPrompt({ name, arguments: args })) as Awaited<
          ReturnType<EraClient['getPrompt']>
        >,
      complete: async (ref, name, value) =>
        (await client.complete({ ref: ref as never, argument: { name, value } })).completion.values,
      call: async (name, args) =>
        ((await client.callTool({ name, arguments: args })) as { structuredContent?: object })
          .structuredContent as Record<string, unknown>,
      asked,
      close: () => client.close(),
    };
    open.push(c);
    return c;
  }

  async function v1(slug: string, key: string, elicit?: Elicit): Promise<EraClient> {
    const asked: string[] = [];
    const client = new V1Client(
      { name: 'e2e-v1', version: '1.0.0' },
      { capabilities: elicit ? { elicitation: {} } : {} },
    );
    if (elicit) {
      client.setRequestHandler(ElicitRequestSchema, (req) => {
        asked.push(req.params.message);
        return ANSWER[elicit];
      });
    }
    await client.connect(new V1Transport(url(slug), { requestInit: { headers: bearer(key) } }));
    return track(client, asked);
  }

  async function v2(slug: string, key: string, elicit?: Elicit): Promise<EraClient> {
    const asked: string[] = [];
    const client = new V2Client(
      { name: 'e2e-v2', version: '1.0.0' },
      {
        versionNegotiation: { mode: { pin: MODERN } },
        capabilities: elicit ? { elicitation: { form: {} } } : {},
      },
    );
    if (elicit) {
      client.setRequestHandler('elicitation/create', (req) => {
        asked.push(req.params.message);
        return ANSWER[elicit];
      });
    }
    await client.connect(
      new StreamableHTTPClientTransport(url(slug), { requestInit: { headers: bearer(key) } }),
    );
    return track(client, asked);
  }

  const ERAS = [
    ['2025 (v1 client, session)', v1],
    ['2026-07-28 (v2 client)', v2],
  ] as const;

  /** A tenant with notes, a writer key and a reader key. */
  async function tenantWithNotes(titles: string[]) {
    const t = await p.admin.tenantWithKey(['notes:read', 'notes:write']);
    const reader = await p.admin.createKey(t.slug, { name: 'reader', scopes: ['notes:read'] });
    const writer = await v1(t.slug, t.key);
    const notes: { id: string; title: string }[] = [];
    for (const title of titles) {
      notes.push(
        (await writer.call('notes_create', { title, body: `Body of ${title}.` })) as {
          id: string;
          title: string;
        },
      );
    }
    return { ...t, reader: reader.secret, readerId: reader.id, notes };
  }

  let acme: Awaited<ReturnType<typeof tenantWithNotes>>;
  let rival: Awaited<ReturnType<typeof tenantWithNotes>>;
  beforeAll(async () => {
    acme = await tenantWithNotes(['Launch plan', 'Launch retro', 'Hiring']);
    rival = await tenantWithNotes(['Launch secrets', 'Budget']);
  });

  describe.each(ERAS)('in the %s era', (_, open) => {
    it('lists the notes resources to a reader and reads a note as Markdown', async () => {
      const c = await open(acme.slug, acme.reader);
      expect((await c.listResources()).map((r) => [r.name, r.uri])).toEqual([
        ['notes-index', 'notes://index'],
      ]);
      expect((await c.listTemplates()).map((r) => [r.name, r.uriTemplate])).toEqual([
        ['note', 'notes://{id}'],
      ]);
      const [plan] = acme.notes;
      expect(await c.read(`notes://${plan.id}`)).toEqual([
        {
          uri: `notes://${plan.id}`,
          mimeType: 'text/markdown',
          text: '# Launch plan\n\nBody of Launch plan.',
        },
      ]);
      const [index] = await c.read('notes://index');
      const items = (JSON.parse(index.text!) as { items: { id: string; uri: string }[] }).items;
      expect(items.map((i) => i.id).sort()).toEqual(acme.notes.map((n) => n.id).sort());
    });

    it('answers another tenant’s note exactly like a note that does not exist', async () => {
      const c = await open(acme.slug, acme.reader);
      const missing = randomUUID();
      const theirs = rival.notes[0].id;
      const errorOf = (uri: string) =>
        c.read(uri).then(
          () => 'read',
          (err: Error & { code?: number }) => `${err.code}: ${err.message.replaceAll(uri, 'URI')}`,
        );
      const [a, b] = [await errorOf(`notes://${missing}`), await errorOf(`notes://${theirs}`)];
      expect(a).toMatch(/^-32602: .*not found/i);
      expect(b).toBe(a);
    });

    it('lists and completes nothing for a key without notes:read', async () => {
      const t = await p.admin.createKey(acme.slug, { name: 'plain', scopes: [] });
      const c = await open(acme.slug, t.secret);
      expect(await c.listResources()).toEqual([]);
      expect(await c.listTemplates()).toEqual([]);
      expect((await c.listPrompts()).map((x) => x.name)).toEqual([]);
      expect(await c.complete({ type: 'ref/resource', uri: 'notes://{id}' }, 'id', '')).toEqual([]);
    });

    it('completes note ids and prompt arguments from the tenant’s own notes only', async () => {
      const c = await open(acme.slug, acme.reader);
      const ids = await c.complete({ type: 'ref/resource', uri: 'notes://{id}' }, 'id', '');
      expect([...ids].sort()).toEqual(acme.notes.map((n) => n.id).sort());
      const one = acme.notes[1].id;
      expect(
        await c.complete({ type: 'ref/resource', uri: 'notes://{id}' }, 'id', one.slice(0, 8)),
      ).toEqual([one]);
      expect(
        await c.complete({ type: 'ref/prompt', name: 'notes_summary' }, 'query', 'lau'),
      ).toEqual(['Launch plan', 'Launch retro']);
      // Another tenant's ids and titles never come back, however they are asked for.
      expect(
        await c.complete({ type: 'ref/resource', uri: 'notes://{id}' }, 'id', rival.notes[0].id),
      ).toEqual([]);
      expect(
        await c.complete({ type: 'ref/prompt', name: 'notes_summary' }, 'query', 'Budget'),
      ).toEqual([]);
    });

    it('drafts the summary prompt with the tenant’s own matching notes attached', async () => {
      const c = await open(acme.slug, acme.reader);
      const [prompt] = await c.listPrompts();
      expect(prompt).toMatchObject({
        name: 'notes_summary',
        arguments: [{ name: 'query', required: true }],
      });
      const got = await c.getPrompt('notes_summary', { query: 'launch' });
      expect(got.messages[0].content).toMatchObject({
        type: 'text',
        text: expect.stringContaining('2 note(s) about “launch”'),
      });
      const attached = got.messages.slice(1).map((m) => m.content.resource as { text: string });
      expect(attached.map((r) => r.text.split('\n')[0]).sort()).toEqual([
        '# Launch plan',
        '# Launch retro',
      ]);
      await expect(c.getPrompt('notes_summary', {})).rejects.toMatchObject({ code: -32602 });
      await expect(c.getPrompt('no_such_prompt', { query: 'x' })).rejects.toMatchObject({
        code: -32602,
      });
    });

    it.each<[Elicit, boolean]>([
      ['accept', true],
      ['uncheck', false],
      ['decline', false],
      ['cancel', false],
    ])('notes_delete asks first; the user answers %s', async (answer, deleted) => {
      const t = await tenantWithNotes(['Doomed']);
      const c = await open(t.slug, t.key, answer);
      const [note] = t.notes;
      const out = await c.call('notes_delete', { id: note.id });
      expect(c.asked).toEqual(['Delete the note “Doomed”? This cannot be undone.']);
      expect(out).toMatchObject({ deleted, id: note.id });
      const left = (await c.call('notes_list', {})) as { items: unknown[] };
      expect(left.items).toHaveLength(deleted ? 0 : 1);
    });

    it('notes_delete deletes at once for a client that cannot be asked', async () => {
      const t = await tenantWithNotes(['Quick']);
      const c = await open(t.slug, t.key);
      expect(await c.call('notes_delete', { id: t.notes[0].id })).toEqual({
        deleted: true,
        id: t.notes[0].id,
      });
    });
  });

  it('a read without the scope is an HTTP 403 step-up in both eras', async () => {
    const t = await p.admin.createKey(acme.slug, { name: 'nothing', scopes: [] });
    const uri = `notes://${acme.notes[0].id}`;
    const modern = await modernPost(p, acme.slug, bearer(t.secret), {
      method: 'resources/read',
      params: { uri },
    });
    const session = await rawPost(
      p,
      acme.slug,
      { jsonrpc: '2.0', id: 1, method: 'prompts/get', params: { name: 'notes_summary' } },
      { ...bearer(t.secret), ...PROTOCOL_VERSION },
    );
    for (const res of [modern, session]) {
      expect(res.status).toBe(403);
      expect(res.headers.get('www-authenticate')).toMatch(
        /error="insufficient_scope", scope="notes:read"/,
      );
    }
  });

  it('a 2025 session that subscribed to a resource is told when it changes, and only then', async () => {
    const t = await tenantWithNotes(['Watched']);
    const watcher = await p.openMcp(t.slug, bearer(t.reader));
    await watcher.streamOpen;
    const updated: string[] = [];
    watcher.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
      updated.push(n.params.uri);
    });
    const [note] = t.notes;
    await watcher.client.subscribeResource({ uri: 'notes://index' });
    await watcher.client.subscribeResource({ uri: `notes://${note.id}` });
    const writer = await v1(t.slug, t.key);
    await writer.call('notes_create', { title: 'New' });
    await pollUntil(5_000, 'the index update', () =>
      Promise.resolve(updated.includes('notes://index') || undefined),
    );
    await watcher.client.unsubscribeResource({ uri: 'notes://index' });
    await writer.call('notes_delete', { id: note.id });
    await pollUntil(5_000, 'the note update', () =>
      Promise.resolve(updated.includes(`notes://${note.id}`) || undefined),
    );
    // Nothing for the index after the unsubscribe, and nothing of another tenant's notes.
    await (await v1(rival.slug, rival.key)).call('notes_create', { title: 'Elsewhere' });
    await sleep(300);
    expect(updated).toEqual(['notes://index', `notes://${note.id}`]);
    // A URI the principal may not read cannot be watched: it is not found, like a missing one.
    const plain = await p.admin.createKey(t.slug, { name: 'plain', scopes: [] });
    const outsider = await p.openMcp(t.slug, bearer(plain.secret));
    await expect(outsider.client.subscribeResource({ uri: 'notes://index' })).rejects.toMatchObject(
      {
        code: -32602,
      },
    );
  });

  describe('tenant switches and key allow-lists', () => {
    it('a disabled resource or prompt is gone from lists and reads like a missing one', async () => {
      const t = await tenantWithNotes(['Switch']);
      const put = (path: string, enabled: boolean) =>
        p.admin.request('PUT', `/admin/tenants/${t.slug}/${path}`, { enabled });
      expect((await put('resources/notes-index', false)).json).toMatchObject({
        name: 'notes-index',
        kind: 'resource',
        uri: 'notes://index',
        requiredScopes: ['notes:read'],
        enabled: false,
      });
      expect((await put('prompts/notes_summary', false)).json).toMatchObject({ enabled: false });
      for (const open of [v1, v2]) {
        const c = await open(t.slug, t.reader);
        expect(await c.listResources()).toEqual([]);
        expect((await c.listTemplates()).map((x) => x.name)).toEqual(['note']);
        expect(await c.listPrompts()).toEqual([]);
        await expect(c.read('notes://index')).rejects.toMatchObject({ code: -32602 });
        await expect(c.getPrompt('notes_summary', { query: 'x' })).rejects.toMatchObject({
          code: -32602,
        });
        expect(
          await c.complete({ type: 'ref/prompt', name: 'notes_summary' }, 'query', ''),
        ).toEqual([]);
      }
      // Refused reads and gets are audited under the capability's grant key.
      // (each era once: both clients were refused a read and a get)
      const denied = await waitForAudit(
        p,
        t.slug,
        (e) => e.action === 'resource.read' || e.action === 'prompt.get',
        { count: 4, query: { outcome: 'denied' } },
      );
      expect(
        new Set(denied.map((e) => `${e.action} ${e.tool} ${String(e.detail.reason)}`)),
      ).toEqual(
        new Set([
          'resource.read resource:notes-index hidden',
          'prompt.get prompt:notes_summary hidden',
        ]),
      );
      const listed = await p.admin.request('GET', `/admin/tenants/${t.slug}/resources`);
      expect(listed.json).toMatchObject({
        items: expect.arrayContaining([
          expect.objectContaining({ name: 'notes-index', enabled: false }),
          expect.objectContaining({ name: 'note', kind: 'template', uriTemplate: 'notes://{id}' }),
        ]),
      });
      await put('resources/notes-index', true);
      expect((await (await v2(t.slug, t.reader)).listResources()).map((r) => r.name)).toEqual([
        'notes-index',
      ]);
      expect((await put('resources/nope', false)).status).toBe(404);
    });

    it('a key limited to some resources and no prompts sees exactly those', async () => {
      const k = await p.admin.createKey(acme.slug, {
        name: 'limited',
        scopes: ['notes:read'],
        resources: ['note'],
        prompts: [],
      });
      expect(k).toMatchObject({ resources: ['note'], prompts: [] });
      for (const open of [v1, v2]) {
        const c = await open(acme.slug, k.secret);
        expect(await c.listResources()).toEqual([]);
        expect((await c.listTemplates()).map((x) => x.name)).toEqual(['note']);
        expect(await c.listPrompts()).toEqual([]);
        expect((await c.read(`notes://${acme.notes[0].id}`))[0].text).toMatch(/^# Launch plan/);
        await expect(c.read('notes://index')).rejects.toMatchObject({ code: -32602 });
      }
      const bad = await p.admin.request('POST', `/admin/tenants/${acme.slug}/keys`, {
        name: 'typo',
        scopes: [],
        resources: ['notes'],
        prompts: ['summary'],
      });
      expect(bad.status).toBe(400);
      expect((bad.json as { message: string }).message).toMatch(
        /resources: unknown notes \(known: .*note.*\); prompts: unknown summary \(known: notes_summary\)/,
      );
    });
  });

  describe('the sealed requestState of the 2026-07-28 era', () => {
    const ELICITING = {
      'io.modelcontextprotocol/clientCapabilities': { elicitation: { form: {} } },
    };
    /** Round one of notes_delete: its input_required result. */
    async function firstRound(t: { slug: string; key: string }, id: string) {
      const res = await modernPost(p, t.slug, bearer(t.key), {
        method: 'tools/call',
        params: { name: 'notes_delete', arguments: { id } },
        meta: ELICITING,
      });
      const r = final(res.messages).result as {
        resultType: string;
        inputRequests: Record<string, unknown>;
        requestState: string;
      };
      expect(r).toMatchObject({
        resultType: 'input_required',
        inputRequests: { confirm: { method: 'elicitation/create' } },
      });
      return r.requestState;
    }
    const retry = (
      t: { slug: string; key: string },
      id: string,
      requestState: string,
      action = 'accept',
    ) =>
      modernPost(p, t.slug, bearer(t.key), {
        method: 'tools/call',
        params: {
          name: 'notes_delete',
          arguments: { id },
          inputResponses: { confirm: { action, content: { confirm: true } } },
          requestState,
        },
        meta: ELICITING,
      });

    it('is opaque: neither the note nor the tenant can be read from it', async () => {
      const t = await tenantWithNotes(['Opaque']);
      const state = await firstRound(t, t.notes[0].id);
      const decoded = Buffer.from(state.split('.').join(''), 'base64url').toString('latin1');
      for (const secret of [t.notes[0].id, t.id, t.slug, 'confirm', 'Opaque']) {
        expect(decoded).not.toContain(secret);
      }
    });

    it('refuses a tampered, replayed, re-targeted or borrowed state, and the note stays', async () => {
      const t = await tenantWithNotes(['Guarded', 'Other']);
      const [guarded, other] = t.notes;
      const state = await firstRound(t, guarded.id);
      const refused = (res: Awaited<ReturnType<typeof retry>>, why: RegExp) => {
        const m = final(res.messages);
        expect(m.error).toMatchObject({ code: -32602, message: expect.stringMatching(why) });
      };
      // One character changed.
      const at = state.length - 5;
      const tampered = state.slice(0, at) + (state[at] === 'A' ? 'B' : 'A') + state.slice(at + 1);
      refused(await retry(t, guarded.id, tampered), /integrity/);
      // The same state for another note: bound to the original arguments.
      refused(await retry(t, other.id, state), /integrity/);
      // Another key of the same tenant, with the same scopes.
      const twin = await p.admin.createKey(t.slug, {
        name: 'twin',
        scopes: ['notes:read', 'notes:write'],
      });
      const thief = { slug: t.slug, key: twin.secret };
      refused(await retry(thief, guarded.id, state), /integrity/);
      // A declined answer uses the state up; the same state cannot then carry an accept.
      const declined = final((await retry(t, guarded.id, state, 'decline')).messages);
      expect(declined.result?.structuredContent).toMatchObject({ deleted: false });
      refused(await retry(t, guarded.id, state), /already used/);
      const left = final(
        (
          await modernPost(p, t.slug, bearer(t.key), {
            method: 'tools/call',
            params: { name: 'notes_list', arguments: {} },
          })
        ).messages,
      );
      expect((left.result?.structuredContent as { items: unknown[] }).items).toHaveLength(2);
      // The refusals are in the audit trail as calls that went nowhere, never with the state.
      const audit = JSON.stringify(await allAudit(p, t.slug));
      expect(audit).not.toContain(state.split('.')[2]);
    });

    it('refuses a state past REQUEST_STATE_TTL', async () => {
      const t = await tenantWithNotes(['Slow']);
      const state = await firstRound(t, t.notes[0].id);
      await sleep(2_500);
      const m = final((await retry(t, t.notes[0].id, state)).messages);
      expect(m.error).toMatchObject({ code: -32602, message: expect.stringMatching(/expired/) });
    });

    it('a good state with an accept deletes the note', async () => {
      const t = await tenantWithNotes(['Gone']);
      const state = await firstRound(t, t.notes[0].id);
      const m = final((await retry(t, t.notes[0].id, state)).messages);
      expect(m.result?.structuredContent).toEqual({ deleted: true, id: t.notes[0].id });
    });
  });
});
