/**
 * Helpers for integration tests against the local stack.
 *
 * The jest `integration` project starts ONE shared stack (global-setup.ts)
 * and puts its URL in `process.env.LOCAL_STACK_URL`. Every helper talks to it
 * unless given another base URL. A test file that moves the clock starts its
 * own stack with `startStack()` so it does not disturb the others.
 */
import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { SNSClient } from '@aws-sdk/client-sns';
import { catalog } from '../../../catalog';
import type { CatalogShape, QueueName, Role, TableName, TopicName } from '../../../catalog';
import { LOCAL_CREDENTIALS, LOCAL_REGION, localDeadLetterQueueName, localQueueName, localTableName, localTopicName } from '../../../local/names';
import { spawnStack, type SpawnStackOptions, type StackExit, type StackProcess } from './stack-process';

export { childProcesses, isAlive, spawnStack, REPO_ROOT } from './stack-process';
export type { SpawnStackOptions, StackExit, StackProcess } from './stack-process';

/** The shared stack's base URL (set by the integration project's global setup). */
export function stackUrl(): string {
  const url = process.env.LOCAL_STACK_URL;
  if (!url) throw new Error('LOCAL_STACK_URL is not set: run integration tests with `npx jest --selectProjects integration`');
  return url;
}

// ------------------------------------------------------------------ HTTP

export interface ApiOptions {
  /** Sent as `Authorization: Bearer <token>`. */
  readonly token?: string;
  /** Sent as JSON (`content-type: application/json` unless `headers` say otherwise). */
  readonly body?: unknown;
  /** Sent as is; no content type is added. */
  readonly rawBody?: string | Uint8Array;
  readonly headers?: Readonly<Record<string, string>>;
  /** Another stack's URL (default: the shared stack). */
  readonly baseUrl?: string;
}

/** A response body as parsed JSON, read loosely by tests; pass a type argument for precision. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON from the wire
export type JsonBody = any;

export interface ApiResponse<T = JsonBody> {
  readonly status: number;
  /** Lower-cased names; repeated headers joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  /** The parsed body when it is JSON (any `json` content type), else undefined. */
  readonly json: T;
  readonly text: string;
}

export async function api<T = JsonBody>(method: string, path: string, options: ApiOptions = {}): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = {};
  let body: string | Uint8Array | undefined;
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  if (options.rawBody !== undefined) body = options.rawBody;
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  Object.assign(headers, options.headers);
  const response = await fetch(`${options.baseUrl ?? stackUrl()}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await response.text();
  const contentType = response.headers.get('content-type') ?? '';
  let json: unknown;
  if (/json/i.test(contentType) && text.length > 0) json = JSON.parse(text);
  return { status: response.status, headers: Object.fromEntries(response.headers.entries()), json: json as T, text };
}

/** Waits until every queue and stream of the stack is idle (`POST /_local/settle`): no event of an earlier step still in flight. */
export async function settle(baseUrl?: string): Promise<void> {
  expect((await api('POST', '/_local/settle', { body: { timeoutSeconds: 60 }, ...(baseUrl ? { baseUrl } : {}) })).status).toBe(200);
}

/** A token from the stack's development issuer (`POST /_local/token`). */
export async function tokenFor(role: Role, sub: string, baseUrl?: string): Promise<string> {
  const response = await api<{ token: string }>('POST', '/_local/token', { body: { role, sub }, ...(baseUrl ? { baseUrl } : {}) });
  if (response.status !== 200) throw new Error(`POST /_local/token answered ${response.status}: ${response.text}`);
  return response.json.token;
}

export interface Health {
  status: string;
  endpoints: { dynamodb: string; sqs: string; sns: string };
  region: string;
  clock: { now: string; offsetSeconds: number };
  functions: number;
}

export async function health(baseUrl?: string): Promise<Health> {
  const response = await api<Health>('GET', '/_local/health', baseUrl ? { baseUrl } : {});
  if (response.status !== 200) throw new Error(`GET /_local/health answered ${response.status}: ${response.text}`);
  return response.json;
}

// ------------------------------------------------------------------ ids, waiting

/** A unique id, `<prefix>-<time>-<random>`, so tests never collide on the shared stack. */
export function newId(prefix = 'id'): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`;
}

/** Calls `fn` until it returns without throwing (an `expect` that passes); rethrows its last error on timeout. */
export async function eventually<T>(fn: () => T | Promise<T>, options: { timeoutMs?: number; intervalMs?: number } = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const intervalMs = options.intervalMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (error) {
      if (Date.now() >= deadline) throw error;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
}

// ------------------------------------------------------------------ names and SDK clients

/** Physical names of catalog resources in the local stack. */
export const tableName = (name: TableName): string => localTableName(name);
export const topicName = (name: TopicName): string => localTopicName(name);
const queueSpecs: CatalogShape['queues'] = catalog.queues;
export const queueName = (name: QueueName): string => localQueueName(name, queueSpecs[name]?.fifo);
export const deadLetterQueueName = (name: QueueName): string => localDeadLetterQueueName(name, queueSpecs[name]?.fifo);

export interface AwsClients {
  readonly endpoints: Health['endpoints'];
  readonly dynamodb: DynamoDBClient;
  /** Document client (marshalling as the functions do: `removeUndefinedValues`). */
  readonly ddb: DynamoDBDocumentClient;
  readonly streams: DynamoDBStreamsClient;
  /** With an explicit endpoint, so fauxqs's `sqs.<region>.localhost` queue URLs need no DNS. */
  readonly sqs: SQSClient;
  readonly sns: SNSClient;
}

const clientCache = new Map<string, Promise<AwsClients>>();

/** SDK clients pointed at the stack's emulators (from `/_local/health`), one set per stack. */
export function awsClients(baseUrl?: string): Promise<AwsClients> {
  const key = baseUrl ?? stackUrl();
  let clients = clientCache.get(key);
  if (!clients) {
    clients = health(key).then(({ endpoints }) => {
      const common = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
      const dynamodb = new DynamoDBClient({ ...common, endpoint: endpoints.dynamodb });
      return {
        endpoints,
        dynamodb,
        ddb: DynamoDBDocumentClient.from(dynamodb, { marshallOptions: { removeUndefinedValues: true } }),
        streams: new DynamoDBStreamsClient({ ...common, endpoint: endpoints.dynamodb }),
        sqs: new SQSClient({ ...common, endpoint: endpoints.sqs }),
        sns: new SNSClient({ ...common, endpoint: endpoints.sns }),
      };
    });
    clientCache.set(key, clients);
  }
  return clients;
}

/** Closes the clients `awsClients()` made (call in `afterAll` so jest exits promptly). */
export async function closeAwsClients(): Promise<void> {
  const all = await Promise.allSettled([...clientCache.values()]);
  clientCache.clear();
  for (const result of all) {
    if (result.status !== 'fulfilled') continue;
    const c = result.value;
    for (const client of [c.dynamodb, c.streams, c.sqs, c.sns]) client.destroy();
  }
}

/** The URL of a catalog queue (or of its dead-letter queue). */
export async function queueUrl(name: QueueName, options: { deadLetter?: boolean; baseUrl?: string } = {}): Promise<string> {
  const { sqs } = await awsClients(options.baseUrl);
  const result = await sqs.send(new GetQueueUrlCommand({ QueueName: options.deadLetter ? deadLetterQueueName(name) : queueName(name) }));
  if (!result.QueueUrl) throw new Error(`no URL for queue ${name}`);
  return result.QueueUrl;
}

// ------------------------------------------------------------------ private stacks

export interface PrivateStack extends StackProcess {
  api<T = JsonBody>(method: string, path: string, options?: Omit<ApiOptions, 'baseUrl'>): Promise<ApiResponse<T>>;
  tokenFor(role: Role, sub: string): Promise<string>;
  health(): Promise<Health>;
  clients(): Promise<AwsClients>;
}

/**
 * A stack of the test file's own (about 4 s to start), for tests that move
 * the clock or stop the stack. Stop it in `afterAll` (`await stack.stop()`).
 */
export async function startStack(options: SpawnStackOptions = {}): Promise<PrivateStack> {
  const stack = await spawnStack(options);
  return {
    ...stack,
    api: (method, path, opts = {}) => api(method, path, { ...opts, baseUrl: stack.url }),
    tokenFor: (role, sub) => tokenFor(role, sub, stack.url),
    health: () => health(stack.url),
    clients: () => awsClients(stack.url),
    stop: async (signal?: NodeJS.Signals, timeoutMs?: number): Promise<StackExit> => {
      const clients = clientCache.get(stack.url);
      clientCache.delete(stack.url);
      if (clients) {
        const c = await clients.catch(() => undefined);
        for (const client of c ? [c.dynamodb, c.streams, c.sqs, c.sns] : []) client.destroy();
      }
      return stack.stop(signal, timeoutMs);
    },
  };
}
