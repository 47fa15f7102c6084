/**
 * The local stack's own output: short lines on stderr, so stdout carries the
 * ready line and the functions' own (structured) logs.
 */
export interface StackLog {
  info(line: string): void;
  warn(line: string): void;
  error(line: string): void;
}

export const consoleLog: StackLog = {
  info: (line) => process.stderr.write(`[local] ${line}\n`),
  warn: (line) => process.stderr.write(`[local] WARN ${line}\n`),
  error: (line) => process.stderr.write(`[local] ERROR ${line}\n`),
};

export const silentLog: StackLog = { info: () => {}, warn: () => {}, error: () => {} };

/** A safe one-line description of an error: its name and message, never a stack or a stored value. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
