/**
 * The local stack, started in this process (under tsx) for the benchmarks
 * that need it, with SDK clients pointed at its emulators and a small HTTP
 * helper. One stack serves every benchmark of a run.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Agent, request as httpRequest } from 'node:http';
import type { Role } from '../../catalog';
import type { LocalStack } from '../../local/stack';
import type { StackLog } from '../../local/log';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/names';
import { mapLimit, sleep } from '../../functions/shared/concurrency';

export interface ApiResult<T = unknown> {
  readonly status: number;
  readonly json: T;
  readonly text: string;
}

export interface BenchStack {
  readonly stack: LocalStack;
  readonly url: string;
  readonly dynamodb: DynamoDBClient;
  readonly ddb: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
  /** Warnings and errors the stack's runtime logged (pollers, invocations), newest last. */
  readonly warnings: string[];
  api<T = unknown>(
    method: string,
    path: string,
    options?: { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> },
  ): Promise<ApiResult<T>>;
  token(role: Role, sub: string): Promise<string>;
  /** Waits until every catalog queue holds no visible or in-flight message, three checks in a row. */
  drain(timeoutMs?: number): Promise<{ drained: boolean; waitedMs: number; left: number }>;
  /** Messages sitting in dead-letter queues now (a benchmark that made some has a problem to report). */
  deadLetters(): Promise<number>;
  close(): Promise<void>;
}

const keepAlive = new Agent({ keepAlive: true, maxSockets: 64 });

/** One HTTP request over a keep-alive agent (lighter than fetch for thousands of setup calls). */
export function httpJson<T = unknown>(
  url: string,
  method: string,
  options: { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string>; agent?: Agent } = {},
): Promise<ApiResult<T>> {
  const headers: Record<string, string> = { ...options.headers };
  let payload: string | undefined = options.rawBody;
  if (options.body !== undefined) {
    payload = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (payload !== undefined) headers['content-length'] = String(Buffer.byteLength(payload));
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers, agent: options.agent ?? keepAlive }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        if (/json/.test(res.headers['content-type'] ?? '') && text.length > 0) {
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
        }
        resolve({ status: res.statusCode ?? 0, json: json as T, text });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** Origins whose pages may call the bench stack's API: the web benchmark adds its web server's. */
export const webOrigins: string[] = [];

export async function startBenchStack(): Promise<BenchStack> {
  // The functions' own structured logs go to stdout; keep them to errors so
  // the table stays readable (POWERTOOLS_LOG_LEVEL overrides).
  process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
  // Figures time matching itself: a session is done the moment its last chunk is matched, not at a settle time (core/size-release.ts).
  process.env.UPLOAD_SETTLE_SECONDS ??= '0';
  process.env.UPLOAD_SETTLE_SECONDS_PER_CHUNK ??= '0';
  const warnings: string[] = [];
  const keep = (line: string) => {
    warnings.push(line);
    if (warnings.length > 200) warnings.shift();
  };
  const log: StackLog = { info: () => {}, warn: keep, error: keep };
  // Imported here, not at the top: fauxqs is ESM-only and local/ loads every function.
  const { startLocalStack } = await import('../../local/stack');
  const stack = await startLocalStack({ port: 0, log, corsOrigins: () => webOrigins });
  const common = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  const dynamodb = new DynamoDBClient({ ...common, endpoint: stack.endpoints.dynamodb, maxAttempts: 6 });
  const ddb = DynamoDBDocumentClient.from(dynamodb, { marshallOptions: { removeUndefinedValues: true } });
  const sqs = new SQSClient({ ...common, endpoint: stack.endpoints.sqs });
  const tokens = new Map<string, string>();
  const liveUrls = Object.values(stack.resources.queues).map((q) => q.url);
  const dlqUrls = Object.values(stack.resources.queues).map((q) => q.deadLetterUrl);

  const count = async (urls: string[], inFlight: boolean) => {
    let n = 0;
    for (const url of urls) {
      const out = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
      );
      n += Number(out.Attributes?.ApproximateNumberOfMessages ?? 0) + (inFlight ? Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0) : 0);
    }
    return n;
  };

  const self: BenchStack = {
    stack,
    url: stack.url,
    dynamodb,
    ddb,
    sqs,
    warnings,
    api: (method, path, options = {}) => httpJson(`${stack.url}${path}`, method, options),
    async token(role, sub) {
      const key = `${role}\0${sub}`;
      let token = tokens.get(key);
      if (!token) {
        const res = await httpJson<{ token: string }>(`${stack.url}/_local/token`, 'POST', { body: { role, sub } });
        if (res.status !== 200) throw new Error(`POST /_local/token answered ${res.status}`);
        token = res.json.token;
        tokens.set(key, token);
      }
      return token;
    },
    async drain(timeoutMs = 120_000) {
      const started = Date.now();
      let quiet = 0;
      let left = 0;
      while (Date.now() - started < timeoutMs) {
        // Dead-letter queues keep their messages; only the live queues must empty.
        left = await count(liveUrls, true);
        quiet = left <= 0 ? quiet + 1 : 0;
        if (quiet >= 3) return { drained: true, waitedMs: Date.now() - started, left: 0 };
        await sleep(250);
      }
      return { drained: false, waitedMs: Date.now() - started, left };
    },
    deadLetters: () => count(dlqUrls, false),
    async close() {
      dynamodb.destroy();
      sqs.destroy();
      await stack.stop();
    },
  };
  return self;
}

/** Publishes a policy (409: it exists) and returns its version. */
export async function ensurePolicy(s: BenchStack, version = '2016-08-25'): Promise<string> {
  const operator = await s.token('operator', 'bench-operator');
  const res = await s.api('POST', '/v1/policies', {
    token: operator,
    body: { version, purposes: ['ads_targeting', 'friend_suggestions'], summary: 'Benchmark policy.' },
  });
  if (res.status !== 201 && res.status !== 409) throw new Error(`POST /v1/policies answered ${res.status}: ${res.text}`);
  return version;
}

/**
 * Binds a phone number to the user as a client does: a verification, the
 * code read from the local stack's outbox, sent back. The answer of the last
 * step (200 `{phoneNumber}` when it worked).
 */
export async function verifyPhone(s: BenchStack, token: string, phoneNumber: string): Promise<ApiResult<{ phoneNumber: string }>> {
  const outbox = async () => (await s.api<{ items: { code: string }[] }>('GET', `/_local/outbox?to=${encodeURIComponent(phoneNumber)}`)).json.items;
  const seen = (await outbox()).length;
  const started = await s.api<{ verificationId: string }>('POST', '/v1/me/phone/verification', { token, body: { phoneNumber } });
  if (started.status !== 202) return started as unknown as ApiResult<{ phoneNumber: string }>;
  for (let waited = 0; ; waited += 20) {
    const items = await outbox();
    if (items.length > seen) return s.api('PUT', '/v1/me/phone', { token, body: { verificationId: started.json.verificationId, code: items[0]!.code } });
    if (waited > 30_000) throw new Error('no verification code reached the local outbox within 30 s');
    await sleep(20);
  }
}

export { mapLimit, sleep };
