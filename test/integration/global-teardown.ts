/** Stops the shared local stack (SIGTERM) and waits until it has exited. */
import type { StackProcess } from './support/stack-process';

export default async function globalTeardown(): Promise<void> {
  const stack = (globalThis as { __LOCAL_STACK__?: StackProcess }).__LOCAL_STACK__;
  if (!stack) return;
  const exit = await stack.stop('SIGTERM', 20_000);
  (globalThis as { __LOCAL_STACK__?: StackProcess }).__LOCAL_STACK__ = undefined;
  if (exit.code !== 0) {
    process.stderr.write(`The shared local stack exited with ${exit.code ?? exit.signal}. Its last output:\n${stack.output()}\n`);
  }
}
