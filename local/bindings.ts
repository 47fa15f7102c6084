/**
 * Least privilege, checked locally. The local stack hosts every function in
 * one process with one environment, where any function could name any
 * resource. Deployed, a function that names a table, queue, topic, secret or
 * setting its catalog entry does not grant fails (no variable, or
 * AccessDenied). This checker makes the local stack fail the same way: each
 * invocation runs with its function's plan in async context, and every
 * resource a function reads the name of (functions/shared/config.ts) must be
 * one of its bindings. Reads at module load, outside any invocation, are
 * covered by the test that loads each handler with only its own environment.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { FunctionPlan } from '../catalog';
import { installBindingCheck } from '../functions/shared/bindings';
import type { BindingKind } from '../functions/shared/bindings';
import type { StackLog } from './log';

const running = new AsyncLocalStorage<FunctionPlan>();

export class UnboundResource extends Error {
  override readonly name = 'UnboundResource';
}

const allows = (plan: FunctionPlan, kind: BindingKind, name: string): boolean => plan.bindings.some((b) => b.kind === kind && b.name === name);

/** Installs the checker for this process; returns the function that removes it. */
export function enforceBindings(log: StackLog): () => void {
  installBindingCheck((kind, name) => {
    const plan = running.getStore();
    if (!plan || allows(plan, kind, name)) return;
    const message = `function ${plan.name} used ${kind} ${name}, which its catalog entry does not grant`;
    log.error(message);
    throw new UnboundResource(message);
  });
  return () => installBindingCheck(undefined);
}

/** Runs `fn` (an invocation) as the function of `plan`. */
export const runAs = <T>(plan: FunctionPlan, fn: () => T): T => running.run(plan, fn);

/** The catalog name of the function whose invocation this is (profiling tools attribute calls by it), or undefined outside any. */
export const runningFunction = (): string | undefined => running.getStore()?.name;
