import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { crc32 } from 'node:zlib';

/**
 * API key format: `mcp_<keyId>_<secret><checksum>`.
 * keyId: 12 base62 characters, public, used for lookup. secret: 32 base62 characters from the CSPRNG
 * (~190 bits). checksum: CRC32 of everything before it, as 6 base62 characters, so a scanner or our
 * own parser can reject a mistyped or made-up key without touching the database.
 */
export const API_KEY_PREFIX = 'mcp_';
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const KEY_ID_LENGTH = 12;
export const SECRET_LENGTH = 32;
const CHECKSUM_LENGTH = 6;
const KEY_PATTERN = new RegExp(
  `^${API_KEY_PREFIX}([0-9A-Za-z]{${KEY_ID_LENGTH}})_([0-9A-Za-z]{${SECRET_LENGTH}})([0-9A-Za-z]{${CHECKSUM_LENGTH}})$`,
);

export interface ParsedApiKey {
  keyId: string;
  secret: string;
}

export interface GeneratedApiKey extends ParsedApiKey {
  /** The whole key, as handed to the client once. */
  token: string;
}

function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      // 248 = 4 * 62: rejecting the rest keeps every character equally likely.
      if (byte < 248 && out.length < length) out += ALPHABET[byte % 62];
    }
  }
  return out;
}

function checksum(body: string): string {
  let n = crc32(body);
  let out = '';
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    out = ALPHABET[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

export function formatApiKey(keyId: string, secret: string): string {
  const body = `${API_KEY_PREFIX}${keyId}_${secret}`;
  return body + checksum(body);
}

export function generateApiKey(keyId = randomBase62(KEY_ID_LENGTH)): GeneratedApiKey {
  const secret = randomBase62(SECRET_LENGTH);
  return { keyId, secret, token: formatApiKey(keyId, secret) };
}

/** Null unless the string has the key shape and a matching checksum. Touches no storage. */
export function parseApiKey(token: string): ParsedApiKey | null {
  const m = KEY_PATTERN.exec(token);
  if (!m) return null;
  const [, keyId, secret, sum] = m as unknown as [string, string, string, string];
  if (checksum(`${API_KEY_PREFIX}${keyId}_${secret}`) !== sum) return null;
  return { keyId, secret };
}

export function looksLikeApiKey(token: string): boolean {
  return token.startsWith(API_KEY_PREFIX);
}

/** SHA-256: the secret already carries ~190 bits, so a slow hash would add cost and no safety. */
export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}

export function secretMatches(secret: string, hash: Buffer | null | undefined): boolean {
  if (!hash || hash.length !== 32) return false;
  return timingSafeEqual(hashSecret(secret), hash);
}
