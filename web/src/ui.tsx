/**
 * What every page shares: the app's context (configuration, who is signed
 * in, the API), loading state, error and status messages read out by screen
 * readers, a confirmation dialog, and formatting.
 */
import { createContext, type ComponentChildren } from 'preact';
import { useCallback, useContext, useEffect, useRef, useState } from 'preact/hooks';
import { describeError, type Api } from './api';
import type { WebConfig } from './config';
import type { Session } from './session';

export interface App {
  readonly config: WebConfig;
  readonly session: Session;
  readonly api: Api;
  signOut(): void;
}

export const AppContext = createContext<App | undefined>(undefined);

export function useApp(): App {
  const app = useContext(AppContext);
  if (!app) throw new Error('useApp outside a signed-in page');
  return app;
}

export interface Async<T> {
  readonly value?: T;
  readonly error?: unknown;
  readonly loading: boolean;
  reload(): void;
  set(value: T): void;
}

/** Runs `load` now and whenever `deps` change or `reload()` is called; a late answer to an earlier run is dropped. */
export function useAsync<T>(load: () => Promise<T>, deps: readonly unknown[]): Async<T> {
  const [state, setState] = useState<{ value?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    let live = true;
    setState((previous) => ({ ...previous, loading: true }));
    load().then(
      (value) => live && setState({ value, loading: false }),
      (error: unknown) => live && setState({ error, loading: false }),
    );
    return () => {
      live = false;
    };
    // The caller names what `load` depends on, as `deps`.
  }, [...deps, generation]);
  const reload = useCallback(() => setGeneration((n) => n + 1), []);
  const set = useCallback((value: T) => setState({ value, loading: false }), []);
  return { ...state, reload, set };
}

/** A page: its heading gets the focus when it appears, so a screen reader announces where a link led. */
export function Page(props: { title: string; intro?: ComponentChildren; children?: ComponentChildren }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${props.title} · Privacy choices`;
    heading.current?.focus();
    // When the page showed, for `npm run bench` (User Timing; nothing is sent anywhere).
    performance.mark(`page:${props.title}`);
  }, [props.title]);
  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title" tabIndex={-1} ref={heading}>
        {props.title}
      </h1>
      {props.intro && <div class="intro">{props.intro}</div>}
      {props.children}
    </section>
  );
}

export function ErrorMessage(props: { error: unknown }) {
  if (props.error === undefined || props.error === null) return null;
  return (
    <p class="message error" role="alert">
      {describeError(props.error)}
    </p>
  );
}

/** A polite live region: what an action did, read out without moving the focus. */
export function StatusMessage(props: { children?: ComponentChildren }) {
  return (
    <p class="message status" role="status">
      {props.children}
    </p>
  );
}

export function Loading(props: { what: string }) {
  return (
    <p class="loading" role="status">
      Loading {props.what}…
    </p>
  );
}

/** A modal confirmation (the browser's own <dialog>: focus stays inside, Escape cancels). */
export function ConfirmDialog(props: {
  open: boolean;
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  onConfirm(): void;
  onCancel(): void;
  danger?: boolean;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const element = dialog.current;
    if (!element) return;
    if (props.open && !element.open) element.showModal();
    if (!props.open && element.open) element.close();
  }, [props.open]);
  return (
    <dialog ref={dialog} aria-labelledby="confirm-title" onCancel={props.onCancel} onClose={() => props.open && props.onCancel()}>
      <h2 id="confirm-title">{props.title}</h2>
      {props.children}
      <div class="actions">
        <button type="button" class={props.danger ? 'danger' : 'primary'} onClick={props.onConfirm}>
          {props.confirmLabel}
        </button>
        <button type="button" class="secondary" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </dialog>
  );
}

const dateTime = new Intl.DateTimeFormat('en', { dateStyle: 'medium', timeStyle: 'short' });
const number = new Intl.NumberFormat('en');

export const formatTime = (iso: string | null | undefined): string => (iso ? dateTime.format(new Date(iso)) : '—');
export const formatNumber = (n: number): string => number.format(n);

/** An audience's size as a range, never an exact count. */
export function formatRange(range: { lower: number; upper: number }, targetable: boolean): string {
  if (!targetable && range.lower === 0) return `fewer than ${formatNumber(range.upper)}`;
  return `${formatNumber(range.lower)}–${formatNumber(range.upper)}`;
}

export const PURPOSES = {
  ads_targeting: {
    title: 'Ads',
    text: 'Our parent company may use your phone number to show you ads from businesses that have your number, for example a shop you bought from.',
  },
  friend_suggestions: {
    title: 'Friend suggestions',
    text: 'Our parent company may use your phone number to suggest you as a friend to people who have your number in their contacts, and them to you.',
  },
} as const;

export type Purpose = keyof typeof PURPOSES;
export const PURPOSE_NAMES = Object.keys(PURPOSES) as Purpose[];
