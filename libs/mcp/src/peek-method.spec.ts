import fc from 'fast-check';
import { peekMethod } from './peek-method';

const peek = (text: string) => peekMethod(Buffer.from(text, 'utf8'));

describe(peekMethod.name, () => {
  it('finds the method wherever it stands among the top-level members', () => {
    expect(peek('{"method":"tools/call","params":{},"jsonrpc":"2.0","id":1}')).toBe('tools/call');
    expect(peek('{"jsonrpc":"2.0","id":1,"params":{"method":"x"},"method":"ping"}')).toBe('ping');
    expect(peek(' \n{ "id" : "a\\"b" , "method" : "tools/list" }')).toBe('tools/list');
    expect(peek('{"params":{"arguments":{"list":[1,2,[3,{"method":"no"}]]}},"method":"m"}')).toBe(
      'm',
    );
  });

  it('reads escaped member names as JSON does', () => {
    expect(peek('{"me\\u0074hod":"ping"}')).toBe('ping');
    expect(peek('{"a\\"b":1,"method":"x"}')).toBe('x');
  });

  it('says null for an object without a top-level method (a response)', () => {
    expect(peek('{"jsonrpc":"2.0","id":1,"result":{"method":"nested, not top-level"}}')).toBeNull();
    expect(peek('{}')).toBeNull();
  });

  it('says undefined for what it does not understand, so the caller does not trust it', () => {
    for (const text of [
      '[{"method":"ping"}]',
      '{"method":1}',
      '{"id":1,"params":{"unterminated":',
      '{"id":1 "method":"ping"}',
      'not json',
      '',
    ]) {
      expect({ text, got: peek(text) }).toEqual({ text, got: undefined });
    }
  });

  it('agrees with JSON.parse on every object JSON.stringify writes', () => {
    const member = fc.oneof(fc.jsonValue(), fc.string());
    fc.assert(
      fc.property(
        fc.dictionary(fc.string(), member),
        fc.option(fc.string(), { nil: undefined }),
        (members, method) => {
          const message: Record<string, unknown> = { ...members };
          if (method !== undefined) message.method = method;
          else delete message.method;
          const got = peek(JSON.stringify(message));
          const raw = (JSON.parse(JSON.stringify(message)) as Record<string, unknown>).method;
          const expected = typeof raw === 'string' ? raw : raw === undefined ? null : undefined;
          expect(got).toEqual(expected);
        },
      ),
    );
  });
});
