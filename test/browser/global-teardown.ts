/** Stops the browser tests' stack (the whole `npm start` process group) and waits until it has exited. */
import type { StackProcess } from '../integration/support/stack-process';

export default async function globalTeardown(): Promise<void> {
  const stack = (globalThis as { __BROWSER_STACK__?: StackProcess }).__BROWSER_STACK__;
  if (!stack) return;
  await stack.stop('SIGTERM', 20_000);
  (globalThis as { __BROWSER_STACK__?: StackProcess }).__BROWSER_STACK__ = undefined;
}
