/**
 * The one optimistic-retry loop: read, decide, write on condition, and when
 * the condition shows that someone else changed the state meanwhile, start
 * over on fresh state. The attempt says whether to go again (`retry`, with
 * an optional pause); the limits say when to give up.
 */
import { sleep } from './concurrency';

const RETRY = Symbol('retry');
export interface Retry {
  readonly [RETRY]: true;
  readonly pauseMs: number;
}

/** An attempt's answer for "start over", after `pauseMs` (0: at once). */
export const retry = (pauseMs = 0): Retry => ({ [RETRY]: true, pauseMs });

const isRetry = (value: unknown): value is Retry => typeof value === 'object' && value !== null && RETRY in value;

/** `ms` spread over [ms/2, 3ms/2), so competing retries do not meet again. */
export const jittered = (ms: number): number => Math.round(ms * (0.5 + Math.random()));

export interface RetryLimits {
  /** Attempts at most (counting the first). */
  readonly attempts?: number;
  /** Milliseconds of pauses at most. */
  readonly pausesWithinMs?: number;
  /** What to throw once a limit is reached. */
  readonly exhausted: () => unknown;
}

export async function optimistic<T>(limits: RetryLimits, attempt: (n: number) => Promise<T | Retry>): Promise<T> {
  let paused = 0;
  for (let n = 1; ; n++) {
    const outcome = await attempt(n);
    if (!isRetry(outcome)) return outcome;
    if ((limits.attempts !== undefined && n >= limits.attempts) || (limits.pausesWithinMs !== undefined && paused >= limits.pausesWithinMs)) {
      throw limits.exhausted();
    }
    if (outcome.pauseMs > 0) {
      await sleep(outcome.pauseMs);
      paused += outcome.pauseMs;
    }
  }
}
