/**
 * The functions of the catalog, loaded into this one process, and their
 * invocation as Lambda's runtime does it: a fresh context per invocation,
 * the function's timeout enforced, the result passed through JSON.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import type { FunctionSpec } from '../catalog';
import { buildLambdaContext, newLogStreamName, type FunctionIdentity } from './events';
import { localFunctionArn, localFunctionName, LOCAL_REGION } from './names';
import { describeError, type StackLog } from './log';
import type { FaultInjector } from './faults';

/** Used when the catalog names no timeout; the deployed stack's house construct uses the same. */
export const DEFAULT_TIMEOUT_SECONDS = 10;
export const DEFAULT_MEMORY_MB = 1024;
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
  readonly name: string;
  readonly handler?: LambdaHandler;
  /** Set when the module failed to load: every invocation then fails, as after a Lambda init error. */
  readonly initError?: unknown;
  readonly timeoutSeconds?: number;
  readonly memoryMB?: number;
  readonly region?: string;
  readonly log: StackLog;
  /** Injected faults (`POST /_local/faults`): invocations that fail or die halfway. */
  readonly faults?: FaultInjector;
}

const isPromiseLike = (value: unknown): value is PromiseLike<unknown> =>
  typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';

export function createLocalFunction(options: LocalFunctionOptions): LocalFunction {
  const timeoutSeconds = options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  const identity: FunctionIdentity = {
    functionName: localFunctionName(options.name),
    functionArn: localFunctionArn(options.name, options.region ?? LOCAL_REGION),
    memoryMB: options.memoryMB ?? DEFAULT_MEMORY_MB,
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
          const returned = handler(JSON.parse(JSON.stringify(event)) as never, context, callback);
          // Async handlers (the norm) return a promise; a callback-style handler
          // declares three parameters and calls back.
          if (isPromiseLike(returned)) returned.then(resolveRun, rejectRun);
          else if (handler.length < 3) resolveRun(returned);
        } catch (error) {
          rejectRun(error);
        }
      });
    // Under the fault injector an invocation may fail before it starts or die halfway.
    const run = options.faults ? options.faults.invoke(options.name, requestId, start) : start().then((value) => ({ ok: true as const, value }));
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

  return { ...identity, name: options.name, timeoutSeconds, invoke };
}

/**
 * Imports one catalog function (`entry` exports `handler`). A missing file is
 * skipped with a warning (undefined): other functions are still being
 * written. A module that fails to load is kept, failing every invocation.
 */
export async function loadFunction(
  rootDir: string,
  name: string,
  spec: FunctionSpec,
  log: StackLog,
  region = LOCAL_REGION,
  faults?: FaultInjector,
): Promise<LocalFunction | undefined> {
  const file = resolve(rootDir, spec.entry);
  if (!existsSync(file)) {
    log.warn(`skipping function ${name}: ${spec.entry} does not exist yet`);
    return undefined;
  }
  let handler: LambdaHandler | undefined;
  let initError: unknown;
  try {
    const loaded = (await import(pathToFileURL(file).href)) as { handler?: unknown; default?: { handler?: unknown } };
    const candidate = loaded.handler ?? loaded.default?.handler;
    if (typeof candidate !== 'function') throw new TypeError(`${spec.entry} does not export a function named handler`);
    handler = candidate as LambdaHandler;
  } catch (error) {
    initError = error;
    log.error(`function ${name} failed to load (${describeError(error)}); its invocations will fail`);
  }
  return createLocalFunction({
    name,
    ...(handler ? { handler } : {}),
    initError,
    ...(spec.timeoutSeconds !== undefined ? { timeoutSeconds: spec.timeoutSeconds } : {}),
    ...(spec.memoryMB !== undefined ? { memoryMB: spec.memoryMB } : {}),
    region,
    log,
    ...(faults ? { faults } : {}),
  });
}
