/**
 * The emulators: DynamoDB Local (dynamodb-local.ts) and SNS + SQS from
 * `fauxqs` (in process). This module loads `fauxqs` with a real dynamic
 * import: the package is ESM only, so nothing that runs under jest's
 * CommonJS module system may import this file (jest imports
 * dynamodb-local.ts directly).
 */
import { LOCAL_REGION } from './names';

export * from './dynamodb-local';

export interface SqsSnsEmulator {
  /** Endpoint for clients that set `endpoint` explicitly (tests, the runtime's own clients). */
  readonly endpoint: string;
  /**
   * Endpoint for clients configured only by environment (the functions).
   * fauxqs names queues `http://sqs.<region>.localhost:<port>/...` and the
   * SQS client sends each call to its QueueUrl's host unless `endpoint` is
   * set in code, so the functions' endpoint is that host (resolved through
   * `interceptLocalhostDns`), which keeps the client from warning on every call.
   */
  readonly queueHostEndpoint: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** fauxqs (SNS + SQS), in this process, on a free port. */
export async function startSqsSns(): Promise<SqsSnsEmulator> {
  const fauxqs = await import('fauxqs');
  const server = await fauxqs.startFauxqs({ port: 0, logger: false, defaultRegion: LOCAL_REGION });
  // Queue URLs use `sqs.<region>.localhost`, which the system resolver here
  // does not know; resolve `*.localhost` to 127.0.0.1 inside this process.
  const restoreDns = fauxqs.interceptLocalhostDns();
  let stopped = false;
  return {
    endpoint: `http://127.0.0.1:${server.port}`,
    queueHostEndpoint: `http://sqs.${LOCAL_REGION}.localhost:${server.port}`,
    port: server.port,
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await server.stop();
      } finally {
        restoreDns();
      }
    },
  };
}
