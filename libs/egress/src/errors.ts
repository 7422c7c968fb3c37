export type EgressRefusal = 'scheme' | 'address' | 'unresolvable' | 'redirects';

/** A URL without what may hold secrets: userinfo, query and fragment (and capped in length). */
export function safeUrl(url: URL): string {
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  copy.search = '';
  copy.hash = '';
  return copy.href.length > 200 ? `${copy.href.slice(0, 200)}…` : copy.href;
}

/** The platform will not fetch this URL on a tenant's behalf; the message says why. */
export class EgressRefused extends Error {
  override readonly name = 'EgressRefused';
  readonly url: string;

  constructor(
    url: URL,
    readonly reason: EgressRefusal,
    readonly detail: string,
    redirectedFrom?: URL,
  ) {
    const target = safeUrl(url);
    super(
      redirectedFrom
        ? `${safeUrl(redirectedFrom)} redirected to ${target}, which is not allowed: ${detail}`
        : `${target} is not allowed: ${detail}`,
    );
    this.url = target;
  }
}

/** `timeoutMs` passed before the response (or, except for event streams, its body) was complete. */
export class EgressTimeout extends Error {
  override readonly name = 'TimeoutError';
  readonly url: string;

  constructor(
    url: URL,
    readonly timeoutMs: number,
  ) {
    super(`${safeUrl(url)} did not answer within ${timeoutMs} ms`);
    this.url = safeUrl(url);
  }
}

export class ResponseTooLarge extends Error {
  override readonly name = 'ResponseTooLarge';

  constructor(
    readonly maxBytes: number,
    readonly url?: string,
  ) {
    super(`${url ? `the response from ${url}` : 'the response'} exceeds ${maxBytes} bytes`);
  }
}
