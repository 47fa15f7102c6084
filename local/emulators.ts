/**
 * The emulators: DynamoDB Local (dynamodb-local.ts) and SNS + SQS from
 * `fauxqs` (in process), both on 127.0.0.1 only. fauxqs's `startFauxqs`
 * always listens on 0.0.0.0, so its exported `buildApp` is started here on
 * 127.0.0.1 instead.
 *
 * This module loads `fauxqs` with a real dynamic import: the package is ESM
 * only, so nothing that runs under jest's CommonJS module system may import
 * this file (jest imports dynamodb-local.ts directly).
 */
import type { AddressInfo } from 'node:net';
import { EMULATOR_HOST } from './dynamodb-local';
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

/**
 * fauxqs (SNS + SQS), in this process, on a free port of 127.0.0.1. Its
 * `startFauxqs` listens on 0.0.0.0 whatever it is given, so the app it would
 * start (`buildApp`, exported for this) is started here on the loopback address.
 */
export async function startSqsSns(): Promise<SqsSnsEmulator> {
  const fauxqs = await import('fauxqs');
  const app = fauxqs.buildApp({ logger: false, defaultRegion: LOCAL_REGION });
  await app.listen({ port: 0, host: EMULATOR_HOST });
  const port = (app.server.address() as AddressInfo).port;
  // Queue URLs use `sqs.<region>.localhost`, which the system resolver here
  // does not know; resolve `*.localhost` to 127.0.0.1 inside this process.
  const restoreDns = fauxqs.interceptLocalhostDns();
  let stopped = false;
  return {
    endpoint: `http://${EMULATOR_HOST}:${port}`,
    queueHostEndpoint: `http://sqs.${LOCAL_REGION}.localhost:${port}`,
    port,
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await app.close();
      } finally {
        restoreDns();
      }
    },
  };
}
