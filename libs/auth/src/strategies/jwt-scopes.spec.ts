import { scopesFrom } from './jwt.strategy';

describe(scopesFrom.name, () => {
  it('reads scope, then scp, by default', () => {
    expect(scopesFrom({ scope: 'a b  c' }, undefined)).toEqual(['a', 'b', 'c']);
    expect(scopesFrom({ scp: ['x', 'y'] }, undefined)).toEqual(['x', 'y']);
    expect(scopesFrom({ sub: 'u' }, undefined)).toEqual([]);
  });

  it('reads a configured top-level claim', () => {
    expect(scopesFrom({ permissions: ['notes:read', 7, 'math:use'] }, 'permissions')).toEqual([
      'notes:read',
      'math:use',
    ]);
  });

  it('follows a dotted path into nested claims', () => {
    const claims = { realm_access: { roles: ['notes:read', 'tenant:admin'] } };
    expect(scopesFrom(claims, 'realm_access.roles')).toEqual(['notes:read', 'tenant:admin']);
  });

  it('prefers a top-level claim named with the dots', () => {
    const claims = { 'realm_access.roles': 'flat', realm_access: { roles: ['nested'] } };
    expect(scopesFrom(claims, 'realm_access.roles')).toEqual(['flat']);
  });

  it('finds nothing on a missing, non-object or inherited step', () => {
    expect(scopesFrom({ realm_access: 'roles' }, 'realm_access.roles')).toEqual([]);
    expect(scopesFrom({ realm_access: [['a']] }, 'realm_access.0')).toEqual([]);
    expect(scopesFrom({}, 'constructor.name')).toEqual([]);
    expect(scopesFrom({ a: {} }, 'a.toString')).toEqual([]);
  });
});
