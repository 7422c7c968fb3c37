import { Injectable, type Type } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { z } from 'zod';
import { CapabilityRegistry } from './capability-registry';
import {
  McpComplete,
  McpPrompt,
  McpResource,
  McpResourceTemplate,
  RequireScopes,
} from './decorators';

@Injectable()
@RequireScopes('docs:read')
class Docs {
  @McpResource({ name: 'index', uri: 'docs://index', mimeType: 'application/json' })
  index(uri: string) {
    return { uri, text: '[]' };
  }

  @McpResourceTemplate({ name: 'doc', uriTemplate: 'docs://{slug}' })
  @RequireScopes('docs:read', 'docs:extra')
  doc(uri: string, { slug }: Record<string, string>) {
    return slug === 'missing' ? null : [{ uri, text: slug }];
  }

  @McpComplete({ resourceTemplate: 'doc', argument: 'slug' })
  slugs(value: string) {
    return ['alpha', 'beta'].filter((s) => s.startsWith(value));
  }

  @McpPrompt({
    name: 'brief',
    args: z.object({
      slug: z.string().describe('which doc'),
      tone: z.string().optional(),
      length: z.string().default('short'),
    }),
  })
  brief() {
    return { messages: [] };
  }
}

/** Providers of any shape share the application: some under a symbol token, say. */
class Unrelated {
  plain(): void {}
}
const UNRELATED = { provide: Symbol('unrelated'), useFactory: () => new Unrelated() };

async function registryOf(...providers: (Type | typeof UNRELATED)[]) {
  const moduleRef = await Test.createTestingModule({
    imports: [DiscoveryModule],
    providers: [CapabilityRegistry, ...providers],
  }).compile();
  await moduleRef.init();
  return moduleRef.get(CapabilityRegistry);
}

describe(CapabilityRegistry.name, () => {
  it('discovers resources, templates and prompts with their scopes and argument lists', async () => {
    const sut = await registryOf(Docs, UNRELATED);
    expect([...sut.allResources()].map((r) => [r.name, r.uri, r.requiredScopes])).toEqual([
      ['index', 'docs://index', ['docs:read']],
    ]);
    expect(sut.template('doc')?.requiredScopes).toEqual(['docs:extra', 'docs:read']);
    expect(sut.prompt('brief')?.listEntry).toEqual({
      name: 'brief',
      arguments: [
        { name: 'slug', description: 'which doc', required: true },
        { name: 'tone', required: false },
        { name: 'length', required: false },
      ],
    });
    expect(sut.scopes().sort()).toEqual(['docs:extra', 'docs:read']);
  });

  it('resolves a URI to the fixed resource first, then the first matching template', async () => {
    const sut = await registryOf(Docs);
    expect(sut.resolve('docs://index')).toMatchObject({ kind: 'fixed' });
    expect(sut.resolve('docs://alpha')).toMatchObject({
      kind: 'template',
      variables: { slug: 'alpha' },
    });
    expect(sut.resolve('other://alpha')).toBeUndefined();
    const doc = sut.resolve('docs://missing');
    if (doc?.kind !== 'template') throw new Error('expected the template');
    await expect(
      doc.resource.read('docs://missing', { slug: 'missing' }, {} as never),
    ).resolves.toBeNull();
    await expect(doc.resource.completers.get('slug')!('a', {} as never)).resolves.toEqual([
      'alpha',
    ]);
  });

  it.each<[string, Type, RegExp]>([
    [
      'two resources named alike',
      (() => {
        @Injectable()
        class Twice {
          @McpResource({ name: 'doc', uri: 'a://1' }) a() {}
          @McpResourceTemplate({ name: 'doc', uriTemplate: 'a://{x}' }) b() {}
        }
        return Twice;
      })(),
      /duplicate MCP resource name "doc"/,
    ],
    [
      'two resources at one URI',
      (() => {
        @Injectable()
        class SameUri {
          @McpResource({ name: 'a', uri: 'a://1' }) a() {}
          @McpResource({ name: 'b', uri: 'a://1' }) b() {}
        }
        return SameUri;
      })(),
      /duplicate MCP resource URI "a:\/\/1"/,
    ],
    [
      'two prompts named alike',
      (() => {
        @Injectable()
        class Prompts {
          @McpPrompt({ name: 'p' }) a() {}
          @McpPrompt({ name: 'p' }) b() {}
        }
        return Prompts;
      })(),
      /duplicate MCP prompt name "p"/,
    ],
    [
      'a completion of an argument that does not exist',
      (() => {
        @Injectable()
        class Dangling {
          @McpPrompt({ name: 'p', args: z.object({ a: z.string() }) }) p() {}
          @McpComplete({ prompt: 'p', argument: 'b' }) c() {}
        }
        return Dangling;
      })(),
      /@McpComplete on Dangling\.c names .*"argument":"b".*, which does not exist/,
    ],
    [
      'a completion of a template that does not exist',
      (() => {
        @Injectable()
        class NoTemplate {
          @McpComplete({ resourceTemplate: 'nope', argument: 'x' }) c() {}
        }
        return NoTemplate;
      })(),
      /which does not exist/,
    ],
  ])('refuses to boot with %s', async (_, provider, message) => {
    await expect(registryOf(provider)).rejects.toThrow(message);
  });
});
