import type { Principal } from '@app/auth';
import { type Capability, type CapabilityKind, decideAccess, grantKey } from './access-policy';

const principal = (over: Partial<Principal> = {}): Principal => ({
  kind: 'api-key',
  id: 'k1',
  tenantId: 't1',
  scopes: ['notes:read'],
  ...over,
});
const capability = (
  kind: CapabilityKind,
  name = 'x',
  requiredScopes = ['notes:read'],
): Capability => ({
  kind,
  name,
  requiredScopes,
});

describe(decideAccess.name, () => {
  const KINDS: CapabilityKind[] = ['tool', 'resource', 'prompt'];

  it.each(KINDS)('allows a %s whose scopes are held, enabled and not excluded', (kind) => {
    expect(decideAccess(principal(), capability(kind), new Map())).toEqual({ kind: 'allowed' });
  });

  it.each(KINDS)('reports only a scope shortfall as such (%s)', (kind) => {
    const sut = capability(kind, 'x', ['notes:read', 'notes:write']);
    expect(decideAccess(principal(), sut, new Map())).toEqual({
      kind: 'insufficient_scope',
      scopes: ['notes:read', 'notes:write'],
    });
  });

  it.each(KINDS)('hides a %s the tenant disabled, under its own grant key', (kind) => {
    const grants = new Map([[grantKey(kind, 'x'), false]]);
    expect(decideAccess(principal(), capability(kind), grants)).toEqual({ kind: 'hidden' });
    // The switch of another kind with the same name changes nothing.
    const other = KINDS.find((k) => k !== kind)!;
    expect(decideAccess(principal(), capability(other), grants)).toEqual({ kind: 'allowed' });
  });

  it('hides what is missing', () => {
    expect(decideAccess(principal(), undefined, new Map())).toEqual({ kind: 'hidden' });
  });

  it.each<[CapabilityKind, keyof Principal]>([
    ['tool', 'tools'],
    ['resource', 'resources'],
    ['prompt', 'prompts'],
  ])('applies the %s allow-list (%s) to its own kind only', (kind, list) => {
    const limited = principal({ [list]: ['y'] });
    expect(decideAccess(limited, capability(kind, 'x'), new Map())).toEqual({ kind: 'hidden' });
    expect(decideAccess(limited, capability(kind, 'y'), new Map())).toEqual({ kind: 'allowed' });
    for (const other of KINDS.filter((k) => k !== kind)) {
      expect(decideAccess(limited, capability(other, 'x'), new Map())).toEqual({ kind: 'allowed' });
    }
    // An empty list allows nothing of its kind; null is no limit.
    expect(decideAccess(principal({ [list]: [] }), capability(kind), new Map()).kind).toBe(
      'hidden',
    );
    expect(decideAccess(principal({ [list]: null }), capability(kind), new Map()).kind).toBe(
      'allowed',
    );
  });

  it('hides before it reports scopes: a disabled capability never asks for a step-up', () => {
    const sut = capability('prompt', 'x', ['admin:all']);
    expect(decideAccess(principal(), sut, new Map([['prompt:x', false]]))).toEqual({
      kind: 'hidden',
    });
    expect(decideAccess(principal({ prompts: [] }), sut, new Map())).toEqual({ kind: 'hidden' });
  });

  it('keys tools by their bare name, so grants stored before resources existed keep meaning', () => {
    expect(grantKey('tool', 'notes_get')).toBe('notes_get');
    expect(grantKey('resource', 'note')).toBe('resource:note');
    expect(grantKey('prompt', 'notes_summary')).toBe('prompt:notes_summary');
  });
});
