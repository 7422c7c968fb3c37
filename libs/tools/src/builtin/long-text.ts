import type { McpToolOptions } from '../decorators';

/** The longest text argument a built-in tool takes (echo's text, a note's body), in UTF-16 units. */
export const LONG_TEXT_MAX = 100_000;

/**
 * Room for a LONG_TEXT_MAX argument however it is written: each UTF-16 unit is at most 6 bytes
 * of JSON (a `\u0001`-style escape; 3 bytes as raw UTF-8), so 600,000 bytes plus the JSON-RPC
 * envelope. MAX_ARGUMENT_BYTES' default (256 KiB) would refuse a valid 100,000-character CJK
 * note (about 300 KB); elements and depth keep the defaults.
 */
export const LONG_TEXT_LIMITS: McpToolOptions['limits'] = { maxBytes: 640 * 1024 };
