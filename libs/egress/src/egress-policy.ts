import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import type { LookupAddress } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP, type LookupFunction } from 'node:net';
import {
  Agent,
  Headers as UndiciHeaders,
  Response as UndiciResponse,
  fetch as undiciFetch,
} from 'undici';
import { PlatformConfig } from '@app/config';
import { type AllowRange, judgeAddress, parseAllow } from './address-policy';
import { EgressRefused, EgressTimeout, type EgressRefusal, safeUrl } from './errors';

export interface EgressInit extends RequestInit {
  /**
   * Milliseconds for the whole exchange, redirects and body included, except that for an event
   * stream (text/event-stream) it bounds only the wait for the response headers. 0: no limit.
   */
  timeoutMs?: number;
  maxRedirects?: number;
}

type UndiciInit = NonNullable<Parameters<typeof undiciFetch>[1]>;

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_REDIRECTS = 5;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const BODY_HEADERS = [
  'content-type',
  'content-length',
  'content-encoding',
  'content-language',
  'content-location',
];
const CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization', 'cookie'];
const HINT = 'the operator can allow such ranges with EGRESS_ALLOW';

/** Thrown from the connect-time lookup, where the URL is unknown; fetch() turns it into EgressRefused. */
class HostRefused extends Error {
  constructor(
    readonly reason: EgressRefusal,
    readonly detail: string,
  ) {
    super(detail);
  }
}

/**
 * The one way the platform fetches anything on a tenant's behalf. Addresses are checked where the
 * socket is opened (the agent's DNS lookup), so what was checked is what gets connected to.
 */
@Injectable()
export class EgressPolicy implements OnApplicationShutdown {
  private readonly allow: readonly AllowRange[];
  private readonly agent: Agent;

  /** fetch() with a WHATWG signature, for SDK transports' `fetch` option. */
  readonly fetchFn = async (
    input: string | URL | Request,
    init?: RequestInit,
  ): Promise<Response> => {
    if (typeof input === 'string' || input instanceof URL) return this.fetch(input, init);
    // Buffered, so a 307/308 can resend it; a Request may also come from another fetch
    // implementation, which undici's own fetch would not recognise.
    const body = input.body ? await input.arrayBuffer() : undefined;
    const overrides = Object.entries(init ?? {}).filter(([, v]) => v !== undefined);
    return this.fetch(input.url, {
      method: input.method,
      headers: input.headers,
      body,
      signal: input.signal,
      redirect: input.redirect,
      ...(Object.fromEntries(overrides) as RequestInit),
    });
  };

  private readonly connectLookup: LookupFunction = (hostname, options, callback) => {
    this.vet(hostname).then(
      (addresses) => {
        const family =
          options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family;
        const usable = family ? addresses.filter((a) => a.family === family) : addresses;
        if (!usable.length) {
          callback(new HostRefused('unresolvable', `its host has no IPv${family} address`), '', 0);
        } else if (options.all) {
          (callback as (err: null, addresses: LookupAddress[]) => void)(null, usable);
        } else {
          callback(null, usable[0].address, usable[0].family);
        }
      },
      (err: Error) => callback(err, '', 0),
    );
  };

  constructor(config: PlatformConfig) {
    this.allow = parseAllow(config.egressAllow);
    this.agent = new Agent({
      connect: { lookup: this.connectLookup },
      // Event streams may stay quiet for long; fetch() enforces timeoutMs itself.
      bodyTimeout: 0,
      headersTimeout: 0,
    });
  }

  /** Resolves the URL's host and checks every address; throws EgressRefused. */
  async check(url: string | URL): Promise<void> {
    const target = toUrl(url);
    try {
      checkScheme(target);
      await this.vet(target.hostname);
    } catch (err) {
      throw err instanceof HostRefused ? new EgressRefused(target, err.reason, err.detail) : err;
    }
  }

  async fetch(input: string | URL, init: EgressInit = {}): Promise<Response> {
    const {
      timeoutMs = DEFAULT_TIMEOUT_MS,
      maxRedirects = DEFAULT_MAX_REDIRECTS,
      signal: callerSignal,
      redirect = 'follow',
      ...rest
    } = init;
    const start = toUrl(input);
    let url = start;
    let method = (rest.method ?? 'GET').toUpperCase();
    const headers = new UndiciHeaders(rest.headers as UndiciInit['headers']);
    let body = (rest.body ?? null) as UndiciInit['body'];

    const signal = new RequestSignal(
      callerSignal,
      timeoutMs,
      () => new EgressTimeout(url, timeoutMs),
    );

    try {
      for (let hop = 0; ; hop++) {
        checkScheme(url);
        // Node's net.connect skips the lookup for an IP literal, so it is checked here.
        const literal = unbracket(url.hostname);
        if (isIP(literal)) this.checkAddresses([literal]);

        const res = await undiciFetch(url, {
          ...(rest as UndiciInit),
          method,
          headers,
          body,
          signal: signal.signal,
          redirect: 'manual',
          dispatcher: this.agent,
        });
        const location = res.headers.get('location');
        if (!REDIRECT_STATUSES.has(res.status) || location === null || redirect === 'manual') {
          return withDeadline(res, signal, hop > 0);
        }
        await res.body?.cancel().catch(() => undefined);
        const next = URL.canParse(location, url.href) ? new URL(location, url) : undefined;
        if (!next)
          throw new TypeError(`${safeUrl(url)} redirected to a location that is not a URL`);
        if (redirect === 'error') {
          throw new HostRefused(
            'redirects',
            `it redirects to ${next.origin}, and redirects are off`,
          );
        }
        if (hop >= maxRedirects) {
          throw new HostRefused('redirects', `it redirected more than ${maxRedirects} times`);
        }
        // As fetch does (WHATWG fetch, "HTTP-redirect fetch").
        if (
          ((res.status === 301 || res.status === 302) && method === 'POST') ||
          (res.status === 303 && method !== 'GET' && method !== 'HEAD')
        ) {
          method = 'GET';
          body = null;
          for (const name of BODY_HEADERS) headers.delete(name);
        } else if (body instanceof ReadableStream) {
          throw new TypeError(
            `${start.origin} redirected a streamed request body, which cannot be sent again`,
          );
        }
        if (next.origin !== url.origin) for (const name of CREDENTIAL_HEADERS) headers.delete(name);
        url = next;
      }
    } catch (err) {
      signal.done();
      const refused = findHostRefused(err);
      if (refused) {
        const where = refused.reason === 'redirects' ? start : url;
        const from = where === start ? undefined : start;
        throw new EgressRefused(where, refused.reason, refused.detail, from);
      }
      if (signal.timedOut) throw signal.signal.reason;
      throw err;
    }
  }

  async onApplicationShutdown(): Promise<void> {
    // Last (a global module's hooks run after its dependents'): whatever is still open is cut.
    await this.agent.destroy();
  }

  private async vet(hostname: string): Promise<LookupAddress[]> {
    const host = unbracket(hostname);
    const family = isIP(host);
    if (family) return this.checkAddresses([host]);
    let addresses: LookupAddress[] = [];
    try {
      addresses = await dnsLookup(host, { all: true, order: 'verbatim' });
    } catch {
      // ENOTFOUND, EAI_AGAIN, ...: the resolver's details help no tenant.
    }
    if (!addresses.length)
      throw new HostRefused('unresolvable', `its host ${host} did not resolve`);
    return this.checkAddresses(addresses.map((a) => a.address));
  }

  private checkAddresses(addresses: string[]): LookupAddress[] {
    for (const address of addresses) {
      const range = judgeAddress(address, this.allow);
      if (range) {
        const among =
          addresses.length > 1 ? ` (one of the ${addresses.length} it resolves to)` : '';
        throw new HostRefused(
          'address',
          `its host resolves to ${address}, ${article(range)} ${range} address${among}; ${HINT}`,
        );
      }
    }
    return addresses.map((address) => ({ address, family: isIP(address) }));
  }
}

function toUrl(input: string | URL): URL {
  if (input instanceof URL) return new URL(input.href);
  try {
    return new URL(input);
  } catch {
    // Not Node's message: that one carries the input, which may hold a secret.
    throw new TypeError('not a valid URL');
  }
}

function checkScheme(url: URL): void {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new HostRefused('scheme', `only http: and https: URLs are fetched, not ${url.protocol}`);
  }
}

const unbracket = (host: string) => (host.startsWith('[') ? host.slice(1, -1) : host);
const article = (word: string) => (/^(?:[aeio]|un(?!i))/i.test(word) ? 'an' : 'a');

/** undici reports a connect-time failure as TypeError('fetch failed') with the cause inside. */
function findHostRefused(err: unknown): HostRefused | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    if (e instanceof HostRefused) return e;
  }
  return undefined;
}

/**
 * The caller's signal and the deadline, combined by hand: AbortSignal.any ties every derived
 * signal to the caller's for as long as that lives (nodejs/node#55351), and SDK transports pass
 * one signal for all their requests. `done()` unlinks.
 */
class RequestSignal {
  private readonly controller = new AbortController();
  private readonly timer?: NodeJS.Timeout;

  constructor(
    private readonly caller: AbortSignal | null | undefined,
    timeoutMs: number,
    onTimeout: () => Error,
  ) {
    if (caller?.aborted) this.controller.abort(caller.reason);
    else caller?.addEventListener('abort', this.onCallerAbort, { once: true });
    if (timeoutMs > 0 && Number.isFinite(timeoutMs)) {
      this.timer = setTimeout(() => {
        this.controller.abort(onTimeout());
        this.done();
      }, timeoutMs).unref();
    }
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get timedOut(): boolean {
    return this.signal.aborted && !this.caller?.aborted;
  }

  stopTimer(): void {
    clearTimeout(this.timer);
  }

  done(): void {
    this.stopTimer();
    this.caller?.removeEventListener('abort', this.onCallerAbort);
  }

  private readonly onCallerAbort = () => this.controller.abort(this.caller?.reason);
}

/**
 * The response, its body still under the deadline unless it is an event stream (those live on,
 * ended by the caller's signal only); the signals are unlinked once the body is done.
 */
function withDeadline(res: UndiciResponse, signal: RequestSignal, redirected: boolean): Response {
  if (!res.body) {
    signal.done();
    return markRedirected(res, redirected);
  }
  if (res.headers.get('content-type')?.toLowerCase().startsWith('text/event-stream')) {
    signal.stopTimer();
  }
  const reader = res.body.getReader() as ReadableStreamDefaultReader<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          signal.done();
          controller.close();
        } else {
          controller.enqueue(value);
        }
      } catch (err) {
        signal.done();
        controller.error(err);
      }
    },
    cancel(reason) {
      signal.done();
      return reader.cancel(reason);
    },
  });
  // A new Response for the new body; url and redirected are not constructor options.
  const wrapped = new UndiciResponse(body, {
    status: res.status,
    statusText: res.statusText,
    headers: res.headers,
  });
  Object.defineProperty(wrapped, 'url', { value: res.url });
  return markRedirected(wrapped, redirected);
}

function markRedirected(res: UndiciResponse, redirected: boolean): Response {
  if (redirected) Object.defineProperty(res, 'redirected', { value: true });
  return res;
}
