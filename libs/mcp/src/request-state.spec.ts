import { loadConfig } from '@app/config';
import type { PlatformSecrets } from '@app/tenancy';
import { RequestStateRefused, RequestStateSealer, type StateBinding } from './request-state';
import { LocalSessionDirectory } from './session-directory';

const secrets = (master: string) =>
  ({
    key: (purpose: string) => Buffer.from(`${master}:${purpose}`.padEnd(32, '.').slice(0, 32)),
  }) as unknown as PlatformSecrets;

const binding: StateBinding = {
  tenantId: 't1',
  principalId: 'k1',
  method: 'tools/call',
  target: 'notes_delete',
  args: { id: 'n1' },
};

describe(RequestStateSealer.name, () => {
  const sealerWith = (ttl = '600', master = 'a') =>
    new RequestStateSealer(
      secrets(master),
      new LocalSessionDirectory(),
      loadConfig({ REQUEST_STATE_TTL: ttl }),
    );

  it('opens what it sealed, once, with the answers inside', async () => {
    const sut = sealerWith();
    const state = sut.seal(binding, { step1: { action: 'accept', content: { name: 'Ada' } } });
    expect(state).not.toContain('Ada');
    await expect(sut.open(state, binding)).resolves.toEqual({
      step1: { action: 'accept', content: { name: 'Ada' } },
    });
    await expect(sut.open(state, binding)).rejects.toThrow(/already used/);
  });

  it.each<[string, Partial<StateBinding>]>([
    ['another tenant', { tenantId: 't2' }],
    ['another principal', { principalId: 'k2' }],
    ['another method', { method: 'prompts/get' }],
    ['another target', { target: 'notes_create' }],
    ['other arguments', { args: { id: 'n2' } }],
  ])('refuses it for %s', async (_, other) => {
    const sut = sealerWith();
    const state = sut.seal(binding, {});
    await expect(sut.open(state, { ...binding, ...other })).rejects.toThrow(/integrity/);
    // A refused attempt does not use the state up.
    await expect(sut.open(state, binding)).resolves.toEqual({});
  });

  it('refuses any change to any part, and anything it did not issue', async () => {
    const sut = sealerWith();
    const state = sut.seal(binding, { a: { action: 'accept' } });
    const parts = state.split('.');
    for (let i = 1; i < parts.length; i++) {
      const changed = [...parts];
      changed[i] = changed[i].startsWith('A')
        ? `B${changed[i].slice(1)}`
        : `A${changed[i].slice(1)}`;
      await expect(sut.open(changed.join('.'), binding)).rejects.toBeInstanceOf(
        RequestStateRefused,
      );
    }
    for (const junk of ['', 'v1', 'v1.a.b', 'v2.a.b.c', `${state}.x`, 'not-a-state']) {
      await expect(sut.open(junk, binding)).rejects.toBeInstanceOf(RequestStateRefused);
    }
    await expect(sealerWith('600', 'b').open(state, binding)).rejects.toThrow(/integrity/);
  });

  it('refuses an expired state', async () => {
    jest.useFakeTimers({ now: Date.now() });
    try {
      const sut = sealerWith('1');
      const state = sut.seal(binding, {});
      jest.setSystemTime(Date.now() + 1_500);
      await expect(sut.open(state, binding)).rejects.toThrow(/expired/);
    } finally {
      jest.useRealTimers();
    }
  });
});
