/**
 * The local runtime itself, against real emulators: the shared stack's
 * gateway, authorizer, local routes and resources; the pollers and the TTL
 * sweep driven in this process against the stack's DynamoDB Local and
 * fauxqs; the gateway with stub functions; and private stacks for the clock
 * and for shutdown.
 */
import { getEventListeners, getMaxListeners } from 'node:events';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { resolve } from 'node:path';
import {
  CreateTableCommand,
  DeleteItemCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { GetSubscriptionAttributesCommand, ListSubscriptionsByTopicCommand, ListTopicsCommand } from '@aws-sdk/client-sns';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, DynamoDBRecord, DynamoDBStreamEvent, SQSEvent, SQSRecord } from 'aws-lambda';
import { decodeJwt } from 'jose';
import { catalog, type FunctionSpec, type QueueName, type QueueSpec, type Role, type TableName, type TableSpec, type TopicName } from '../../catalog';
import type { FunctionPlan } from '../../catalog';
import { internalError } from '../../functions/shared/problems';
import { createLocalFunction, type LambdaHandler } from '../../local/functions';
import { startGateway, MAX_REQUEST_BYTES, type Gateway } from '../../local/gateway';
import { LocalIdentity } from '../../local/identity';
import { silentLog } from '../../local/log';
import { QueuePoller } from '../../local/queue-poller';
import { StreamPoller } from '../../local/stream-poller';
import type { StreamFailureRecord } from '../../local/events';
import { sweepExpiredItems, TtlRemovals } from '../../local/ttl-sweep';
import {
  api,
  awsClients,
  childProcesses,
  closeAwsClients,
  deadLetterQueueName,
  eventually,
  health,
  isAlive,
  newId,
  queueName,
  REPO_ROOT,
  startStack,
  tableName,
  tokenFor,
  topicName,
  type PrivateStack,
} from './support';

/** A function with no bindings, for stub handlers. */
const stubPlan = (name: string, timeoutSeconds: number): FunctionPlan => ({
  name,
  entry: 'stub',
  description: 'stub',
  side: 'consent',
  memoryMB: 256,
  timeoutSeconds,
  bindings: [],
  delivers: [],
  shared: {},
});
import { hs256Token, LOCAL_AUDIENCE, LOCAL_ISSUER, otherSigningKey, signToken, unsecuredToken, validClaims } from './support/tokens';

const functionSpecs: Record<string, FunctionSpec> = catalog.functions;
const tableSpecs = Object.entries(catalog.tables as Record<string, TableSpec>) as [TableName, TableSpec][];
const queueSpecs = Object.entries(catalog.queues as Record<string, QueueSpec>) as [QueueName, QueueSpec][];
/** A TTL table with a partition key only, for sweep tests. */
const ttlTable = tableSpecs.find(([, t]) => t.ttlAttribute && !t.sortKey);
const present = (spec: FunctionSpec) => existsSync(resolve(REPO_ROOT, spec.entry));
const httpRoutes = Object.values(functionSpecs).flatMap((spec) => (spec.trigger.kind === 'http' && present(spec) ? [{ ...spec.trigger, spec }] : []));
/** A GET route without path parameters that needs a token, from the catalog. */
const protectedGet = httpRoutes.find((r) => r.method === 'GET' && r.auth !== 'public' && !r.path.includes('{'));
/** A route with a JSON body that needs a token. */
const protectedWrite = httpRoutes.find((r) => r.method !== 'GET' && r.auth !== 'public' && !r.path.includes('{'));

const isProblem = (status: number, json: unknown) =>
  expect(json).toEqual(expect.objectContaining({ type: expect.any(String), title: expect.any(String), status, detail: expect.any(String) }));

afterAll(async () => {
  await closeAwsClients();
});

describe('health', () => {
  it('answers with the emulator endpoints, the region, the clock and the function count', async () => {
    const response = await api('GET', '/_local/health');

    expect(response.status).toBe(200);
    expect(response.json).toEqual({
      status: 'ok',
      endpoints: {
        dynamodb: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
        sqs: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
        sns: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      },
      region: 'us-east-1',
      clock: { now: expect.any(String), offsetSeconds: 0 },
      functions: Object.values(functionSpecs).filter(present).length,
    });
    expect(Math.abs(Date.parse(response.json.clock.now) - Date.now())).toBeLessThan(5_000);
  });
});

describe('identity: the gateway JWT authorizer', () => {
  const route = protectedGet;
  const call = (headers: Record<string, string>) => api('GET', route?.path ?? '/', { headers });
  const refused = async (headers: Record<string, string>) => {
    const response = await call(headers);
    expect(response.status).toBe(401);
    expect(response.headers['content-type']).toBe('application/problem+json');
    expect(response.headers['www-authenticate']).toBe('Bearer');
    isProblem(401, response.json);
    return response.json.detail as string;
  };
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  beforeAll(() => {
    if (!route) throw new Error('no protected GET route without parameters exists yet');
  });

  it('accepts a token from /_local/token', async () => {
    const token = await tokenFor(route!.auth === 'public' ? 'user' : (route!.auth[0] as Role), newId('u'));

    const response = await call(bearer(token));

    expect(response.status).not.toBe(401);
    expect(response.status).toBeLessThan(500);
  });

  it('accepts a token the test signs with the stack key (the forging below is sound)', async () => {
    const token = await signToken(validClaims('operator', newId('op')));

    expect((await call(bearer(token))).status).not.toBe(401);
  });

  it('refuses missing, malformed and forged tokens with the same short 401 problem', async () => {
    const sub = newId('u');
    const now = Math.floor(Date.now() / 1000);
    const details = [
      await refused({}),
      await refused({ authorization: 'Basic dXNlcjpwYXNz' }),
      await refused({ authorization: 'Bearer' }),
      await refused(bearer('not.a.jwt')),
      await refused(bearer(await signToken(validClaims('user', sub), { key: otherSigningKey() }))),
      await refused(bearer(await signToken({ ...validClaims('user', sub), iat: now - 7200, exp: now - 60 }))),
      await refused(bearer(await signToken({ ...validClaims('user', sub), nbf: now + 600 }))),
      await refused(bearer(unsecuredToken(validClaims('user', sub)))),
      await refused(bearer(await hs256Token(validClaims('user', sub)))),
      await refused(bearer(await signToken({ ...validClaims('user', sub), iss: 'https://evil.example/' }))),
      await refused(bearer(await signToken({ ...validClaims('user', sub), aud: 'someone-else' }))),
    ];

    expect(new Set(details).size).toBe(1);
    expect(details[0]).not.toMatch(/expire|signature|issuer|audience|alg/i);
  });

  it('passes the claims on, so the function itself answers a wrong role with 403', async () => {
    const userRoute = httpRoutes.find((r) => r.method === 'GET' && Array.isArray(r.auth) && !r.auth.includes('business') && !r.path.includes('{'));
    if (!userRoute) return;

    const response = await api('GET', userRoute.path, { token: await tokenFor('business', newId('b')) });

    expect(response.status).toBe(403);
    isProblem(403, response.json);
  });
});

describe('POST /_local/token', () => {
  it('issues an ES256 token with issuer, audience, subject, role, iat, exp = iat + 3600 and jti', async () => {
    const sub = newId('u');
    const response = await api('POST', '/_local/token', { body: { role: 'business', sub } });

    expect(response.status).toBe(200);
    const claims = decodeJwt(response.json.token);
    expect(claims).toEqual({
      iss: LOCAL_ISSUER,
      aud: LOCAL_AUDIENCE,
      sub,
      role: 'business',
      iat: expect.any(Number),
      exp: (claims.iat ?? 0) + 3600,
      jti: expect.any(String),
    });
    expect(Math.abs((claims.iat ?? 0) - Date.now() / 1000)).toBeLessThan(10);
  });

  it.each([
    ['an unknown role', { role: 'admin', sub: 'u-1' }, 'role'],
    ['an empty sub', { role: 'user', sub: '' }, 'sub'],
    ['a sub over 128 characters', { role: 'user', sub: 'x'.repeat(129) }, 'sub'],
    ['a missing sub', { role: 'user' }, 'sub'],
  ])('answers %s with a 400 problem naming the field', async (_, body, field) => {
    const response = await api('POST', '/_local/token', { body });

    expect(response.status).toBe(400);
    expect(response.headers['content-type']).toBe('application/problem+json');
    isProblem(400, response.json);
    expect(response.json.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: field, message: expect.any(String) })]));
  });

  it('answers malformed JSON with 400 and another content type with 415', async () => {
    const malformed = await api('POST', '/_local/token', { rawBody: '{"role":', headers: { 'content-type': 'application/json' } });
    const text = await api('POST', '/_local/token', { rawBody: 'role=user', headers: { 'content-type': 'text/plain' } });

    expect(malformed.status).toBe(400);
    isProblem(400, malformed.json);
    expect(text.status).toBe(415);
    isProblem(415, text.json);
  });

  it('answers another method with 405', async () => {
    const response = await api('GET', '/_local/token');

    expect(response.status).toBe(405);
    expect(response.headers.allow).toBe('POST');
  });
});

describe('routing and limits', () => {
  it('sends an unknown route to the $default function: a 404 problem document', async () => {
    const response = await api('GET', `/no/such/route/${newId('r')}`);

    expect(response.status).toBe(404);
    expect(response.headers['content-type']).toBe('application/problem+json');
    isProblem(404, response.json);
  });

  it('answers a body over API Gateway 10 MB with its own 413 problem', async () => {
    const response = await api('POST', `/no/such/route`, {
      rawBody: Buffer.alloc(MAX_REQUEST_BYTES + 1, 'a'),
      headers: { 'content-type': 'application/json' },
    });

    expect(response.status).toBe(413);
    isProblem(413, response.json);
    expect(response.json.detail).toContain(String(MAX_REQUEST_BYTES));
  });

  it('lets a 2 MiB body reach the function, which enforces the 1 MiB limit itself', async () => {
    if (!protectedWrite || protectedWrite.auth === 'public') return;
    const token = await tokenFor(protectedWrite.auth[0] as Role, newId('u'));

    const response = await api(protectedWrite.method, protectedWrite.path, {
      token,
      rawBody: JSON.stringify({ pad: 'x'.repeat(2 * 1024 * 1024) }),
      headers: { 'content-type': 'application/json' },
    });

    expect(response.status).toBe(413);
    isProblem(413, response.json);
    expect(response.json.detail).not.toContain(String(MAX_REQUEST_BYTES));
  });
});

describe('POST /_local/clock validation (the shared clock is not moved)', () => {
  it.each([
    ['a fraction', { advanceSeconds: 1.5 }],
    ['a negative number', { advanceSeconds: -1 }],
    ['a string', { advanceSeconds: '10' }],
    ['nothing', {}],
  ])('refuses %s with a 400 problem', async (_, body) => {
    const response = await api('POST', '/_local/clock', { body });

    expect(response.status).toBe(400);
    isProblem(400, response.json);
    expect(response.json.errors).toEqual([expect.objectContaining({ path: 'advanceSeconds' })]);
    expect((await health()).clock.offsetSeconds).toBe(0);
  });

  it('refuses a body that is not JSON with 415 and malformed JSON with 400', async () => {
    expect((await api('POST', '/_local/clock', { rawBody: 'advanceSeconds=5', headers: { 'content-type': 'application/x-www-form-urlencoded' } })).status).toBe(
      415,
    );
    expect((await api('POST', '/_local/clock', { rawBody: '{', headers: { 'content-type': 'application/json' } })).status).toBe(400);
  });
});

describe('resources: everything in the catalog exists in the emulators', () => {
  it('creates every table with its keys, indexes, stream and TTL', async () => {
    const { dynamodb } = await awsClients();
    for (const [name, full] of tableSpecs) {
      const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName: tableName(name) }));

      expect(Table?.KeySchema).toEqual([
        { AttributeName: full.partitionKey.name, KeyType: 'HASH' },
        ...(full.sortKey ? [{ AttributeName: full.sortKey.name, KeyType: 'RANGE' }] : []),
      ]);
      expect((Table?.GlobalSecondaryIndexes ?? []).map((i) => i.IndexName).sort()).toEqual((full.globalIndexes ?? []).map((i) => i.name).sort());
      if (full.stream) {
        expect(Table?.StreamSpecification).toEqual({ StreamEnabled: true, StreamViewType: full.stream });
        expect(Table?.LatestStreamArn).toEqual(expect.any(String));
      } else {
        expect(Table?.StreamSpecification?.StreamEnabled ?? false).toBe(false);
      }
      const ttl = await dynamodb.send(new DescribeTimeToLiveCommand({ TableName: tableName(name) }));
      if (full.ttlAttribute) expect(ttl.TimeToLiveDescription).toEqual({ TimeToLiveStatus: 'ENABLED', AttributeName: full.ttlAttribute });
      else expect(ttl.TimeToLiveDescription?.TimeToLiveStatus).toBe('DISABLED');
    }
  });

  it('creates every queue with its dead-letter queue, redrive policy and (test) visibility timeout', async () => {
    const { sqs } = await awsClients();
    for (const [name, spec] of queueSpecs) {
      const dlq = await sqs.send(new GetQueueUrlCommand({ QueueName: deadLetterQueueName(name) }));
      const main = await sqs.send(new GetQueueUrlCommand({ QueueName: queueName(name) }));
      const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn;
      const attributes = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: main.QueueUrl, AttributeNames: ['All'] }))).Attributes ?? {};

      expect(attributes.VisibilityTimeout).toBe('2');
      expect(JSON.parse(attributes.RedrivePolicy ?? '{}')).toEqual({ deadLetterTargetArn: dlqArn, maxReceiveCount: spec.maxReceiveCount });
      // FIFO as deployed: high-throughput mode, deduplication per group on the sender's id, a FIFO dead-letter queue.
      const dlqFifo = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['FifoQueue'] }))).Attributes?.FifoQueue;
      if (spec.fifo) {
        expect(attributes).toMatchObject({ FifoQueue: 'true', DeduplicationScope: 'messageGroup', FifoThroughputLimit: 'perMessageGroupId' });
        expect(attributes.ContentBasedDeduplication ?? 'false').toBe('false');
        expect(dlqFifo).toBe('true');
      } else {
        expect([attributes.FifoQueue ?? 'false', dlqFifo ?? 'false']).toEqual(['false', 'false']);
      }
    }
  });

  it('creates every topic and the raw, filtered subscriptions of its queues', async () => {
    const { sns, sqs } = await awsClients();
    const topics = (await sns.send(new ListTopicsCommand({}))).Topics?.map((t) => t.TopicArn) ?? [];
    for (const name of Object.keys(catalog.topics) as TopicName[]) {
      const arn = topics.find((t) => t?.endsWith(`:${topicName(name)}`));
      expect(arn).toBeDefined();
      const subscriptions = (await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: arn }))).Subscriptions ?? [];
      const subscribed = queueSpecs.filter(([, q]) => q.subscription?.topic === name);
      expect(subscriptions).toHaveLength(subscribed.length);
      for (const [queue, spec] of subscribed) {
        const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: queueName(queue) }));
        const queueArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn;
        const subscription = subscriptions.find((s) => s.Endpoint === queueArn);
        expect(subscription?.Protocol).toBe('sqs');
        const attributes = (await sns.send(new GetSubscriptionAttributesCommand({ SubscriptionArn: subscription?.SubscriptionArn }))).Attributes ?? {};
        expect(attributes.RawMessageDelivery).toBe('true');
        const eventTypes = spec.subscription?.eventTypes;
        if (eventTypes) expect(JSON.parse(attributes.FilterPolicy ?? '{}')).toEqual({ type: [...eventTypes] });
        else expect(attributes.FilterPolicy).toBeUndefined();
      }
    }
  });
});

describe('POST /_local/ttl-sweep on the shared stack', () => {
  it('deletes expired items of TTL tables and keeps the others', async () => {
    if (!ttlTable) return;
    const [name, spec] = ttlTable;
    const { dynamodb } = await awsClients();
    const now = Math.floor(Date.now() / 1000);
    const expired = newId('ttl-expired');
    const alive = newId('ttl-alive');
    const key = (id: string) => ({ [spec.partitionKey.name]: { S: id } });
    await dynamodb.send(new PutItemCommand({ TableName: tableName(name), Item: { ...key(expired), expiresAt: { N: String(now - 60) } } }));
    await dynamodb.send(new PutItemCommand({ TableName: tableName(name), Item: { ...key(alive), expiresAt: { N: String(now + 3600) } } }));

    const response = await api('POST', '/_local/ttl-sweep');

    expect(response.status).toBe(200);
    expect(response.json.deleted).toBeGreaterThanOrEqual(1);
    expect((await dynamodb.send(new GetItemCommand({ TableName: tableName(name), Key: key(expired) }))).Item).toBeUndefined();
    expect((await dynamodb.send(new GetItemCommand({ TableName: tableName(name), Key: key(alive) }))).Item).toBeDefined();
  });

  it('refuses a body that is not JSON with 415', async () => {
    const response = await api('POST', '/_local/ttl-sweep', { rawBody: 'now', headers: { 'content-type': 'text/plain' } });

    expect(response.status).toBe(415);
    isProblem(415, response.json);
  });
});

describe('queue poller (Lambda SQS event source mapping), against the stack fauxqs', () => {
  const created: string[] = [];
  afterAll(async () => {
    const { sqs } = await awsClients();
    for (const url of created) await sqs.send(new DeleteQueueCommand({ QueueUrl: url }));
  });

  async function testQueue(maxReceiveCount: number) {
    const { sqs } = await awsClients();
    const name = newId('test-q');
    const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }));
    const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
    const queue = await sqs.send(
      new CreateQueueCommand({
        QueueName: name,
        Attributes: { VisibilityTimeout: '1', RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount }) },
      }),
    );
    const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queue.QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
    created.push(queue.QueueUrl!, dlq.QueueUrl!);
    return { url: queue.QueueUrl!, arn, dlqUrl: dlq.QueueUrl! };
  }

  function poller(queue: { url: string; arn: string }, handler: LambdaHandler, sqs: import('@aws-sdk/client-sqs').SQSClient) {
    const fn = createLocalFunction({ plan: stubPlan('testQueueConsumer', 5), handler, log: silentLog });
    return new QueuePoller({ fn, sqs, queueUrl: queue.url, queueArn: queue.arn, region: 'us-east-1', batchSize: 10, log: silentLog });
  }

  it('delivers real SQS records, deletes the successes, redelivers the reported failure and dead-letters it', async () => {
    const { sqs } = await awsClients();
    const queue = await testQueue(2);
    const seen: SQSRecord[] = [];
    const handler = (async (event: SQSEvent) => {
      seen.push(...event.Records);
      return { batchItemFailures: event.Records.filter((r) => r.body === 'fail').map((r) => ({ itemIdentifier: r.messageId })) };
    }) as unknown as LambdaHandler;
    for (const body of ['ok-1', 'fail', 'ok-2']) {
      await sqs.send(
        new SendMessageCommand({ QueueUrl: queue.url, MessageBody: body, MessageAttributes: { type: { DataType: 'String', StringValue: 'Test' } } }),
      );
    }
    const p = poller(queue, handler, sqs);

    p.start();
    try {
      await eventually(() => expect(seen.filter((r) => r.body === 'fail').length).toBe(2), { timeoutMs: 15_000 });
      const dead = await eventually(async () => {
        const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queue.dlqUrl, WaitTimeSeconds: 1, MessageSystemAttributeNames: ['All'] }));
        expect(received.Messages?.map((m) => m.Body)).toEqual(['fail']);
        return received.Messages;
      });
      expect(dead).toHaveLength(1);
    } finally {
      await p.stop();
    }

    const ok1 = seen.find((r) => r.body === 'ok-1')!;
    expect(ok1).toEqual({
      messageId: expect.any(String),
      receiptHandle: expect.any(String),
      body: 'ok-1',
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: expect.stringMatching(/^\d{13}$/),
        SenderId: expect.any(String),
        ApproximateFirstReceiveTimestamp: expect.stringMatching(/^\d{13}$/),
      },
      messageAttributes: { type: { stringValue: 'Test', stringListValues: [], binaryListValues: [], dataType: 'String' } },
      md5OfBody: createHash('md5').update('ok-1').digest('hex'),
      md5OfMessageAttributes: expect.any(String),
      eventSource: 'aws:sqs',
      eventSourceARN: queue.arn,
      awsRegion: 'us-east-1',
    });
    // The successes were deleted: each was delivered once.
    expect(seen.filter((r) => r.body.startsWith('ok-')).length).toBe(2);
    expect(seen.filter((r) => r.body === 'fail').map((r) => r.attributes.ApproximateReceiveCount)).toEqual(['1', '2']);
  });

  it('deletes nothing when the handler throws, and everything when it returns nothing', async () => {
    const { sqs } = await awsClients();
    const queue = await testQueue(5);
    let calls = 0;
    const handler = (async (event: SQSEvent) => {
      calls += 1;
      if (calls === 1) throw new Error('first delivery fails');
      return event.Records.length > 0 ? undefined : undefined;
    }) as unknown as LambdaHandler;
    await sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'once-thrown' }));
    const p = poller(queue, handler, sqs);

    p.start();
    try {
      await eventually(() => expect(calls).toBe(2), { timeoutMs: 10_000 });
      await new Promise((r) => setTimeout(r, 2_500)); // past the visibility timeout: it must not come back
    } finally {
      await p.stop();
    }

    expect(calls).toBe(2);
    const attributes = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queue.url, AttributeNames: ['All'] }))).Attributes ?? {};
    expect(attributes.ApproximateNumberOfMessages).toBe('0');
    expect(attributes.ApproximateNumberOfMessagesNotVisible).toBe('0');
  });
  it('takes nothing while held: messages wait in the queue and are delivered once released', async () => {
    const { sqs } = await awsClients();
    const queue = await testQueue(5);
    const seen: string[] = [];
    const handler = (async (event: SQSEvent) => {
      seen.push(...event.Records.map((r) => r.body));
    }) as unknown as LambdaHandler;
    const p = poller(queue, handler, sqs);
    p.hold();
    p.start();
    try {
      await sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'held-1' }));
      await new Promise((r) => setTimeout(r, 1_500));
      expect(seen).toEqual([]);
      const waiting = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queue.url, AttributeNames: ['ApproximateNumberOfMessages'] }))).Attributes;
      expect(waiting?.ApproximateNumberOfMessages).toBe('1');

      p.release();
      await eventually(() => expect(seen).toEqual(['held-1']), { timeoutMs: 10_000 });
    } finally {
      await p.stop();
    }
  });
  it('fills batches of 100 with several receives at once on four loops, within the listener bound it sets on its abort signal', async () => {
    const { sqs } = await awsClients();
    const queue = await testQueue(5);
    // The signal the poller passes to its receives, and the most listeners it held at once (sampled every millisecond).
    let signal: AbortSignal | undefined;
    let most = 0;
    const send = sqs.send.bind(sqs) as (command: unknown, options?: { abortSignal?: AbortSignal }) => Promise<unknown>;
    const watched = Object.create(sqs) as typeof sqs;
    (watched as { send: unknown }).send = (command: unknown, options?: { abortSignal?: AbortSignal }) => {
      signal ??= options?.abortSignal;
      return send(command, options);
    };
    const sampler = setInterval(() => {
      if (signal) most = Math.max(most, getEventListeners(signal, 'abort').length);
    }, 1);
    const seen: string[] = [];
    const handler = (async (event: SQSEvent) => {
      seen.push(...event.Records.map((r) => r.body));
      await new Promise((r) => setTimeout(r, 200));
    }) as unknown as LambdaHandler;
    const fn = createLocalFunction({ plan: stubPlan('testQueueConsumer', 5), handler, log: silentLog });
    const p = new QueuePoller({
      fn,
      sqs: watched,
      queueUrl: queue.url,
      queueArn: queue.arn,
      region: 'us-east-1',
      batchSize: 100,
      maxBatchingWindowSeconds: 1,
      concurrency: 4,
      log: silentLog,
    });
    for (let i = 0; i < 40; i++) {
      await sqs.send(
        new SendMessageBatchCommand({ QueueUrl: queue.url, Entries: Array.from({ length: 10 }, (_, j) => ({ Id: String(j), MessageBody: `m-${i}-${j}` })) }),
      );
    }
    p.start();
    try {
      await eventually(() => expect(new Set(seen).size).toBe(400), { timeoutMs: 20_000 });
      // More than Node's default of 10 at once (it would warn of a leak), and no more than the poller allows for.
      expect(most).toBeGreaterThan(10);
      expect(most).toBeLessThanOrEqual(getMaxListeners(signal!));
    } finally {
      clearInterval(sampler);
      await p.stop();
    }
  });
});

describe('stream poller (Lambda DynamoDB stream event source mapping) and TTL sweep, against the stack DynamoDB Local', () => {
  let table: string;
  let streamArn: string;
  beforeAll(async () => {
    const { dynamodb } = await awsClients();
    table = newId('test-stream');
    const created = await dynamodb.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
      }),
    );
    await dynamodb.send(new UpdateTimeToLiveCommand({ TableName: table, TimeToLiveSpecification: { Enabled: true, AttributeName: 'expiresAt' } }));
    streamArn = created.TableDescription!.LatestStreamArn!;
  });
  afterAll(async () => {
    const { dynamodb } = await awsClients();
    await dynamodb.send(new DeleteTableCommand({ TableName: table }));
  });

  it('delivers filtered records in batches, retries from the first failure, gives up to the on-failure queue, and marks TTL deletions', async () => {
    const { dynamodb, streams } = await awsClients();
    const now = Math.floor(Date.now() / 1000);
    const batches: DynamoDBRecord[][] = [];
    const failures: StreamFailureRecord[] = [];
    let bFailedOnce = false;
    const handler = (async (event: DynamoDBStreamEvent) => {
      batches.push(event.Records);
      const failed = event.Records.filter((r) => {
        const pk = r.dynamodb?.Keys?.pk?.S;
        if (pk === 'poison') return true;
        if (pk === 'b' && !bFailedOnce) {
          bFailedOnce = true;
          return true;
        }
        return false;
      });
      return { batchItemFailures: failed.map((r) => ({ itemIdentifier: r.dynamodb!.SequenceNumber! })) };
    }) as unknown as LambdaHandler;
    const removals = new TtlRemovals();
    const fn = createLocalFunction({ plan: stubPlan('testStreamConsumer', 5), handler, log: silentLog });
    const p = new StreamPoller({
      fn,
      streams,
      streamArn,
      tableName: table,
      region: 'us-east-1',
      batchSize: 2,
      retryAttempts: 2,
      eventNames: ['INSERT', 'REMOVE'],
      onFailure: async (record) => {
        failures.push(record);
      },
      ttlRemovals: removals,
      retryBaseMs: 10,
      log: silentLog,
    });
    const put = (pk: string, extra: Record<string, { N: string } | { S: string }> = {}) =>
      dynamodb.send(new PutItemCommand({ TableName: table, Item: { pk: { S: pk }, ...extra } }));

    // Written before the poller starts, so its first read (TRIM_HORIZON) holds all three.
    await put('a');
    await put('b');
    await dynamodb.send(
      new UpdateItemCommand({ TableName: table, Key: { pk: { S: 'a' } }, UpdateExpression: 'SET n = :n', ExpressionAttributeValues: { ':n': { N: '1' } } }),
    );
    p.start();
    try {
      await eventually(() => expect(batches.flat().filter((r) => r.dynamodb?.Keys?.pk?.S === 'b')).toHaveLength(2));
      await put('poison');
      await eventually(() => expect(failures).toHaveLength(1));
      await put('expired', { expiresAt: { N: String(now - 10) } });
      await put('deleted-by-user');
      await put('alive', { expiresAt: { N: String(now + 3600) } });
      await eventually(() => expect(batches.flat().some((r) => r.dynamodb?.Keys?.pk?.S === 'alive')).toBe(true));
      const deleted = await sweepExpiredItems(dynamodb, [{ name: table, ttlAttribute: 'expiresAt', keyNames: ['pk'] }], now, removals);
      expect(deleted).toBe(1);
      await dynamodb.send(new DeleteItemCommand({ TableName: table, Key: { pk: { S: 'deleted-by-user' } } }));
      await eventually(() => expect(batches.flat().filter((r) => r.eventName === 'REMOVE')).toHaveLength(2));
    } finally {
      await p.stop();
    }

    const all = batches.flat();
    // MODIFY is filtered out; batches never exceed batchSize.
    expect(all.some((r) => r.eventName === 'MODIFY')).toBe(false);
    expect(Math.max(...batches.map((b) => b.length))).toBeLessThanOrEqual(2);
    // [a, b] failed at b: the retry starts at b.
    const firstB = batches.findIndex((b) => b.some((r) => r.dynamodb?.Keys?.pk?.S === 'b'));
    expect(batches[firstB]?.map((r) => r.dynamodb?.Keys?.pk?.S)).toEqual(['a', 'b']);
    expect(batches[firstB + 1]?.map((r) => r.dynamodb?.Keys?.pk?.S)).toEqual(['b']);
    // poison: one attempt and two retries, then the on-failure record.
    expect(all.filter((r) => r.dynamodb?.Keys?.pk?.S === 'poison')).toHaveLength(3);
    const poison = all.find((r) => r.dynamodb?.Keys?.pk?.S === 'poison')!;
    expect(failures[0]).toEqual({
      requestContext: { requestId: expect.any(String), functionArn: fn.functionArn, condition: 'RetryAttemptsExhausted', approximateInvokeCount: 3 },
      responseContext: { statusCode: 200, executedVersion: '$LATEST' },
      version: '1.0',
      timestamp: expect.any(String),
      DDBStreamBatchInfo: {
        shardId: expect.any(String),
        startSequenceNumber: poison.dynamodb?.SequenceNumber,
        endSequenceNumber: poison.dynamodb?.SequenceNumber,
        approximateArrivalOfFirstRecord: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
        approximateArrivalOfLastRecord: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
        batchSize: 1,
        streamArn,
      },
    });
    // Real record shape, with what DynamoDB Local leaves out added.
    const insert = all.find((r) => r.dynamodb?.Keys?.pk?.S === 'alive')!;
    expect(insert).toEqual({
      eventID: expect.any(String),
      eventName: 'INSERT',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: 'us-east-1',
      dynamodb: {
        ApproximateCreationDateTime: expect.any(Number),
        Keys: { pk: { S: 'alive' } },
        NewImage: { pk: { S: 'alive' }, expiresAt: { N: String(now + 3600) } },
        SequenceNumber: expect.any(String),
        SizeBytes: expect.any(Number),
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
      eventSourceARN: streamArn,
    });
    const removes = all.filter((r) => r.eventName === 'REMOVE');
    const byTtl = removes.find((r) => r.dynamodb?.Keys?.pk?.S === 'expired');
    const byUser = removes.find((r) => r.dynamodb?.Keys?.pk?.S === 'deleted-by-user');
    expect(byTtl?.userIdentity).toEqual({ type: 'Service', principalId: 'dynamodb.amazonaws.com' });
    expect(byTtl?.dynamodb?.OldImage).toEqual({ pk: { S: 'expired' }, expiresAt: { N: String(now - 10) } });
    expect(byUser).toBeDefined();
    expect(byUser?.userIdentity).toBeUndefined();
    expect((await dynamodb.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'alive' } } }))).Item).toBeDefined();
  });

  it('reads nothing while held: records wait in the stream and are delivered once released', async () => {
    const { dynamodb, streams } = await awsClients();
    const seen: string[] = [];
    const handler = (async (event: DynamoDBStreamEvent) => {
      for (const r of event.Records) seen.push(r.dynamodb?.Keys?.pk?.S ?? '');
      return { batchItemFailures: [] };
    }) as unknown as LambdaHandler;
    const fn = createLocalFunction({ plan: stubPlan('testHeldStreamConsumer', 5), handler, log: silentLog });
    const p = new StreamPoller({
      fn,
      streams,
      streamArn,
      tableName: table,
      region: 'us-east-1',
      batchSize: 10,
      retryAttempts: 0,
      onFailure: async () => {},
      log: silentLog,
    });
    const marker = newId('held');
    p.start();
    try {
      await dynamodb.send(new PutItemCommand({ TableName: table, Item: { pk: { S: `${marker}-before` } } }));
      await eventually(() => expect(seen).toContain(`${marker}-before`), { timeoutMs: 10_000 });
      p.hold();
      await dynamodb.send(new PutItemCommand({ TableName: table, Item: { pk: { S: `${marker}-held` } } }));
      // Several of the poller's idle periods (100 ms) pass: nothing is read.
      await new Promise((done) => setTimeout(done, 1_000));
      expect(seen).not.toContain(`${marker}-held`);
      p.release();
      await eventually(() => expect(seen).toContain(`${marker}-held`), { timeoutMs: 10_000 });
      expect(seen.filter((pk) => pk === `${marker}-held`)).toHaveLength(1);
    } finally {
      await p.stop();
    }
  });
});

describe('gateway with stub functions: the payload 2.0 event, the context and the result mapping', () => {
  let gateway: Gateway;
  let identity: LocalIdentity;
  const events: Record<string, APIGatewayProxyEventV2WithJWTAuthorizer> = {};
  const contexts: Record<string, { functionName: string; invokedFunctionArn: string; memoryLimitInMB: string; awsRequestId: string; remaining: number }> = {};
  const record = (key: string) =>
    (async (event: APIGatewayProxyEventV2WithJWTAuthorizer, context: import('aws-lambda').Context) => {
      events[key] = event;
      contexts[key] = { ...context, remaining: context.getRemainingTimeInMillis() };
      return { statusCode: 201, headers: { 'x-echo': 'yes' }, body: '{"ok":true}' };
    }) as unknown as LambdaHandler;
  const stub = (name: string, handler: LambdaHandler, timeoutSeconds = 5) =>
    createLocalFunction({ plan: stubPlan(name, timeoutSeconds), handler, log: silentLog });

  beforeAll(async () => {
    identity = await LocalIdentity.create();
    gateway = await startGateway(
      {
        verifier: identity,
        log: silentLog,
        routes: [
          { method: 'GET', path: '/items/{id}', auth: ['user'], fn: stub('getItem', record('getItem')) },
          { method: 'GET', path: '/items/special', auth: 'public', fn: stub('special', record('special')) },
          { method: 'POST', path: '/upload', auth: 'public', fn: stub('upload', record('upload')) },
          { method: 'GET', path: '/plain', auth: 'public', fn: stub('plain', (async () => ({ hello: 'world' })) as unknown as LambdaHandler) },
          {
            method: 'GET',
            path: '/slow',
            auth: 'public',
            fn: stub('slow', (async () => new Promise((r) => setTimeout(r, 3_000))) as unknown as LambdaHandler, 1),
          },
          {
            method: 'GET',
            path: '/boom',
            auth: 'public',
            fn: stub('boom', (async () => {
              throw new Error('secret table name and stack');
            }) as unknown as LambdaHandler),
          },
          {
            method: 'GET',
            path: '/binary',
            auth: 'public',
            fn: stub('binary', (async () => ({
              statusCode: 200,
              headers: { 'content-type': 'image/png' },
              cookies: ['a=1; Path=/', 'b=2; Path=/'],
              body: Buffer.from([0, 1, 2, 255]).toString('base64'),
              isBase64Encoded: true,
            })) as unknown as LambdaHandler),
          },
          { method: 'GET', path: '/malformed', auth: 'public', fn: stub('malformed', (async () => ({ statusCode: 'teapot' })) as unknown as LambdaHandler) },
        ],
        defaultFunction: stub('fallback', (async () => ({ statusCode: 404, body: 'fallback' })) as unknown as LambdaHandler),
      },
      { port: 0, host: '127.0.0.1' },
    );
  });
  afterAll(async () => {
    await gateway.close();
  });

  /** node:http, to send repeated headers as separate lines. */
  function rawGet(path: string, headers: Record<string, string | string[]>): Promise<number> {
    return new Promise((done, fail) => {
      const req = httpRequest(`${gateway.url}${path}`, { method: 'GET' }, (res) => {
        res.resume();
        res.on('end', () => done(res.statusCode ?? 0));
      });
      for (const [name, value] of Object.entries(headers)) req.setHeader(name, value);
      req.on('error', fail);
      req.end();
    });
  }

  it('builds the API Gateway payload 2.0 event, with the authorizer claims as strings, and a Lambda context', async () => {
    const token = await identity.issue({ sub: 'u-42', role: 'user' });

    const status = await rawGet('/items/hello%20world?a=1&a=2&b=x%2By', {
      authorization: `Bearer ${token}`,
      'x-multi': ['one', 'two'],
      cookie: 'c1=v1; c2=v2',
      'user-agent': 'jest-test',
    });

    expect(status).toBe(201);
    const event = events.getItem!;
    expect(event).toEqual({
      version: '2.0',
      routeKey: 'GET /items/{id}',
      rawPath: '/items/hello%20world',
      rawQueryString: 'a=1&a=2&b=x%2By',
      cookies: ['c1=v1', 'c2=v2'],
      headers: expect.objectContaining({
        'x-multi': 'one,two',
        'user-agent': 'jest-test',
        'x-forwarded-proto': 'http',
        'x-forwarded-for': '127.0.0.1',
        'x-amzn-trace-id': expect.stringMatching(/^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$/),
      }),
      queryStringParameters: { a: '1,2', b: 'x+y' },
      pathParameters: { id: 'hello world' },
      requestContext: {
        accountId: '000000000000',
        apiId: expect.any(String),
        authorizer: {
          jwt: {
            claims: expect.objectContaining({
              sub: 'u-42',
              role: 'user',
              iss: LOCAL_ISSUER,
              aud: LOCAL_AUDIENCE,
              iat: expect.stringMatching(/^\d+$/),
              exp: expect.stringMatching(/^\d+$/),
            }),
            scopes: null,
          },
        },
        domainName: '127.0.0.1',
        domainPrefix: '127',
        http: { method: 'GET', path: '/items/hello%20world', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'jest-test' },
        requestId: expect.any(String),
        routeKey: 'GET /items/{id}',
        stage: '$default',
        time: expect.stringMatching(/^\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d \+0000$/),
        timeEpoch: expect.any(Number),
      },
      isBase64Encoded: false,
    });
    expect(event.headers.cookie).toBeUndefined();
    expect(contexts.getItem).toEqual(
      expect.objectContaining({
        functionName: 'local-getItem',
        functionVersion: '$LATEST',
        invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:local-getItem',
        memoryLimitInMB: '256',
        awsRequestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        logGroupName: '/aws/lambda/local-getItem',
        callbackWaitsForEmptyEventLoop: true,
      }),
    );
    expect(contexts.getItem!.remaining).toBeGreaterThan(4_000);
    expect(contexts.getItem!.remaining).toBeLessThanOrEqual(5_000);
  });

  it('prefers a literal route over a parameter and gives public routes no authorizer', async () => {
    const response = await fetch(`${gateway.url}/items/special`, { headers: { authorization: 'Bearer whatever' } });

    expect(response.status).toBe(201);
    expect(events.special?.routeKey).toBe('GET /items/special');
    expect(events.special?.requestContext.authorizer).toBeUndefined();
    expect(events.special?.pathParameters).toBeUndefined();
  });

  it('passes text bodies as they are and other bodies base64-encoded', async () => {
    await fetch(`${gateway.url}/upload`, { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8' }, body: '{"a":1}' });
    const json = events.upload!;
    await fetch(`${gateway.url}/upload`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from([1, 2, 3]) });
    const binary = events.upload!;

    expect(json).toEqual(expect.objectContaining({ body: '{"a":1}', isBase64Encoded: false }));
    expect(binary).toEqual(expect.objectContaining({ body: Buffer.from([1, 2, 3]).toString('base64'), isBase64Encoded: true }));
  });

  it('maps results like API Gateway: plain values to 200 JSON, structured ones with headers, cookies and base64 bodies', async () => {
    const plain = await fetch(`${gateway.url}/plain`);
    const binary = await fetch(`${gateway.url}/binary`);

    expect(plain.status).toBe(200);
    expect(plain.headers.get('content-type')).toBe('application/json');
    expect(await plain.json()).toEqual({ hello: 'world' });
    expect(binary.status).toBe(200);
    expect(binary.headers.get('content-type')).toBe('image/png');
    expect(binary.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2; Path=/']);
    expect([...new Uint8Array(await binary.arrayBuffer())]).toEqual([0, 1, 2, 255]);
  });

  it.each(['/slow', '/boom', '/malformed'])('answers %s (timeout, throw, malformed result) with a bare 500 problem', async (path) => {
    const response = await fetch(`${gateway.url}${path}`);
    const text = await response.text();

    expect(response.status).toBe(500);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(JSON.parse(text)).toEqual(internalError().toDocument());
    expect(text).not.toMatch(/secret|table name|timed out|teapot/i);
  });

  it('sends what no route matches to the $default function', async () => {
    const response = await fetch(`${gateway.url}/items`, { method: 'DELETE' });

    expect(response.status).toBe(404);
    expect(await response.text()).toBe('fallback');
  });
});

describe('a private stack: the clock, the TTL sweep with a moved clock, and shutdown', () => {
  let stack: PrivateStack;
  beforeAll(async () => {
    stack = await startStack();
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it('moves the clock every function reads, and the TTL sweep follows it', async () => {
    const { dynamodb } = await stack.clients();
    const [name, spec] = ttlTable ?? [];
    const id = newId('ttl-later');
    const key = spec ? { [spec.partitionKey.name]: { S: id } } : {};
    if (spec && name) {
      await dynamodb.send(
        new PutItemCommand({ TableName: tableName(name), Item: { ...key, expiresAt: { N: String(Math.floor(Date.now() / 1000) + 86_400) } } }),
      );
      expect((await stack.api('POST', '/_local/ttl-sweep')).json).toEqual({ deleted: 0 });
    }

    const moved = await stack.api('POST', '/_local/clock', { body: { advanceSeconds: 2_592_001 } });

    expect(moved.status).toBe(200);
    expect(Date.parse(moved.json.now) - Date.now()).toBeGreaterThan(2_592_001_000 - 10_000);
    expect((await stack.health()).clock.offsetSeconds).toBe(2_592_001);
    if (spec && name) {
      expect((await stack.api('POST', '/_local/ttl-sweep')).json).toEqual({ deleted: 1 });
      expect((await dynamodb.send(new GetItemCommand({ TableName: tableName(name), Key: key }))).Item).toBeUndefined();
    }
    // Tokens are still checked against the wall clock, not the moved one.
    const token = await stack.tokenFor('user', newId('u'));
    if (protectedGet) expect((await stack.api('GET', protectedGet.path, { token })).status).not.toBe(401);
  });

  it('stops on SIGTERM with exit code 0 and leaves no Java process behind', async () => {
    const java = childProcesses(stack.pid).filter((p) => /DynamoDBLocal\.jar/.test(p.command));
    expect(java).toHaveLength(1);

    const exit = await stack.stop('SIGTERM');

    expect(exit).toEqual({ code: 0, signal: null });
    await eventually(() => expect(isAlive(java[0]!.pid)).toBe(false), { timeoutMs: 5_000 });
  });
});

describe('a private stack killed with SIGKILL', () => {
  it('still takes its Java process with it', async () => {
    const stack = await startStack();
    const java = childProcesses(stack.pid).filter((p) => /DynamoDBLocal\.jar/.test(p.command));
    expect(java).toHaveLength(1);

    const exit = await stack.stop('SIGKILL');

    expect(exit.signal).toBe('SIGKILL');
    await eventually(() => expect(isAlive(java[0]!.pid)).toBe(false), { timeoutMs: 10_000 });
  }, 60_000);
});
