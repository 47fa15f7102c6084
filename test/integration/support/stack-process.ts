/**
 * Runs the local stack as a child process, as a user would (`node --import
 * tsx local/start.ts --port 0`), and waits for its ready line. jest cannot
 * load the emulators itself (fauxqs is ESM only), so tests talk to the stack
 * over HTTP and through SDK clients pointed at its emulators.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

export const REPO_ROOT = resolve(__dirname, '../../..');
const READY = /^Local stack ready at (http:\/\/127\.0\.0\.1:(\d+))$/m;
const WEB = /^Web app at (http:\/\/127\.0\.0\.1:\d+)$/m;

export interface StackExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface StackProcess {
  /** Base URL, `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** The web app's address, printed beside the API's. */
  readonly webUrl: string;
  /** The Node process running the stack. */
  readonly pid: number;
  readonly exited: Promise<StackExit>;
  /** The last lines it wrote (stdout and stderr), for diagnostics. */
  output(): string;
  /** Sends `signal` (default SIGTERM) and waits for the exit (SIGKILL after `timeoutMs`). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<StackExit>;
}

export interface SpawnStackOptions {
  /** Extra environment for the stack process (added to this process's). */
  readonly env?: Readonly<Record<string, string>>;
  readonly readyTimeoutMs?: number;
  /** How many output chunks `output()` keeps, the last ones (default 200); `Infinity` keeps everything, for tests that scan the logs. */
  readonly outputChunks?: number;
  /**
   * Start it exactly as the README says, `npm start -- --port 0`, in a process
   * group of its own that `stop()` signals as a whole (npm, tsx and the stack),
   * as Ctrl-C in a terminal does. `pid` is then npm's.
   */
  readonly viaNpmStart?: boolean;
}

export async function spawnStack(options: SpawnStackOptions = {}): Promise<StackProcess> {
  const [command, args] = options.viaNpmStart
    ? ['npm', ['start', '--silent', '--', '--port', '0']]
    : [process.execPath, ['--import', 'tsx', 'local/start.ts', '--port', '0']];
  const child: ChildProcess = spawn(command, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, LOCAL_VISIBILITY_TIMEOUT_SECONDS: process.env.LOCAL_VISIBILITY_TIMEOUT_SECONDS ?? '2', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.viaNpmStart === true,
  });
  const signal = (name: NodeJS.Signals) => {
    if (options.viaNpmStart && child.pid !== undefined) {
      try {
        process.kill(-child.pid, name);
      } catch {
        /* the group is gone */
      }
    } else child.kill(name);
  };
  const lines: string[] = [];
  let stdout = '';
  const outputChunks = options.outputChunks ?? 200;
  const keep = (chunk: Buffer) => {
    lines.push(chunk.toString('utf8'));
    if (lines.length > outputChunks) lines.shift();
  };
  child.stdout?.on('data', (chunk: Buffer) => {
    if (stdout.length < 100_000) stdout += chunk.toString('utf8');
    keep(chunk);
  });
  child.stderr?.on('data', keep);
  const exited = new Promise<StackExit>((done) => child.once('exit', (code, signal) => done({ code, signal })));
  const output = () => lines.join('');

  const timeoutMs = options.readyTimeoutMs ?? 60_000;
  const url = await new Promise<string>((ready, fail) => {
    const timer = setTimeout(() => fail(new Error(`The local stack was not ready within ${timeoutMs} ms. Its output:\n${output()}`)), timeoutMs);
    const check = () => {
      const match = READY.exec(stdout);
      if (match?.[1]) {
        clearTimeout(timer);
        child.stdout?.off('data', check);
        ready(match[1]);
      }
    };
    child.stdout?.on('data', check);
    void exited.then((exit) => {
      clearTimeout(timer);
      fail(new Error(`The local stack exited (${exit.code ?? exit.signal}) before it was ready. Its output:\n${output()}`));
    });
  }).catch(async (error: unknown) => {
    if (child.exitCode === null && child.signalCode === null) signal('SIGKILL');
    throw error;
  });

  const webUrl = WEB.exec(stdout)?.[1] ?? '';
  return {
    url,
    webUrl,
    pid: child.pid ?? -1,
    exited,
    output,
    async stop(stopSignal: NodeJS.Signals = 'SIGTERM', stopTimeoutMs = 20_000) {
      if (child.exitCode === null && child.signalCode === null) signal(stopSignal);
      const timer = setTimeout(() => signal('SIGKILL'), stopTimeoutMs);
      const exit = await exited;
      clearTimeout(timer);
      return exit;
    },
  };
}

/** Processes whose parent is `pid`, with their command lines (Linux and macOS `ps`). */
export function childProcesses(pid: number): { pid: number; command: string }[] {
  const result = spawnSync('ps', ['-A', '-o', 'pid=,ppid=,args='], { encoding: 'utf8' });
  return (result.stdout ?? '')
    .split('\n')
    .map((line) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null && Number(m[2]) === pid)
    .map((m) => ({ pid: Number(m[1]), command: m[3] ?? '' }));
}

/** Whether a process with this pid exists (and is not a zombie). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const state = spawnSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).stdout.trim();
  return state !== '' && !state.startsWith('Z');
}
