import { scopesFrom } from './scopes';

describe(scopesFrom.name, () => {
  const sut = scopesFrom;

  it('reads `scope` as space-separated scopes, ignoring extra spaces', () => {
    expect(sut({ scope: ' notes:read  math:use ' }, undefined)).toEqual(['notes:read', 'math:use']);
  });

  it('falls back to `scp`, as a string or an array', () => {
    expect(sut({ scp: 'a b' }, undefined)).toEqual(['a', 'b']);
    expect(sut({ scp: ['a', 'b'] }, undefined)).toEqual(['a', 'b']);
    expect(sut({ scope: 'x', scp: ['a'] }, undefined)).toEqual(['x']);
  });

  it('reads a configured claim instead of the defaults', () => {
    expect(sut({ scope: 'x', roles: ['admin', 'user'] }, 'roles')).toEqual(['admin', 'user']);
    expect(sut({ scope: 'x' }, 'roles')).toEqual([]);
  });

  it('follows a dotted path into nested claims', () => {
    const claims = { realm_access: { roles: ['notes:read'] } };

    expect(sut(claims, 'realm_access.roles')).toEqual(['notes:read']);
    expect(sut(claims, 'realm_access.missing')).toEqual([]);
    expect(sut(claims, 'realm_access.roles.deeper')).toEqual([]);
    expect(sut({ realm_access: null }, 'realm_access.roles')).toEqual([]);
    expect(sut({ realm_access: [{ roles: ['x'] }] }, 'realm_access.0.roles')).toEqual([]);
  });

  it('prefers a top-level claim whose name has the dots', () => {
    const claims = { 'https://example.com.scopes': 'a', https: { 'example.com': 'b' } };

    expect(sut(claims, 'https://example.com.scopes')).toEqual(['a']);
  });

  it('never reaches into the prototype', () => {
    expect(sut({ a: {} }, 'a.constructor.name')).toEqual([]);
    expect(sut({}, '__proto__')).toEqual([]);
  });

  it('keeps only non-empty strings and ignores other types', () => {
    expect(sut({ roles: ['a', 1, null, '', 'b'] }, 'roles')).toEqual(['a', 'b']);
    expect(sut({ roles: 42 }, 'roles')).toEqual([]);
    expect(sut({ roles: { a: 'b' } }, 'roles')).toEqual([]);
    expect(sut({}, undefined)).toEqual([]);
  });
});
