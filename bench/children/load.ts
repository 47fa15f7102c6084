/**
 * The HTTP load generator, in a process of its own so it never shares an
 * event loop with the local stack it loads: autocannon over keep-alive
 * connections on loopback. Each connection loops over its own list of
 * prepared requests (one user's token per request), so no two connections
 * ever act for the same user.
 *
 * argv[2]: a file holding the JSON LoadSpec. Prints one JSON document (LoadOutcome).
 */
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

export interface LoadRequest {
  readonly method: string;
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

export interface LoadSpec {
  readonly url: string;
  readonly connections: number;
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
  /** One list a connection (cycled when there are fewer lists than connections). */
  readonly perConnection: readonly (readonly LoadRequest[])[];
}

export interface LoadOutcome {
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly total: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly statusCodes: Record<string, number>;
  readonly durationSeconds: number;
}

async function run(spec: LoadSpec, seconds: number): Promise<autocannon.Result> {
  let next = 0;
  return autocannon({
    url: spec.url,
    connections: spec.connections,
    duration: seconds,
    timeout: 30,
    setupClient: (client) => {
      const list = spec.perConnection[next++ % spec.perConnection.length]!;
      client.setRequests(
        list.map((r) => ({
          method: r.method as autocannon.Request['method'],
          path: r.path,
          headers: r.headers ?? {},
          ...(r.body !== undefined ? { body: r.body } : {}),
        })),
      );
    },
  });
}

async function main() {
  const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as LoadSpec;
  if (spec.warmupSeconds > 0) await run(spec, spec.warmupSeconds);
  const r = await run(spec, spec.durationSeconds);
  const statusCodes: Record<string, number> = {};
  for (const [code, v] of Object.entries(r.statusCodeStats ?? {})) statusCodes[code] = Number((v as { count: number | string }).count);
  const total = Object.values(statusCodes).reduce((a, b) => a + b, 0);
  const outcome: LoadOutcome = {
    // Completed requests over the measured time (autocannon's per-second average hides a partial last second).
    requestsPerSecond: total / r.duration,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    maxMs: r.latency.max,
    total,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    statusCodes,
    durationSeconds: r.duration,
  };
  process.stdout.write(`${JSON.stringify(outcome)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
