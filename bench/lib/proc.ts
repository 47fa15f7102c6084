/**
 * Child processes for the benchmarks that need a fresh Node process: their
 * output, wall time and peak resident set size.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export const REPO_ROOT = resolve(__dirname, '..', '..');

/** Runs a tool's `main` and exits: 0 when it resolves, 1 with the error's stack on stderr when it rejects (the stack's pollers would keep the process alive). */
export function runToExit(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
const TIME = '/usr/bin/time';

export interface ChildResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly wallMs: number;
  /** Peak RSS in KiB: from `/usr/bin/time -v` when it is used, else the last VmHWM sampled from /proc. */
  readonly peakRssKiB?: number;
  readonly rssSource?: 'time -v' | 'VmHWM';
}

export interface ChildOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly timeoutMs?: number;
  /** Measure peak RSS (with /usr/bin/time -v if present, else by sampling /proc/<pid>/status). */
  readonly measureRss?: boolean;
}

export const hasTimeV = (): boolean => process.platform === 'linux' && existsSync(TIME);

function vmHwmKiB(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Runs `node <args>` (this Node binary) and collects its output. */
export function runNode(args: readonly string[], options: ChildOptions = {}): Promise<ChildResult> {
  const useTime = options.measureRss === true && hasTimeV();
  const command = useTime ? TIME : process.execPath;
  const argv = useTime ? ['-v', process.execPath, ...args] : [...args];
  const started = performance.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, argv, { cwd: options.cwd ?? REPO_ROOT, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    let sampled: number | undefined;
    const sampler =
      options.measureRss && !useTime && child.pid !== undefined
        ? setInterval(() => {
            const v = vmHwmKiB(child.pid!);
            if (v !== undefined) sampled = Math.max(sampled ?? 0, v);
          }, 20)
        : undefined;
    const timer = options.timeoutMs
      ? setTimeout(() => {
          child.kill('SIGKILL');
        }, options.timeoutMs)
      : undefined;
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (sampler) clearInterval(sampler);
      if (timer) clearTimeout(timer);
      let stderr = Buffer.concat(err).toString('utf8');
      let peakRssKiB = sampled;
      let rssSource: ChildResult['rssSource'] = sampled !== undefined ? 'VmHWM' : undefined;
      if (useTime) {
        const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
        if (m) {
          peakRssKiB = Number(m[1]);
          rssSource = 'time -v';
        }
        // Keep the child's own stderr readable: drop time's report.
        const at = stderr.lastIndexOf('\tCommand being timed:');
        if (at >= 0) stderr = stderr.slice(0, at);
        const exit = /Exit status: (\d+)/.exec(Buffer.concat(err).toString('utf8'));
        if (exit && code === 0) code = Number(exit[1]);
      }
      resolvePromise({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr,
        wallMs: performance.now() - started,
        ...(peakRssKiB !== undefined ? { peakRssKiB, rssSource } : {}),
      });
    });
  });
}

/** The child's stdout as one JSON document, or else its last line that parses as JSON. */
export function lastJson<T>(result: ChildResult, what: string): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    /* not a single document: look for a line */
  }
  const lines = result.stdout.trim().split('\n').reverse();
  for (const line of lines) {
    const t = line.trim();
    if (!t.startsWith('{')) continue;
    try {
      return JSON.parse(t) as T;
    } catch {
      /* try an earlier line */
    }
  }
  const tail = result.stderr.trim().split('\n').slice(-8).join('\n');
  throw new Error(`${what} printed no result (exit ${result.code ?? result.signal}):\n${tail}`);
}

/** `node --cpu-prof` arguments when profiles are wanted. */
export const profileArgs = (dir: string | undefined): string[] => (dir ? ['--cpu-prof', '--cpu-prof-dir', dir] : []);

/** The quieter environment for children: no SDK version nag on Node 20. */
export function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...extra };
}
