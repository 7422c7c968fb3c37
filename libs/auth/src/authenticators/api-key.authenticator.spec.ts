import type { Request } from 'express';
import { generateApiKey } from '@app/tenancy';
import type { ApiKeyVerifier } from '../api-key.verifier';
import type { Principal } from '../principal';
import { CredentialRefused } from '../refusal';
import { ApiKeyAuthenticator } from './api-key.authenticator';
import type { AuthAttempt } from './authenticator';

const KEY = generateApiKey().token;
const OTHER_KEY = generateApiKey().token;
const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln';

const PRINCIPAL: Principal = {
  kind: 'api-key',
  id: '0b8c0c8e-0000-4000-8000-000000000001',
  tenantId: '5b0e7c4e-0000-4000-8000-000000000001',
  scopes: ['notes:read'],
  keyId: KEY.slice(4, 16),
};

/** The verifier, a collaborator: the one key it knows, and the tokens it was shown. */
class FakeVerifier {
  readonly shown: string[] = [];

  verify(token: string): Promise<Principal> {
    this.shown.push(token);
    return token === KEY
      ? Promise.resolve(PRINCIPAL)
      : Promise.reject(new CredentialRefused('invalid', 'API key is not valid'));
  }
}

function attempt(headers: Record<string, string | string[]>, bearer?: string): AuthAttempt {
  return {
    req: { headers } as unknown as Request,
    bearer,
    tenant: () => Promise.reject(new Error('an API key does not need the route’s tenant')),
  };
}

describe(ApiKeyAuthenticator.name, () => {
  let verifier: FakeVerifier;
  let sut: ApiKeyAuthenticator;

  beforeEach(() => {
    verifier = new FakeVerifier();
    sut = new ApiKeyAuthenticator(verifier as unknown as ApiKeyVerifier);
  });

  it('is the api-key authenticator', () => {
    expect(sut.kind).toBe('api-key');
  });

  describe('accepts', () => {
    it.each([
      ['an X-API-Key header', { 'x-api-key': KEY }, undefined],
      ['an X-API-Key header next to a JWT bearer', { 'x-api-key': KEY }, JWT],
      ['an X-API-Key header whatever it holds', { 'x-api-key': 'not-a-key' }, undefined],
      ['a bearer token of the key’s shape', {}, KEY],
      ['a bearer token of the key’s prefix only', {}, 'mcp_typo'],
    ])('%s', (_what, headers, bearer) => {
      expect(sut.accepts(attempt(headers, bearer))).toBe(true);
    });

    it.each([
      ['no credential', {}, undefined],
      ['an empty X-API-Key header', { 'x-api-key': '' }, undefined],
      ['a blank X-API-Key header', { 'x-api-key': '   ' }, undefined],
      ['a repeated X-API-Key header', { 'x-api-key': [KEY, KEY] }, undefined],
      ['a JWT bearer', {}, JWT],
      ['an opaque bearer', {}, 'opaque-admin-token'],
    ])('not %s', (_what, headers, bearer) => {
      expect(sut.accepts(attempt(headers, bearer))).toBe(false);
    });
  });

  describe('authenticate', () => {
    it('verifies the X-API-Key header, trimmed, and resolves to its principal', async () => {
      await expect(sut.authenticate(attempt({ 'x-api-key': `  ${KEY} ` }))).resolves.toBe(
        PRINCIPAL,
      );
      expect(verifier.shown).toEqual([KEY]);
    });

    it('verifies a bearer key', async () => {
      await expect(sut.authenticate(attempt({}, KEY))).resolves.toBe(PRINCIPAL);
      expect(verifier.shown).toEqual([KEY]);
    });

    it('takes the X-API-Key header over the bearer', async () => {
      await expect(sut.authenticate(attempt({ 'x-api-key': KEY }, OTHER_KEY))).resolves.toBe(
        PRINCIPAL,
      );
      expect(verifier.shown).toEqual([KEY]);
    });

    it('passes the verifier’s refusal on', async () => {
      const refused = sut.authenticate(attempt({}, OTHER_KEY));

      await expect(refused).rejects.toBeInstanceOf(CredentialRefused);
      await expect(refused).rejects.toThrow('API key is not valid');
      expect(verifier.shown).toEqual([OTHER_KEY]);
    });

    it('refuses when asked without a key', async () => {
      await expect(sut.authenticate(attempt({}))).rejects.toThrow('API key is not valid');
      expect(verifier.shown).toEqual(['']);
    });
  });
});
