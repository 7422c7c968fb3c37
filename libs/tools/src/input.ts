/**
 * Asking the client mid-call, the same for every protocol era: a handler returns
 * `inputRequired({...})` naming what it needs, and runs again with the answers. In the 2025 era
 * the platform puts each request to the client on the session's stream and re-enters the
 * handler itself; in the 2026-07-28 era the client gets an `input_required` result, answers,
 * and retries, with the answers so far carried in a sealed `requestState`.
 */

/** What the client must have declared to answer a request. */
export type ClientCapabilityName = 'elicitation' | 'sampling' | 'roots';

export type InputRequest =
  | { method: 'elicitation/create'; params: Record<string, unknown> }
  | { method: 'sampling/createMessage'; params: Record<string, unknown> }
  | { method: 'roots/list'; params: Record<string, unknown> };

/** A client's answer: an elicitation, sampling or roots result, as plain JSON. */
export type InputResponse = Record<string, unknown>;

export const CAPABILITY_OF: Readonly<Record<InputRequest['method'], ClientCapabilityName>> = {
  'elicitation/create': 'elicitation',
  'sampling/createMessage': 'sampling',
  'roots/list': 'roots',
};

/** A handler's "not yet: ask these first" (keys name the answers it will read). */
export class InputRequired {
  constructor(readonly requests: Readonly<Record<string, InputRequest>>) {
    if (Object.keys(requests).length === 0) {
      throw new TypeError('inputRequired needs at least one request');
    }
  }

  /** The client capabilities these requests need, each once. */
  capabilities(): ClientCapabilityName[] {
    return [...new Set(Object.values(this.requests).map((r) => CAPABILITY_OF[r.method]))];
  }
}

export function inputRequired(requests: Record<string, InputRequest>): InputRequired {
  return new InputRequired(requests);
}

/** Builders for the requests a handler can make. */
export const ask = {
  /** A form the user fills in: `requestedSchema` is a flat object of primitive properties. */
  elicit(message: string, requestedSchema: Record<string, unknown>): InputRequest {
    return { method: 'elicitation/create', params: { message, requestedSchema } };
  },
  /** A completion from the client's model. */
  sample(params: { messages: unknown[]; maxTokens: number; [key: string]: unknown }): InputRequest {
    return { method: 'sampling/createMessage', params };
  },
  roots(): InputRequest {
    return { method: 'roots/list', params: {} };
  },
};

/** The answers a call has so far (every round's), read by key. */
export class InputAnswers {
  static readonly NONE = new InputAnswers({});

  constructor(private readonly answers: Readonly<Record<string, InputResponse>>) {}

  has(key: string): boolean {
    return Object.hasOwn(this.answers, key);
  }

  get(key: string): InputResponse | undefined {
    return this.has(key) ? this.answers[key] : undefined;
  }

  /** The fields of an accepted elicitation; undefined when missing, declined or cancelled. */
  accepted(key: string): Record<string, unknown> | undefined {
    const answer = this.get(key);
    if (answer?.action !== 'accept') return undefined;
    const content = answer.content;
    return content && typeof content === 'object' && !Array.isArray(content)
      ? (content as Record<string, unknown>)
      : {};
  }

  /** The elicitation's action (`accept`, `decline`, `cancel`), if answered. */
  action(key: string): string | undefined {
    const action = this.get(key)?.action;
    return typeof action === 'string' ? action : undefined;
  }

  /** The text of a sampling answer (`content.text`), if answered with text. */
  sampledText(key: string): string | undefined {
    const content = this.get(key)?.content as { type?: unknown; text?: unknown } | undefined;
    return typeof content?.text === 'string' ? content.text : undefined;
  }

  toJSON(): Readonly<Record<string, InputResponse>> {
    return this.answers;
  }

  with(more: Readonly<Record<string, InputResponse>> | undefined): InputAnswers {
    return more && Object.keys(more).length ? new InputAnswers({ ...this.answers, ...more }) : this;
  }
}
