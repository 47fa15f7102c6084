/**
 * The functions of the catalog, loaded into this one process, and their
 * invocation as Lambda's runtime does it: a fresh context per invocation,
 * the function's timeout enforced, the result passed through JSON.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import type { FunctionPlan } from '../catalog';
import { runAs } from './bindings';
import { buildLambdaContext, newLogStreamName, type FunctionIdentity } from './events';
import { localFunctionArn, localFunctionName, LOCAL_REGION } from './names';
import { describeError, type StackLog } from './log';
import type { FaultInjector } from './faults';

/** Lambda's limit on a synchronous invocation's response payload. */
export const MAX_RESPONSE_BYTES = 6 * 1024 * 1024;

export type LambdaHandler = (event: never, context: Context, callback: (error?: unknown, result?: unknown) => void) => unknown;

export type InvokeOutcome =
  | { readonly ok: true; readonly result: unknown; readonly requestId: string }
  | {
      readonly ok: false;
      /** `error`: it threw or rejected; `timeout`: it ran out of time; `init`: the module did not load; `response`: the result was not deliverable. */
      readonly kind: 'error' | 'timeout' | 'init' | 'response';
      readonly errorType: string;
      readonly requestId: string;
    };

export interface LocalFunction extends FunctionIdentity {
  /** The catalog's name of the function. */
  readonly name: string;
  readonly timeoutSeconds: number;
  invoke(event: unknown): Promise<InvokeOutcome>;
}

export interface LocalFunctionOptions {
  /** Name, memory, timeout and bindings, from the catalog's environment builder. */
  readonly plan: FunctionPlan;
  readonly handler?: LambdaHandler;
  /** Set when the module failed to load: every invocation then fails, as after a Lambda init error. */
  readonly initError?: unknown;
  readonly region?: string;
  readonly log: StackLog;
  /** Injected faults (`POST /_local/faults`): invocations that fail or die halfway. */
  readonly faults?: FaultInjector;
}

const isPromiseLike = (value: unknown): value is PromiseLike<unknown> =>
  typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';

export function createLocalFunction(options: LocalFunctionOptions): LocalFunction {
  const { plan } = options;
  const timeoutSeconds = plan.timeoutSeconds;
  const identity: FunctionIdentity = {
    functionName: localFunctionName(plan.name),
    functionArn: localFunctionArn(plan.name, options.region ?? LOCAL_REGION),
    memoryMB: plan.memoryMB,
    logStreamName: newLogStreamName(),
  };
  const { log, handler } = options;
  const tag = `[${identity.functionName}]`;

  async function invoke(event: unknown): Promise<InvokeOutcome> {
    const requestId = randomUUID();
    if (!handler) {
      const errorType = options.initError instanceof Error ? options.initError.name : 'Runtime.ImportModuleError';
      log.error(`${tag} ${requestId} not invoked: the function failed to initialize (${errorType})`);
      return { ok: false, kind: 'init', errorType, requestId };
    }
    const timeoutMs = timeoutSeconds * 1000;
    const context = buildLambdaContext(identity, requestId, Date.now() + timeoutMs);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolveTimeout) => {
      timer = setTimeout(() => resolveTimeout('timeout'), timeoutMs);
    });
    const start = () =>
      new Promise<unknown>((resolveRun, rejectRun) => {
        const callback = (error?: unknown, result?: unknown) => (error ? rejectRun(error) : resolveRun(result));
        try {
          // Runs as this function: it may name only the resources its catalog entry grants (local/bindings.ts).
          const returned = runAs(plan, () => handler(JSON.parse(JSON.stringify(event)) as never, context, callback));
          // Async handlers (the norm) return a promise; a callback-style handler
          // declares three parameters and calls back.
          if (isPromiseLike(returned)) returned.then(resolveRun, rejectRun);
          else if (handler.length < 3) resolveRun(returned);
        } catch (error) {
          rejectRun(error);
        }
      });
    // Under the fault injector an invocation may fail before it starts or die halfway.
    const run = options.faults ? options.faults.invoke(plan.name, requestId, start) : start().then((value) => ({ ok: true as const, value }));
    try {
      const outcome = await Promise.race([run, timedOut]);
      if (outcome === 'timeout') {
        log.error(`${tag} ${requestId} Task timed out after ${timeoutSeconds.toFixed(2)} seconds`);
        run.catch(() => {});
        return { ok: false, kind: 'timeout', errorType: 'Sandbox.Timedout', requestId };
      }
      if (!outcome.ok) return { ok: false, kind: 'error', errorType: outcome.failure.errorType, requestId };
      const result = outcome.value;
      // Lambda serializes the result to JSON on its way out.
      const serialized = JSON.stringify(result ?? null);
      if (Buffer.byteLength(serialized) > MAX_RESPONSE_BYTES) {
        log.error(`${tag} ${requestId} response is larger than Lambda's ${MAX_RESPONSE_BYTES} bytes`);
        return { ok: false, kind: 'response', errorType: 'Function.ResponseSizeTooLarge', requestId };
      }
      return { ok: true, result: JSON.parse(serialized) as unknown, requestId };
    } catch (error) {
      const errorType = error instanceof Error ? error.name : typeof error;
      log.error(`${tag} ${requestId} Invoke Error ${describeError(error)}`);
      return { ok: false, kind: 'error', errorType, requestId };
    } finally {
      clearTimeout(timer);
    }
  }

  return { ...identity, name: plan.name, timeoutSeconds, invoke };
}

/**
 * Imports one catalog function (`entry` exports `handler`). A module that
 * fails to load is kept, failing every invocation, as after a Lambda init error.
 */
export async function loadFunction(rootDir: string, plan: FunctionPlan, log: StackLog, region = LOCAL_REGION, faults?: FaultInjector): Promise<LocalFunction> {
  const file = resolve(rootDir, plan.entry);
  let handler: LambdaHandler | undefined;
  let initError: unknown;
  try {
    const loaded = (await import(pathToFileURL(file).href)) as { handler?: unknown; default?: { handler?: unknown } };
    const candidate = loaded.handler ?? loaded.default?.handler;
    if (typeof candidate !== 'function') throw new TypeError(`${plan.entry} does not export a function named handler`);
    handler = candidate as LambdaHandler;
  } catch (error) {
    initError = error;
    log.error(`function ${plan.name} failed to load (${describeError(error)}); its invocations will fail`);
  }
  return createLocalFunction({ plan, ...(handler ? { handler } : {}), initError, region, log, ...(faults ? { faults } : {}) });
}
