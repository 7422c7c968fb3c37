const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COLON = 0x3a;
const COMMA = 0x2c;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function skipSpace(buf: Buffer, i: number): number {
  while (i < buf.length && isSpace(buf[i])) i++;
  return i;
}

/** Index just past the string whose opening quote is at `i`, or -1. */
function skipString(buf: Buffer, i: number): number {
  for (let j = i + 1; ;) {
    const q = buf.indexOf(QUOTE, j);
    if (q < 0) return -1;
    let slashes = 0;
    for (let k = q - 1; k > i && buf[k] === BACKSLASH; k--) slashes++;
    if (slashes % 2 === 0) return q + 1;
    j = q + 1;
  }
}

/** Index just past the value starting at `i` (strings, nested containers, literals), or -1. */
function skipValue(buf: Buffer, i: number): number {
  const c = buf[i];
  if (c === QUOTE) return skipString(buf, i);
  if (c !== OPEN_BRACE && c !== OPEN_BRACKET) {
    while (i < buf.length) {
      const d = buf[i];
      if (d === COMMA || d === CLOSE_BRACE || d === CLOSE_BRACKET || isSpace(d)) return i;
      i++;
    }
    return -1;
  }
  let depth = 0;
  while (i < buf.length) {
    const d = buf[i];
    if (d === QUOTE) {
      i = skipString(buf, i);
      if (i < 0) return -1;
      continue;
    }
    if (d === OPEN_BRACE || d === OPEN_BRACKET) depth++;
    else if (d === CLOSE_BRACE || d === CLOSE_BRACKET) {
      depth--;
      if (depth === 0) return i + 1;
    }
    i++;
  }
  return -1;
}

function readKey(buf: Buffer, start: number, end: number): string | undefined {
  if (!buf.subarray(start, end).includes(BACKSLASH)) {
    return buf.toString('utf8', start + 1, end - 1);
  }
  try {
    return JSON.parse(buf.toString('utf8', start, end)) as string;
  } catch {
    return undefined;
  }
}

/**
 * The first top-level `method` of a JSON-RPC message, read from its raw bytes without parsing
 * them: members before it are skipped, not built, so a large body can be judged for a fraction of
 * what JSON.parse costs. `null` when the object has no top-level `method` (a response), and
 * `undefined` when the bytes are not a JSON object this scan understands.
 */
export function peekMethod(buf: Buffer): string | null | undefined {
  let i = skipSpace(buf, buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0);
  if (buf[i] !== OPEN_BRACE) return undefined;
  i = skipSpace(buf, i + 1);
  if (buf[i] === CLOSE_BRACE) return null;
  while (i < buf.length) {
    if (buf[i] !== QUOTE) return undefined;
    const keyEnd = skipString(buf, i);
    if (keyEnd < 0) return undefined;
    const key = readKey(buf, i, keyEnd);
    if (key === undefined) return undefined;
    i = skipSpace(buf, keyEnd);
    if (buf[i] !== COLON) return undefined;
    i = skipSpace(buf, i + 1);
    if (key === 'method') {
      if (buf[i] !== QUOTE) return undefined;
      const end = skipString(buf, i);
      if (end < 0) return undefined;
      try {
        return JSON.parse(buf.toString('utf8', i, end)) as string;
      } catch {
        return undefined;
      }
    }
    i = skipValue(buf, i);
    if (i < 0) return undefined;
    i = skipSpace(buf, i);
    if (buf[i] === CLOSE_BRACE) return null;
    if (buf[i] !== COMMA) return undefined;
    i = skipSpace(buf, i + 1);
  }
  return undefined;
}
