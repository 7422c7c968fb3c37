import fc from 'fast-check';
import {
  API_KEY_PREFIX,
  formatApiKey,
  generateApiKey,
  hashSecret,
  parseApiKey,
  secretMatches,
} from './api-key-codec';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'.split('');
const base62 = (n: number) =>
  fc.array(fc.constantFrom(...BASE62), { minLength: n, maxLength: n }).map((a) => a.join(''));

describe('api key codec', () => {
  it('generates keys of the documented shape', () => {
    const sut = generateApiKey();
    expect(sut.token).toMatch(/^mcp_[0-9A-Za-z]{12}_[0-9A-Za-z]{38}$/);
    expect(sut.secret).toHaveLength(32);
    expect(parseApiKey(sut.token)).toEqual({ keyId: sut.keyId, secret: sut.secret });
  });

  it('never repeats a secret', () => {
    const seen = new Set(Array.from({ length: 2000 }, () => generateApiKey().secret));
    expect(seen.size).toBe(2000);
  });

  it('round-trips any key id and secret', () => {
    fc.assert(
      fc.property(base62(12), base62(32), (keyId, secret) => {
        expect(parseApiKey(formatApiKey(keyId, secret))).toEqual({ keyId, secret });
      }),
    );
  });

  it('rejects every single-character typo', () => {
    fc.assert(
      fc.property(
        base62(12),
        base62(32),
        fc.nat(),
        fc.constantFrom(...BASE62, '_', '-', ' '),
        (keyId, secret, pos, ch) => {
          const token = formatApiKey(keyId, secret);
          const i = pos % token.length;
          fc.pre(token[i] !== ch);
          const typo = token.slice(0, i) + ch + token.slice(i + 1);
          expect(parseApiKey(typo)).toBeNull();
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('rejects foreign strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        expect(parseApiKey(s)).toBeNull();
      }),
    );
    fc.assert(
      fc.property(base62(12), base62(38), (keyId, rest) => {
        // Right shape, made-up checksum: rejected unless it happens to be the right one, that is
        // unless the key it parses to formats back to exactly this token.
        const token = `${API_KEY_PREFIX}${keyId}_${rest}`;
        const parsed = parseApiKey(token);
        const canonical = parsed ? formatApiKey(parsed.keyId, parsed.secret) : undefined;
        expect(parsed === null || canonical === token).toBe(true);
      }),
    );
    for (const s of ['', 'mcp_', 'Bearer mcp_x', 'ghp_' + 'a'.repeat(36), 'eyJhbGciOi.e30.x']) {
      expect(parseApiKey(s)).toBeNull();
    }
  });

  it('compares secrets against their hash only', () => {
    const { secret } = generateApiKey();
    const hash = hashSecret(secret);
    expect(secretMatches(secret, hash)).toBe(true);
    expect(secretMatches(secret.slice(0, -1) + (secret.endsWith('a') ? 'b' : 'a'), hash)).toBe(
      false,
    );
    expect(secretMatches(secret, null)).toBe(false);
    expect(secretMatches(secret, Buffer.alloc(3))).toBe(false);
  });
});
