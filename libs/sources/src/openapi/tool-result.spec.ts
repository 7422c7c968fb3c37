import { OPENAPI_LIMITS } from './limits';
import { toToolResult as sut } from './tool-result';

describe(sut.name, () => {
  it('returns a JSON object as text and as structured content', () => {
    expect(sut(200, 'OK', 'application/json; charset=utf-8', '{"id":1,"name":"Rex"}')).toEqual({
      content: [{ type: 'text', text: '{"id":1,"name":"Rex"}' }],
      structuredContent: { id: 1, name: 'Rex' },
    });
  });

  it('wraps a JSON array or scalar as { result }', () => {
    expect(sut(200, 'OK', 'application/json', '[1,2]').structuredContent).toEqual({
      result: [1, 2],
    });
    expect(sut(200, 'OK', 'application/problem+json', '"done"').structuredContent).toEqual({
      result: 'done',
    });
    expect(sut(200, 'OK', 'application/json', 'null').structuredContent).toEqual({ result: null });
  });

  it('returns other bodies as text only', () => {
    expect(sut(200, 'OK', 'text/plain', 'hello')).toEqual({
      content: [{ type: 'text', text: 'hello' }],
    });
    expect(sut(200, 'OK', null, '{"a":1}')).toEqual({
      content: [{ type: 'text', text: '{"a":1}' }],
    });
    expect(sut(200, 'OK', 'application/json', '{not json')).toEqual({
      content: [{ type: 'text', text: '{not json' }],
    });
  });

  it('says the status for an empty body', () => {
    expect(sut(204, 'No Content', null, '')).toEqual({
      content: [{ type: 'text', text: '204 No Content' }],
    });
    expect(sut(202, '', 'application/json', '  ')).toEqual({
      content: [{ type: 'text', text: '202 Accepted' }],
    });
  });

  it('makes a non-2xx answer an error naming the upstream status', () => {
    expect(sut(404, 'Not Found', 'application/json', '{"message":"no such pet"}')).toEqual({
      content: [{ type: 'text', text: '404 Not Found: {"message":"no such pet"}' }],
      isError: true,
    });
    expect(sut(503, '', 'text/html', '')).toEqual({
      content: [{ type: 'text', text: '503 Service Unavailable' }],
      isError: true,
    });
    expect(sut(302, 'Found', null, '').isError).toBe(true);
    expect(sut(299, 'Odd', null, 'x').isError).toBeUndefined();
  });

  it('quotes only the start of a long error body', () => {
    const body = 'e'.repeat(OPENAPI_LIMITS.maxErrorExcerpt + 500);
    const { content } = sut(500, 'Internal Server Error', 'text/plain', body);
    expect(content[0].text).toBe(
      `500 Internal Server Error: ${'e'.repeat(OPENAPI_LIMITS.maxErrorExcerpt)}…`,
    );
  });
});
