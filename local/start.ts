/**
 * `npm start`: the whole service on this machine, no Docker, no AWS account.
 *
 *   npm start                      # API on port 3000 (or PORT), web app on the next one
 *   npm start -- --port 0          # any free ports
 *   npm start -- --web-port 8080   # the web app's port (or WEB_PORT)
 *
 * Prints `Local stack ready at http://127.0.0.1:PORT` and, beside it, the web
 * app's address (local/web.ts) when every emulator, function and poller runs;
 * Ctrl-C (SIGINT) or SIGTERM stops it cleanly.
 * Environment: PORT, LOCAL_VISIBILITY_TIMEOUT_SECONDS (queue retries, for
 * tests), LOCAL_JWT_PRIVATE_JWK (sign tokens with this key instead of a fresh
 * one, for tests that forge tokens), LOCAL_PEPPER (the matching pepper, at
 * least 32 characters, instead of a fresh one, for tests that must know it),
 * POWERTOOLS_LOG_LEVEL (default WARN).
 *
 * Local only: `POST /_local/settle` waits until the background work
 * (stream records, queue messages) is done (local/settle.ts);
 * `POST /_local/faults` injects faults into the functions (local/faults.ts);
 * `DELETE /_local/faults` clears them.
 */
import { EmulatorBindError, JavaMissingError } from './emulators';
import { consoleLog, describeError } from './log';
import { startLocalStack, type LocalStack } from './stack';
import { startWebServer, type WebServer } from './web';

// Node 20 runs the local stack by design (the Lambda runtime is Node 22; README,
// "Node 20"). The AWS SDK's notice that its releases after early 2027 need Node 22
// would print at every start; it is the SDK's documented switch that turns it off.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

function portOption(argv: readonly string[], flag: string, fromEnv: string | undefined): number | undefined {
  let raw: string | undefined = fromEnv;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === flag) raw = argv[i + 1];
    else if (arg.startsWith(`${flag}=`)) raw = arg.slice(flag.length + 1);
  }
  if (raw === undefined || raw === '') return undefined;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`Not a port: ${raw}`);
  return port;
}

export function parsePort(argv: readonly string[], env: NodeJS.ProcessEnv): number {
  return portOption(argv, '--port', env.PORT) ?? 3000;
}

/** The web app's port: --web-port or WEB_PORT, else the one after the API's (any free one when that is 0). */
export function parseWebPort(argv: readonly string[], env: NodeJS.ProcessEnv, apiPort: number): number {
  const port = portOption(argv, '--web-port', env.WEB_PORT);
  if (port !== undefined) return port;
  return apiPort === 0 ? 0 : apiPort + 1;
}

function printReady(stack: LocalStack, web: WebServer): void {
  const url = stack.url;
  const lines = [
    `Local stack ready at ${url}`,
    `Web app at ${web.url}`,
    `  ${stack.routes} routes, ${stack.functions.length} functions, ${stack.pollers} pollers; started in ${(stack.startupMs / 1000).toFixed(1)} s`,
    `  For curl and the audiences CLI:  export AUDIENCES_API_URL=${url}`,
    `  Health:    curl -s ${url}/_local/health`,
    `  A token:   curl -s -X POST ${url}/_local/token -H 'content-type: application/json' -d '{"role":"user","sub":"u-123"}'`,
    `  Then:      curl -s ${url}/v1/me/consent -H "authorization: Bearer $TOKEN"`,
    `  Press Ctrl-C to stop.`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function main(): Promise<void> {
  let port: number;
  let webPort: number;
  try {
    port = parsePort(process.argv.slice(2), process.env);
    webPort = parseWebPort(process.argv.slice(2), process.env, port);
  } catch (error) {
    consoleLog.error(describeError(error));
    process.exit(1);
  }

  let stack: LocalStack | undefined;
  let web: WebServer | undefined;
  let exiting = false;
  let firstSignalAt = 0;
  const shutdown = (code: number, why: string) => {
    if (exiting) {
      // Ctrl-C reaches this process twice (the terminal signals the whole
      // process group and tsx relays it), so only a signal that comes later
      // means "stop waiting". The exit handler still kills Java.
      if (Date.now() - firstSignalAt > 2_000) process.exit(code === 0 ? 130 : code);
      return;
    }
    exiting = true;
    firstSignalAt = Date.now();
    consoleLog.info(`stopping (${why})...`);
    const force = setTimeout(() => {
      consoleLog.error('did not stop within 15 s; exiting anyway');
      process.exit(code === 0 ? 1 : code);
    }, 15_000);
    force.unref();
    Promise.all([stack?.stop(), web?.close()])
      .then(() => {
        consoleLog.info('stopped');
        process.exit(code);
      })
      .catch((error: unknown) => {
        consoleLog.error(`while stopping: ${describeError(error)}`);
        process.exit(1);
      });
  };

  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => shutdown(0, signal));
  process.on('uncaughtException', (error) => {
    consoleLog.error(`uncaught: ${describeError(error)}`);
    shutdown(1, 'uncaught error');
  });
  process.on('unhandledRejection', (error) => {
    consoleLog.error(`unhandled rejection: ${describeError(error)}`);
    shutdown(1, 'unhandled rejection');
  });
  // When whoever started us (a test runner, tsx's watcher) dies without
  // stopping us, stop too: nothing would ever send us a signal again.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) shutdown(0, 'parent process exited');
  }, 1_000).unref();

  try {
    // The web app first: its origin is what the API's CORS rules allow; it learns the API's URL once the gateway listens.
    web = await startWebServer({ port: webPort, apiUrl: () => stack?.url ?? '' });
  } catch (error) {
    consoleLog.error(`the web app did not start: ${describeError(error)}`);
    process.exit(1);
  }
  try {
    const origins = web.origins;
    stack = await startLocalStack({ port, corsOrigins: () => origins });
  } catch (error) {
    if (error instanceof JavaMissingError || error instanceof EmulatorBindError) {
      process.stderr.write(`\n${error.message}\n\n`);
      process.exit(1);
    }
    consoleLog.error(`the local stack did not start: ${describeError(error)}`);
    process.exit(1);
  }
  if (exiting) return; // a signal arrived while starting
  printReady(stack, web);
}

void main();
