/**
 * Every resource a function reads the name of (table, topic, queue, secret,
 * setting) is checked against its bindings where a checker is installed. On
 * AWS none is: the function's role and environment are its bindings. The
 * local stack hosts every function in one process with one environment, so it
 * installs a checker that knows which function is running and fails an
 * invocation that touches a resource its catalog entry does not grant, as the
 * deployed function would fail on a missing variable or an AccessDenied.
 */
export type BindingKind = 'table' | 'topic' | 'queue' | 'deadLetterQueue' | 'secret' | 'key' | 'setting';
export type BindingCheck = (kind: BindingKind, name: string) => void;

const CHECK = Symbol.for('consent-audiences.binding-check');
type WithCheck = { [CHECK]?: BindingCheck };

export function checkBinding(kind: BindingKind, name: string): void {
  (globalThis as WithCheck)[CHECK]?.(kind, name);
}

/** Installs (or, with undefined, removes) the checker: the local stack only. */
export function installBindingCheck(check: BindingCheck | undefined): void {
  if (check) (globalThis as WithCheck)[CHECK] = check;
  else delete (globalThis as WithCheck)[CHECK];
}
