import type { Repository } from 'typeorm';
import { loadConfig } from '@app/config';
import type { PlatformSetting } from './entities';
import { PlatformSecrets, SealedSecretError } from './platform-secrets';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);

async function secrets(env: Record<string, string>, stored?: string): Promise<PlatformSecrets> {
  const chain = {
    insert: () => chain,
    values: () => chain,
    orIgnore: () => chain,
    execute: () => Promise.resolve(),
  };
  const settings = {
    findOneBy: () => Promise.resolve(stored ? { key: 'secrets_key', value: stored } : null),
    createQueryBuilder: () => chain,
  } as unknown as Repository<PlatformSetting>;
  const sut = new PlatformSecrets(loadConfig(env), settings);
  await sut.onModuleInit();
  return sut;
}

describe(PlatformSecrets.name, () => {
  it('opens what it sealed, and the seal shows nothing of the secret', async () => {
    const sut = await secrets({ SECRETS_KEY: A });
    const sealed = sut.seal('sources', 'hunter2-very-secret');

    expect(sealed).toMatch(/^s1\.[0-9a-f]{16}\./);
    expect(sealed).not.toContain('hunter2');
    expect(sut.open('sources', sealed)).toBe('hunter2-very-secret');
    expect(sut.seal('sources', 'x')).not.toBe(sut.seal('sources', 'x'));
  });

  it('refuses an altered seal and a seal of another purpose', async () => {
    const sut = await secrets({ SECRETS_KEY: A });
    const sealed = sut.seal('sources', 'value');
    const parts = sealed.split('.');
    parts[4] = Buffer.from('other').toString('base64url');

    expect(() => sut.open('sources', parts.join('.'))).toThrow(SealedSecretError);
    expect(() => sut.open('introspection', sealed)).toThrow(SealedSecretError);
    expect(() => sut.open('sources', 'plain text')).toThrow(/not a sealed secret/);
  });

  it('opens seals of the previous key after a rotation and says they need re-sealing', async () => {
    const before = await secrets({ SECRETS_KEY: A });
    const old = before.seal('sources', 'value');
    const after = await secrets({ SECRETS_KEY: B, SECRETS_KEY_PREVIOUS: A });

    expect(after.open('sources', old)).toBe('value');
    expect(after.isCurrent('sources', old)).toBe(false);
    expect(after.isCurrent('sources', after.seal('sources', 'value'))).toBe(true);
    const without = await secrets({ SECRETS_KEY: B });
    expect(() => without.open('sources', old)).toThrow(/SECRETS_KEY_PREVIOUS/);
  });

  it('treats the generated key as the previous one once SECRETS_KEY is set', async () => {
    const generated = Buffer.alloc(32, 7).toString('base64');
    const embedded = await secrets({}, generated);
    const old = embedded.seal('sources', 'value');
    const managed = await secrets({ SECRETS_KEY: B }, generated);

    expect(managed.open('sources', old)).toBe('value');
    expect(managed.isCurrent('sources', old)).toBe(false);
  });
});
