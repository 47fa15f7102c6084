/**
 * The whole service on one machine: emulators, every catalog resource, every
 * function loaded into this process with one environment, the gateway and the
 * pollers. `startLocalStack` is what `npm start` runs and what benchmarks can
 * reuse in process (under tsx).
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { SNSClient } from '@aws-sdk/client-sns';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { JWK } from 'jose';
import { catalog, checkCatalog } from '../catalog';
import type { FunctionSpec } from '../catalog';
import { clock } from '../functions/shared/clock';
import { checkJava, startDynamoDbLocal, startSqsSns, type DynamoDbLocal, type SqsSnsEmulator } from './emulators';
import { enforceBindings } from './bindings';
import { applyEnvironment, buildEnvironment } from './environment';
import { FaultInjector, type MiddlewareStackOwner } from './faults';
import { startGateway, type Gateway, type HttpRouteBinding } from './gateway';
import { LocalIdentity } from './identity';
import { localRoutes } from './local-routes';
import { consoleLog, describeError, type StackLog } from './log';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './names';
import { loadFunction, type LocalFunction } from './functions';
import { LocalOutbox } from './outbox';
import { QueuePoller } from './queue-poller';
import { createResources, type LocalResources } from './resources';
import { BackgroundActivity } from './settle';
import { StreamPoller } from './stream-poller';
import { sweepExpiredItems, TtlRemovals, type SweepTable } from './ttl-sweep';

export interface LocalStackOptions {
  /** Gateway port; 0 picks a free one. Default 3000. */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Repository root, where the catalog's `entry` paths start. Default: the parent of this folder. */
  readonly rootDir?: string;
  /** Overrides every queue's visibility timeout (default: LOCAL_VISIBILITY_TIMEOUT_SECONDS, else the catalog's). */
  readonly visibilityTimeoutSeconds?: number;
  /** Private EC P-256 JWK the development issuer signs with (default: LOCAL_JWT_PRIVATE_JWK, else a fresh key). */
  readonly signingKey?: JWK;
  readonly log?: StackLog;
  /** Origins whose pages may call the API (the web app's), asked at every request; CORS rules in catalog/web.ts. */
  readonly corsOrigins?: () => readonly string[];
}

export interface LocalStack {
  /** Base URL of the gateway, `http://127.0.0.1:PORT`. */
  readonly url: string;
  readonly port: number;
  readonly region: string;
  /** Emulator endpoints; clients must set them as `endpoint` in code (see emulators.ts for SQS). */
  readonly endpoints: { readonly dynamodb: string; readonly sqs: string; readonly sns: string };
  readonly resources: LocalResources;
  /** Catalog names of the functions loaded. */
  readonly functions: readonly string[];
  readonly routes: number;
  readonly pollers: number;
  readonly dynamodbPid: number;
  readonly startupMs: number;
  /**
   * The consumers stop (queue messages wait in their queues, stream records
   * in their streams) until `releaseConsumers()`; the gateway and the TTL
   * sweep go on. For benchmarks that measure the API alone: deployed, the
   * consumers run on other machines than the API's.
   */
  holdConsumers(): void;
  releaseConsumers(): void;
  stop(): Promise<void>;
}

let running = false;

function envNumber(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0 || value > 43_200) throw new Error(`${name} must be a whole number of seconds (0-43200)`);
  return value;
}

function envJwk(name: string): JWK | undefined {
  const raw = process.env[name];
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as JWK;
  } catch {
    throw new Error(`${name} is not a JSON Web Key`);
  }
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  if (running) throw new Error('A local stack is already running in this process: functions read their environment once, when loaded.');
  const problems = checkCatalog(catalog);
  if (problems.length > 0) throw new Error(`The catalog is inconsistent:\n  ${problems.join('\n  ')}`);
  checkJava();
  running = true;

  const log = options.log ?? consoleLog;
  const startedAt = Date.now();
  const rootDir = options.rootDir ?? resolve(__dirname, '..');
  const region = LOCAL_REGION;
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) {
      try {
        await stop();
      } catch (error) {
        log.warn(`while stopping: ${describeError(error)}`);
      }
    }
  };

  try {
    // --- emulators
    const [dynamoResult, sqsSnsResult] = await Promise.allSettled([startDynamoDbLocal(log), startSqsSns()]);
    const dynamo: DynamoDbLocal | undefined = dynamoResult.status === 'fulfilled' ? dynamoResult.value : undefined;
    const sqsSns: SqsSnsEmulator | undefined = sqsSnsResult.status === 'fulfilled' ? sqsSnsResult.value : undefined;
    if (dynamo) {
      // Never leave the Java process behind, however this process ends.
      const killJava = () => dynamo.killNow();
      process.on('exit', killJava);
      stops.push(async () => {
        await dynamo.stop();
        process.off('exit', killJava);
      });
    }
    if (sqsSns) stops.push(() => sqsSns.stop());
    if (!dynamo || !sqsSns) {
      const failed = dynamoResult.status === 'rejected' ? dynamoResult.reason : sqsSnsResult.status === 'rejected' ? sqsSnsResult.reason : undefined;
      throw failed instanceof Error ? failed : new Error(describeError(failed));
    }

    // --- the runtime's own clients, with explicit endpoints
    const common = { region, credentials: LOCAL_CREDENTIALS };
    const ddb = new DynamoDBClient({ ...common, endpoint: dynamo.endpoint });
    const streams = new DynamoDBStreamsClient({ ...common, endpoint: dynamo.endpoint });
    const sqs = new SQSClient({ ...common, endpoint: sqsSns.endpoint });
    const sns = new SNSClient({ ...common, endpoint: sqsSns.endpoint });
    stops.push(async () => {
      for (const client of [ddb, streams, sqs, sns]) client.destroy();
    });

    // --- resources and the functions' environment
    const resources = await createResources({ ddb, sqs, sns }, catalog, {
      visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? envNumber('LOCAL_VISIBILITY_TIMEOUT_SECONDS'),
    });
    const environment = buildEnvironment(
      catalog,
      resources,
      { dynamodb: dynamo.endpoint, dynamodbStreams: dynamo.endpoint, sqs: sqsSns.queueHostEndpoint, sns: sqsSns.endpoint },
      region,
    );
    applyEnvironment(environment);

    // --- functions, loaded only now that their environment is set
    const functionSpecs: Record<string, FunctionSpec> = catalog.functions;
    const loaded = new Map<string, LocalFunction>();
    const faults = new FaultInjector(log, () => [...loaded.keys()]);
    // The functions' own SDK clients (functions/shared/, shared by every function in
    // this process) get the fault middleware; the runtime's clients do not.
    for (const [service, module, exported] of [
      ['dynamodb', 'aws', 'dynamo'],
      ['sns', 'sns', 'sns'],
      ['sqs', 'sqs', 'sqs'],
    ] as const) {
      const path = `functions/shared/${module}.ts`;
      const client = ((await import(pathToFileURL(resolve(rootDir, path)).href)) as Record<string, MiddlewareStackOwner | undefined>)[exported];
      if (!client) throw new Error(`${path} does not export the ${service} client as ${exported}`);
      faults.instrument(service, client);
    }
    // The verification sender's SMS and email go to the local outbox (`GET /_local/outbox`), never to AWS.
    const outbox = new LocalOutbox(() => clock.now());
    const delivery = (await import(pathToFileURL(resolve(rootDir, 'functions/shared/delivery.ts')).href)) as {
      useTransport?: (t: LocalOutbox['transport']) => void;
    };
    if (!delivery.useTransport) throw new Error('functions/shared/delivery.ts does not export useTransport');
    delivery.useTransport(outbox.transport);
    const removeBindingCheck = enforceBindings(log);
    stops.push(async () => removeBindingCheck());
    for (const plan of environment.plans.values()) loaded.set(plan.name, await loadFunction(rootDir, plan, log, region, faults));

    // --- pollers, whose invocations and queues `POST /_local/settle` watches
    const activity = new BackgroundActivity(sqs);
    const removals = new TtlRemovals();
    const queuePollers: QueuePoller[] = [];
    const streamPollers: StreamPoller[] = [];
    for (const [name, spec] of Object.entries(functionSpecs)) {
      const fn = loaded.get(name);
      const trigger = spec.trigger;
      if (!fn) continue;
      if (trigger.kind === 'queue') {
        const queue = resources.queues[trigger.queue];
        if (!queue) throw new Error(`function ${name}: queue ${trigger.queue} was not created`);
        activity.watchQueue(queue.url);
        queuePollers.push(
          new QueuePoller({
            fn: activity.track(fn),
            sqs,
            queueUrl: queue.url,
            queueArn: queue.arn,
            region,
            batchSize: trigger.batchSize,
            ...(trigger.maxBatchingWindowSeconds !== undefined ? { maxBatchingWindowSeconds: trigger.maxBatchingWindowSeconds } : {}),
            // As many batches in flight as the deployed mapping allows (its maximumConcurrency), else 2.
            concurrency: trigger.maxConcurrency ?? 2,
            log,
          }),
        );
      } else if (trigger.kind === 'stream') {
        const table = resources.tables[trigger.table];
        const failureQueue = resources.queues[trigger.onFailure];
        if (!table?.streamArn) throw new Error(`function ${name}: table ${trigger.table} has no stream`);
        if (!failureQueue) throw new Error(`function ${name}: queue ${trigger.onFailure} was not created`);
        streamPollers.push(
          new StreamPoller({
            fn: activity.track(fn),
            streams,
            streamArn: table.streamArn,
            tableName: table.name,
            region,
            batchSize: trigger.batchSize,
            retryAttempts: trigger.retryAttempts,
            ...(trigger.eventNames ? { eventNames: trigger.eventNames } : {}),
            onFailure: async (record) => {
              await sqs.send(new SendMessageCommand({ QueueUrl: failureQueue.url, MessageBody: JSON.stringify(record) }));
            },
            ttlRemovals: removals,
            log,
          }),
        );
      }
    }
    const pollers = [...queuePollers, ...streamPollers];
    for (const poller of pollers) poller.start();
    stops.push(async () => {
      await Promise.all(pollers.map((p) => p.stop()));
    });

    // --- TTL sweep, one at a time
    const sweepTables: SweepTable[] = Object.values(resources.tables).flatMap((t) =>
      t.ttlAttribute ? [{ name: t.name, ttlAttribute: t.ttlAttribute, keyNames: t.keyNames }] : [],
    );
    let sweeping: Promise<unknown> = Promise.resolve();
    const sweep = (): Promise<number> => {
      const run = sweeping.then(() => sweepExpiredItems(ddb, sweepTables, clock.nowSeconds(), removals));
      sweeping = run.catch(() => undefined);
      return run;
    };

    // --- gateway
    const identity = await LocalIdentity.create(options.signingKey ?? envJwk('LOCAL_JWT_PRIVATE_JWK'));
    const routes: HttpRouteBinding[] = [];
    let defaultFunction: LocalFunction | undefined;
    for (const [name, spec] of Object.entries(functionSpecs)) {
      const fn = loaded.get(name);
      if (!fn) continue;
      if (spec.trigger.kind === 'http') routes.push({ method: spec.trigger.method, path: spec.trigger.path, auth: spec.trigger.auth, fn });
      if (spec.trigger.kind === 'http-default') defaultFunction = fn;
    }
    const endpoints = { dynamodb: dynamo.endpoint, sqs: sqsSns.endpoint, sns: sqsSns.endpoint };
    let stopping = false;
    const gateway: Gateway = await startGateway(
      {
        routes,
        ...(defaultFunction ? { defaultFunction } : {}),
        verifier: identity,
        log,
        ...(options.corsOrigins ? { corsOrigins: options.corsOrigins } : {}),
        localRoutes: localRoutes({
          identity,
          clock,
          sweep,
          settle: (timeoutMs) => activity.settle({ timeoutMs }),
          faults,
          outbox,
          health: () => ({
            ok: !stopping && pollers.every((p) => p.running),
            body: {
              status: !stopping && pollers.every((p) => p.running) ? 'ok' : 'unavailable',
              endpoints,
              region,
              clock: { now: clock.now().toISOString(), offsetSeconds: clock.offsetSeconds() },
              functions: loaded.size,
            },
          }),
        }),
      },
      { port: options.port ?? 3000, host: options.host ?? '127.0.0.1' },
    );
    stops.push(async () => {
      stopping = true;
      await gateway.close();
    });

    let stopped: Promise<void> | undefined;
    return {
      url: gateway.url,
      port: gateway.port,
      region,
      endpoints,
      resources,
      functions: [...loaded.keys()],
      routes: routes.length,
      pollers: pollers.length,
      dynamodbPid: dynamo.pid,
      startupMs: Date.now() - startedAt,
      holdConsumers() {
        for (const poller of pollers) poller.hold();
      },
      releaseConsumers() {
        for (const poller of pollers) poller.release();
      },
      stop() {
        stopped ??= stopAll().finally(() => {
          running = false;
        });
        return stopped;
      },
    };
  } catch (error) {
    await stopAll();
    running = false;
    throw error;
  }
}
