import { cloneElement, isValidElement, type ComponentChildren, type VNode } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api';

/** Loads with `load` when `deps` change; `reload` loads again. Errors are kept for ErrorBox. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]) {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({
    loading: true,
  });
  const seq = useRef(0);
  const reload = useCallback(() => {
    const mine = ++seq.current;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => mine === seq.current && setState({ data, loading: false }),
      (error: unknown) => mine === seq.current && setState({ error, loading: false }),
    );
  }, deps);
  useEffect(reload, [reload]);
  return { ...state, reload };
}

/**
 * Runs one user action at a time; keeps its error (an ApiError's message and field messages) until
 * the next run. `run` resolves to the action's value, or undefined when it failed.
 */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const run = useCallback(async <T,>(action: () => Promise<T>): Promise<T | undefined> => {
    setBusy(true);
    setError(undefined);
    try {
      return await action();
    } catch (err) {
      setError(err);
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  const fields = error instanceof ApiError ? error.fields : {};
  return { busy, error, fields, run, clear: () => setError(undefined) };
}

export function messageOf(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}

/** An API refusal as a person reads it: the status and the platform's own message. */
export function ErrorBox(props: { error: unknown; title?: string }) {
  if (!props.error) return null;
  const status = props.error instanceof ApiError && props.error.status ? props.error.status : null;
  return (
    <div class="error" role="alert">
      <strong>{props.title ?? (status ? `Refused (${status})` : 'Something went wrong')}</strong>{' '}
      <span class="error-message">{messageOf(props.error)}</span>
    </div>
  );
}

let fieldIds = 0;

/**
 * A labelled form field with its own validation message. `name` is the API's field path (as in a
 * 400's message): the message for that path, if any, shows under the control. The control (the
 * one child) gets the label's id, and the hint and message as its description, so its accessible
 * name is the label alone.
 */
export function Field(props: {
  label: string;
  name: string;
  fields?: Record<string, string>;
  hint?: string;
  children: ComponentChildren;
}) {
  const [id] = useState(() => `field-${++fieldIds}`);
  const message =
    props.fields?.[props.name] ??
    Object.entries(props.fields ?? {}).find(([k]) => k.startsWith(`${props.name}.`))?.[1];
  const described = [props.hint && !message ? `${id}-hint` : '', message ? `${id}-error` : '']
    .filter(Boolean)
    .join(' ');
  const control = isValidElement(props.children)
    ? cloneElement(props.children as VNode<Record<string, unknown>>, {
        id,
        'aria-describedby': described || undefined,
        'aria-invalid': message ? 'true' : undefined,
      })
    : props.children;
  return (
    <div class={`field${message ? ' invalid' : ''}`}>
      <label class="field-label" for={id}>
        {props.label}
      </label>
      {control}
      {props.hint && !message ? (
        <span class="hint" id={`${id}-hint`}>
          {props.hint}
        </span>
      ) : null}
      {message ? (
        <span class="field-error" role="alert" id={`${id}-error`} data-field={props.name}>
          {message}
        </span>
      ) : null}
    </div>
  );
}

/** Copies `text` with the Clipboard API; where that is unavailable, selects it for Ctrl-C. */
export function CopyButton(props: {
  text: string;
  label?: string;
  target?: () => HTMLElement | null;
}) {
  const [done, setDone] = useState<'copied' | 'select' | null>(null);
  return (
    <button
      type="button"
      class="copy"
      onClick={() => {
        const fallback = () => {
          const el = props.target?.();
          if (el) {
            const range = document.createRange();
            range.selectNodeContents(el);
            const sel = getSelection();
            sel?.removeAllRanges();
            sel?.addRange(range);
          }
          setDone('select');
        };
        if (!navigator.clipboard) return fallback();
        navigator.clipboard.writeText(props.text).then(() => setDone('copied'), fallback);
      }}
    >
      {done === 'copied'
        ? 'Copied'
        : done === 'select'
          ? 'Selected: press Ctrl-C'
          : (props.label ?? 'Copy')}
    </button>
  );
}

/** A code block with a copy button. */
export function Snippet(props: { title: string; text: string; lang?: string }) {
  const ref = useRef<HTMLPreElement>(null);
  return (
    <figure class="snippet" data-snippet={props.title}>
      <figcaption>
        <span>{props.title}</span>
        <CopyButton text={props.text} target={() => ref.current} />
      </figcaption>
      <pre ref={ref}>
        <code>{props.text}</code>
      </pre>
    </figure>
  );
}

/**
 * A destructive action behind a typed confirmation: the button stays disabled until `word` is
 * typed exactly.
 */
export function TypedConfirm(props: {
  word: string;
  action: string;
  onConfirm: () => void;
  onCancel: () => void;
  busy?: boolean;
  children?: ComponentChildren;
}) {
  const [typed, setTyped] = useState('');
  return (
    <div class="confirm" role="dialog" aria-label={props.action}>
      {props.children}
      <label class="field">
        <span class="field-label">
          Type <code>{props.word}</code> to confirm
        </span>
        <input
          name="confirm"
          value={typed}
          autocomplete="off"
          onInput={(e) => setTyped(e.currentTarget.value)}
        />
      </label>
      <div class="actions">
        <button
          type="button"
          class="danger"
          disabled={typed !== props.word || props.busy}
          onClick={props.onConfirm}
        >
          {props.action}
        </button>
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </div>
  );
}

/** Where cursor paging is: the cursor of the page shown, forward with the API's nextCursor, back to the start. */
export function useCursors() {
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  return {
    cursor: cursors[cursors.length - 1],
    atStart: cursors.length === 1,
    next: (cursor: string | null | undefined) => {
      if (cursor) setCursors([...cursors, cursor]);
    },
    first: () => setCursors([null]),
  };
}

/** Cursor paging: the API's nextCursor, and a way back to the first page. */
export function Pager(props: {
  nextCursor: string | null | undefined;
  atStart: boolean;
  onNext: () => void;
  onFirst: () => void;
}) {
  if (props.atStart && !props.nextCursor) return null;
  return (
    <nav class="pager" aria-label="pages">
      <button type="button" disabled={props.atStart} onClick={props.onFirst}>
        First page
      </button>
      <button type="button" disabled={!props.nextCursor} onClick={props.onNext}>
        Next page
      </button>
    </nav>
  );
}

/** A timestamp: local time, the ISO instant in the tooltip; a dash for null. */
export function Time(props: { iso: string | null | undefined; empty?: string }) {
  if (!props.iso) return <span class="muted">{props.empty ?? '—'}</span>;
  const d = new Date(props.iso);
  return (
    <time dateTime={props.iso} title={props.iso}>
      {d.toLocaleString()}
    </time>
  );
}

export function Loading(props: { when: boolean }) {
  return props.when ? (
    <p class="muted" aria-busy="true">
      Loading…
    </p>
  ) : null;
}
