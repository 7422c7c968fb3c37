export type BodyEncoding = 'json' | 'form';

/** The request bodies a tool can send: JSON (`application/json`, `…+json`) and URL-encoded forms. */
export function bodyEncoding(mediaType: string): BodyEncoding | undefined {
  const essence = mediaType.split(';')[0].trim().toLowerCase();
  if (essence === 'application/json' || /^application\/[^/\s]+\+json$/.test(essence)) return 'json';
  if (essence === 'application/x-www-form-urlencoded') return 'form';
  return undefined;
}

export function isJsonMediaType(contentType: string | null | undefined): boolean {
  return contentType !== null && contentType !== undefined && bodyEncoding(contentType) === 'json';
}
