/**
 * Fault tolerance on a private local stack (faults are injected with
 * `POST /_local/faults`, local/faults.ts, so no other test file sees them):
 * functions killed before and halfway through their work, poison messages
 * and their redrive, and throttled or failing SDK calls.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { DeleteCommand, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageBatchCommand, type Message } from '@aws-sdk/client-sqs';
import { catalog, type FunctionSpec, type QueueName } from '../../catalog';
import { eventually, newId, queueUrl, REPO_ROOT, startStack, tableName, type AwsClients, type PrivateStack } from './support';
import { createUser, ensurePolicy, mapLimit, phoneHash, type TestUser } from './support/users';
import { idempotencyKey, stateKey } from '../../functions/tables/consent-states';
import { appliedKey, indexKey } from '../../functions/tables/match-index';
import { suggestionKey } from '../../functions/tables/suggestions';
import { audienceKey } from '../../functions/tables/audiences';
import { membershipKey } from '../../functions/tables/memberships';
import { call, createAudience, createPeople, newBusiness, newSessionId, rowOf, upload, waitForSession } from './audiences.helpers';

const run = promisify(execFile);
const functionSpecs: Record<string, FunctionSpec> = catalog.functions;
const publisher = functionSpecs.publishAccountEvents!;
if (publisher.trigger.kind !== 'stream') throw new Error('publishAccountEvents is expected to be a stream trigger');
const PUBLISHER_RETRY_ATTEMPTS = publisher.trigger.retryAttempts;

let stack: PrivateStack;
let aws: AwsClients;
let baseUrl: string;
let policyVersion: string;

beforeAll(async () => {
  stack = await startStack();
  baseUrl = stack.url;
  aws = await stack.clients();
  policyVersion = await ensurePolicy(baseUrl);
}, 90_000);

afterAll(async () => {
  await stack?.stop();
});

afterEach(async () => {
  await stack.api('DELETE', '/_local/faults');
});

// ------------------------------------------------------------------ helpers

async function inject(fault: Record<string, unknown>): Promise<void> {
  const res = await stack.api('POST', '/_local/faults', { body: fault });
  if (res.status !== 200) throw new Error(`POST /_local/faults answered ${res.status}: ${res.text}`);
}

interface FaultState {
  failInvocations: { function: string; remaining: number; fired: number }[];
  crashes: { function: string; command: string; count: number; calls: number; fired: boolean }[];
  serviceFaults: { service: string; kind: string; remaining: number; fired: number; function?: string; command?: string }[];
}
const faultState = async (): Promise<FaultState> => (await stack.api<FaultState>('GET', '/_local/faults')).json;

const decide = (user: TestUser, purposes: Record<string, string>, headers: Record<string, string> = {}) =>
  stack.api('PUT', '/v1/me/consent', { token: user.token, body: { policyVersion, purposes, source: 'settings' }, headers });

const indexStateOf = async (userId: string) =>
  (await aws.ddb.send(new GetCommand({ TableName: tableName('matchIndex'), Key: appliedKey(userId), ConsistentRead: true }))).Item;
const indexHolder = async (key: string) =>
  (await aws.ddb.send(new GetCommand({ TableName: tableName('matchIndex'), Key: indexKey(key), ConsistentRead: true }))).Item?.userId as string | undefined;
const suggestionsOf = async (userId: string) =>
  (await aws.ddb.send(new GetCommand({ TableName: tableName('suggestions'), Key: suggestionKey(userId), ConsistentRead: true }))).Item;
const accountOf = async (userId: string) =>
  (await aws.ddb.send(new GetCommand({ TableName: tableName('consentStates'), Key: stateKey(userId), ConsistentRead: true }))).Item;
const receiptsOf = async (userId: string) =>
  (
    (
      await aws.ddb.send(
        new QueryCommand({
          TableName: tableName('ledger'),
          KeyConditionExpression: 'userId = :u',
          ExpressionAttributeValues: { ':u': userId },
          ConsistentRead: true,
        }),
      )
    ).Items ?? []
  ).filter((i) => i.kind === 'receipt');

/** Messages of a queue, received and left in place (visibility 0), or taken out with `remove`. */
async function peek(queue: QueueName, options: { deadLetter?: boolean; remove?: boolean } = {}): Promise<Message[]> {
  const url = await queueUrl(queue, { deadLetter: options.deadLetter ?? false, baseUrl });
  const out = await aws.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: url,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 1,
      VisibilityTimeout: options.remove ? 30 : 0,
      MessageAttributeNames: ['All'],
    }),
  );
  const messages = out.Messages ?? [];
  if (options.remove) for (const m of messages) await aws.sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: m.ReceiptHandle! }));
  return messages;
}

async function redrive(queue: QueueName): Promise<{ moved: number; received: number; failed: number }> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'scripts/redrive.ts', queue, '--url', baseUrl, '--json', '--timeout', '60'], {
    cwd: REPO_ROOT,
    timeout: 90_000,
  });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

// ------------------------------------------------------------------ the fault route itself

describe('POST /_local/faults (local stack only)', () => {
  it.each([
    ['an empty object', {}],
    ['an unknown function', { function: 'noSuchFunction', failInvocations: 1 }],
    ['a count of zero', { function: 'putConsent', failInvocations: 0 }],
    ['a fractional count', { function: 'putConsent', failInvocations: 1.5 }],
    ['an unknown service', { service: 's3', throttle: 1 }],
    ['both throttle and serverErrors', { service: 'dynamodb', throttle: 1, serverErrors: 1 }],
    ['neither throttle nor serverErrors', { service: 'dynamodb' }],
    ['a command that is not a name', { function: 'putConsent', crashAfterCalls: { command: 'rm -rf /', count: 1 } }],
    ['an unknown field', { function: 'putConsent', failInvocations: 1, extra: true }],
  ])('refuses %s with a 400 problem document', async (_what, body) => {
    const res = await stack.api('POST', '/_local/faults', { body });

    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.json).toEqual(
      expect.objectContaining({ type: expect.any(String), title: expect.any(String), status: 400, detail: expect.any(String), errors: expect.any(Array) }),
    );
    expect((await faultState()).failInvocations).toEqual([]);
  });

  it('answers 415, malformed JSON 400, another method 405; GET shows and DELETE clears the faults', async () => {
    expect((await stack.api('POST', '/_local/faults', { rawBody: 'function=x', headers: { 'content-type': 'text/plain' } })).status).toBe(415);
    expect((await stack.api('POST', '/_local/faults', { rawBody: '{"function":', headers: { 'content-type': 'application/json' } })).status).toBe(400);
    const put = await stack.api('PUT', '/_local/faults', { body: {} });
    expect(put.status).toBe(405);
    expect(put.headers.allow).toBe('GET, POST, DELETE');

    await inject({ function: 'putConsent', failInvocations: 2 });
    await inject({ function: 'matchAudienceBatch', crashAfterCalls: { command: 'BatchWriteCommand', count: 2 } });
    await inject({ service: 'sqs', serverErrors: 3, function: 'sendMessage', command: 'SendMessageCommand' });
    expect(await faultState()).toEqual({
      failInvocations: [{ function: 'putConsent', remaining: 2, fired: 0 }],
      crashes: [expect.objectContaining({ function: 'matchAudienceBatch', command: 'BatchWriteItemCommand', count: 2, calls: 0, fired: false })],
      serviceFaults: [
        expect.objectContaining({ service: 'sqs', kind: 'serverError', remaining: 3, fired: 0, function: 'sendMessage', command: 'SendMessageCommand' }),
      ],
    });

    const cleared = await stack.api('DELETE', '/_local/faults');
    expect(cleared.status).toBe(200);
    expect(cleared.json).toEqual({ failInvocations: [], crashes: [], serviceFaults: [] });
  });
});

// ------------------------------------------------------------------ the outbox

describe('a publisher killed between the consent write and the fan-out', () => {
  it('loses nothing: every decision still reaches every consumer', async () => {
    // Prepare: a user with a phone and an email; the publisher dies 4 times in a row
    const ana = await createUser({ baseUrl, email: true });
    await inject({ function: 'publishAccountEvents', failInvocations: 4 });

    // Act: three decisions, recorded while the publisher keeps dying
    const choices = [
      { ads_targeting: 'granted', friend_suggestions: 'granted' },
      { ads_targeting: 'denied', friend_suggestions: 'granted' },
      { ads_targeting: 'granted', friend_suggestions: 'denied' },
    ];
    for (const purposes of choices) expect((await decide(ana, purposes)).status).toBe(200);

    // Assess: the publisher was killed 4 times, and every consumer still applied the last version
    await eventually(async () => expect((await faultState()).failInvocations).toEqual([{ function: 'publishAccountEvents', remaining: 0, fired: 4 }]), {
      timeoutMs: 30_000,
    });
    await eventually(
      async () => {
        expect(await indexStateOf(ana.userId)).toEqual(
          expect.objectContaining({ appliedVersion: 3, keys: expect.arrayContaining([expect.any(String), expect.any(String)]) }),
        );
        expect(await suggestionsOf(ana.userId)).toEqual(expect.objectContaining({ appliedVersion: 3, allowed: false }));
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    for (const key of (await indexStateOf(ana.userId))!.keys as string[]) expect(await indexHolder(key)).toBe(ana.userId);
    expect((await receiptsOf(ana.userId)).map((r) => r.version)).toEqual([1, 2, 3]);
    expect(await peek('ledgerStreamFailures')).toEqual([]);
  }, 90_000);

  it(`replays the records it gave up on after ${PUBLISHER_RETRY_ATTEMPTS} retry attempts: every consumer hears of the decision without the user's next change`, async () => {
    // Prepare: a user whose earlier events are all published; the publisher fails every attempt at the next batch
    const bob = await createUser({ baseUrl });
    await eventually(async () => expect(await indexStateOf(bob.userId)).toBeDefined(), { timeoutMs: 30_000 });
    await inject({ function: 'publishAccountEvents', failInvocations: PUBLISHER_RETRY_ATTEMPTS + 1 });

    // Act: one decision, and nothing else
    const first = await decide(bob, { ads_targeting: 'granted', friend_suggestions: 'granted' });
    expect(first.status).toBe(200);

    // Assess: the trigger gave up, its on-failure record was replayed from the stream, and every consumer applied version 1
    await eventually(
      async () =>
        expect((await faultState()).failInvocations).toEqual([{ function: 'publishAccountEvents', remaining: 0, fired: PUBLISHER_RETRY_ATTEMPTS + 1 }]),
      { timeoutMs: 45_000 },
    );
    await eventually(
      async () => {
        expect(await indexStateOf(bob.userId)).toEqual(expect.objectContaining({ appliedVersion: 1, keys: [expect.any(String)] }));
        expect(await suggestionsOf(bob.userId)).toEqual(expect.objectContaining({ appliedVersion: 1, allowed: true }));
      },
      { timeoutMs: 45_000, intervalMs: 250 },
    );
    expect((await receiptsOf(bob.userId)).map((r) => r.version)).toEqual([1]);
    expect(await peek('ledgerStreamFailures')).toEqual([]);
    expect(await peek('ledgerStreamFailures', { deadLetter: true })).toEqual([]);
  }, 120_000);

  it('dead-letters an on-failure record whose replay keeps failing, with no data of the user in it; redrive replays it once fixed', async () => {
    // Prepare: the publisher gives up on the next batch, and its replayer fails every try SQS gives it
    const cy = await createUser({ baseUrl });
    await eventually(async () => expect(await indexStateOf(cy.userId)).toBeDefined(), { timeoutMs: 30_000 });
    const replayTries = catalog.queues.ledgerStreamFailures.maxReceiveCount;
    await inject({ function: 'publishAccountEvents', failInvocations: PUBLISHER_RETRY_ATTEMPTS + 1 });
    await inject({ function: 'replayAccountEvents', failInvocations: replayTries });

    // Act
    expect((await decide(cy, { ads_targeting: 'granted', friend_suggestions: 'granted' })).status).toBe(200);

    // Assess: Lambda's on-failure record, pointing at the stream records, ends in the failure queue's dead-letter queue
    const [failure] = await eventually(
      async () => {
        const found = await peek('ledgerStreamFailures', { deadLetter: true });
        expect(found).toHaveLength(1);
        return found;
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    const record = JSON.parse(failure!.Body!);
    expect(record).toEqual(
      expect.objectContaining({
        requestContext: expect.objectContaining({ condition: 'RetryAttemptsExhausted', approximateInvokeCount: PUBLISHER_RETRY_ATTEMPTS + 1 }),
        responseContext: expect.objectContaining({ functionError: 'Unhandled' }),
        DDBStreamBatchInfo: expect.objectContaining({ batchSize: 1, shardId: expect.any(String), startSequenceNumber: expect.any(String) }),
      }),
    );
    // The record holds no data of the user: only where to find it.
    expect(failure!.Body).not.toContain(cy.userId);
    // The decision is recorded, but no consumer heard of it yet.
    expect((await receiptsOf(cy.userId)).map((r) => r.version)).toEqual([1]);
    expect(await suggestionsOf(cy.userId)).toBeUndefined();
    expect((await indexStateOf(cy.userId))?.appliedVersion).toBe(0);

    // Act: redrive, the replayer working again
    expect(await redrive('ledgerStreamFailures')).toEqual(expect.objectContaining({ moved: 1, failed: 0 }));

    // Assess: the stream still held the record (24 h on AWS): every consumer now has version 1
    await eventually(
      async () => {
        expect(await indexStateOf(cy.userId)).toEqual(expect.objectContaining({ appliedVersion: 1, keys: [expect.any(String)] }));
        expect(await suggestionsOf(cy.userId)).toEqual(expect.objectContaining({ appliedVersion: 1, allowed: true }));
      },
      { timeoutMs: 45_000, intervalMs: 250 },
    );
  }, 180_000);
});

// ------------------------------------------------------------------ poison messages and redrive

describe('poison messages', () => {
  it('are retried, then dead-lettered, while the rest of their batch is processed; redrive brings them back once fixed', async () => {
    // Prepare: two users in the match index
    const [cat, dog] = await Promise.all([createUser({ baseUrl, ads: 'granted' }), createUser({ baseUrl, ads: 'granted', email: true })]);
    await eventually(
      async () => {
        expect((await indexStateOf(cat.userId))?.keys).toHaveLength(1);
        expect((await indexStateOf(dog.userId))?.keys).toHaveLength(2);
      },
      { timeoutMs: 30_000 },
    );
    const [catKey] = (await indexStateOf(cat.userId))!.keys as string[];
    const dogKeys = (await indexStateOf(dog.userId))!.keys as string[];
    // Corrupt state behind the service's back: a stale entry of someone else holds cat's key, and cat's applied state is gone.
    const matchIndex = tableName('matchIndex');
    await aws.ddb.send(new PutCommand({ TableName: matchIndex, Item: { ...indexKey(catKey!), userId: newId('stale-holder') } }));
    await aws.ddb.send(new DeleteCommand({ TableName: matchIndex, Key: appliedKey(cat.userId) }));
    // ...and dog's entries are gone, which a good event repairs.
    for (const key of dogKeys) await aws.ddb.send(new DeleteCommand({ TableName: matchIndex, Key: indexKey(key) }));
    await aws.ddb.send(new DeleteCommand({ TableName: matchIndex, Key: appliedKey(dog.userId) }));

    // Act: one batch with the poison event and a good one
    const poisonId = newId('poison');
    const event = (userId: string, eventId = newId('e')) =>
      JSON.stringify({ type: 'IdentifiersChanged', eventId, userId, occurredAt: new Date().toISOString() });
    const attributes = { type: { DataType: 'String', StringValue: 'IdentifiersChanged' } };
    await aws.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: await queueUrl('matchIndexEvents', { baseUrl }),
        Entries: [
          { Id: 'poison', MessageBody: event(cat.userId, poisonId), MessageAttributes: attributes },
          { Id: 'good', MessageBody: event(dog.userId), MessageAttributes: attributes },
        ],
      }),
    );

    // Assess: the good one is applied at once; the poison one dead-letters after maxReceiveCount receives
    await eventually(
      async () => {
        for (const key of dogKeys) expect(await indexHolder(key)).toBe(dog.userId);
      },
      { timeoutMs: 15_000 },
    );
    // (Any late event of cat's own, still queued when the state was corrupted, fails the same way and dead-letters too.)
    const dead = await eventually(
      async () => {
        const found = (await peek('matchIndexEvents', { deadLetter: true })).filter((m) => m.Body?.includes(cat.userId));
        expect(found.map((m) => JSON.parse(m.Body!).eventId)).toContain(poisonId);
        return found;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(dead.find((m) => m.Body!.includes(poisonId))!.MessageAttributes?.type?.StringValue).toBe('IdentifiersChanged');
    expect(await indexStateOf(cat.userId)).toBeUndefined();

    // Fix: the stale entry goes; then redrive
    await aws.ddb.send(new DeleteCommand({ TableName: matchIndex, Key: indexKey(catKey!) }));
    const moved = await redrive('matchIndexEvents');

    expect(moved).toEqual(expect.objectContaining({ failed: 0 }));
    expect(moved.moved).toBeGreaterThanOrEqual(dead.length);
    await eventually(
      async () => {
        expect(await indexStateOf(cat.userId)).toEqual(expect.objectContaining({ appliedVersion: 1, keys: [catKey] }));
        expect(await indexHolder(catKey!)).toBe(cat.userId);
      },
      { timeoutMs: 20_000 },
    );
    expect(await peek('matchIndexEvents', { deadLetter: true })).toEqual([]);
  }, 150_000);

  it("dead-letters an audience's chunks to the FIFO dead-letter queue with their group while the matcher fails; redrive brings them back and they are matched", async () => {
    // Prepare: a consenting person, an audience, and a matcher that fails every invocation
    const stackRef = { baseUrl };
    const [person] = await createPeople(stackRef, 1, 'granted');
    await eventually(async () => expect((await indexStateOf(person!.userId))?.keys).toHaveLength(2), { timeoutMs: 30_000 });
    const business = await newBusiness(stackRef);
    const audienceId = await createAudience(stackRef, business);
    await inject({ function: 'matchAudienceBatch', failInvocations: 1000 });
    // Act: an upload; its chunk fails maxReceiveCount receives
    const sessionId = newSessionId();
    expect((await upload(stackRef, business, audienceId, { sessionId, rows: [rowOf(person!)] })).status).toBe(202);
    const deadLetterUrl = await queueUrl('audienceMatching', { deadLetter: true, baseUrl });
    const dead = await eventually(
      async () => {
        const out = await aws.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: deadLetterUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 1,
            VisibilityTimeout: 0,
            MessageSystemAttributeNames: ['MessageGroupId'],
          }),
        );
        const found = (out.Messages ?? []).filter((m) => m.Body?.includes(audienceId));
        expect(found).toHaveLength(1);
        return found[0]!;
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    // Assess: it kept its group (the audience), and the chunk carries match keys, not the uploaded hashes
    expect(dead.Attributes?.MessageGroupId).toBe(audienceId);
    for (const hash of rowOf(person!)) expect(dead.Body).not.toContain(hash);
    expect((await call(stackRef, 'GET', `/v1/audiences/${audienceId}/sessions/${sessionId}`, business.token)).json.stage).not.toBe('done');
    // Fix, then redrive: the chunk is matched once
    await stack.api('DELETE', '/_local/faults');
    const moved = await redrive('audienceMatching');
    expect(moved).toEqual(expect.objectContaining({ moved: 1, failed: 0 }));
    await waitForSession(stackRef, business, audienceId, sessionId);
    const membership = await aws.ddb.send(
      new GetCommand({ TableName: tableName('audienceMemberships'), Key: membershipKey(person!.userId, audienceId), ConsistentRead: true }),
    );
    expect(membership.Item).toEqual(expect.objectContaining({ audienceId, userId: person!.userId }));
    const audience = await aws.ddb.send(
      new GetCommand({ TableName: tableName('audiences'), Key: audienceKey(business.sub, audienceId), ConsistentRead: true }),
    );
    expect(audience.Item?.expiring).toEqual({ [Object.keys(audience.Item!.expiring as object)[0]!]: 1 });
    expect(audience.Item?.leaseId).toBeUndefined();
  }, 180_000);

  it('a consumer that fails every receive dead-letters the event; once it is fixed, redrive delivers it', async () => {
    // Prepare: the suggestions consumer dies on every invocation
    const eve = await createUser({ baseUrl });
    await inject({ function: 'applySuggestions', failInvocations: 1000 });

    // Act
    expect((await decide(eve, { friend_suggestions: 'granted' })).status).toBe(200);

    // Assess: the event is dead-lettered with its attributes, the consumer never applied it
    await eventually(async () => expect((await peek('suggestionsEvents', { deadLetter: true })).filter((m) => m.Body?.includes(eve.userId))).toHaveLength(1), {
      timeoutMs: 60_000,
      intervalMs: 500,
    });
    expect(await suggestionsOf(eve.userId)).toBeUndefined();

    // Fix and redrive
    await stack.api('DELETE', '/_local/faults');
    expect(await redrive('suggestionsEvents')).toEqual(expect.objectContaining({ moved: 1, failed: 0 }));
    await eventually(async () => expect(await suggestionsOf(eve.userId)).toEqual(expect.objectContaining({ appliedVersion: 1, allowed: true })), {
      timeoutMs: 20_000,
    });
  }, 120_000);

  it('redrive refuses a queue the catalog does not have and says which exist', async () => {
    const failed = await run(process.execPath, ['--import', 'tsx', 'scripts/redrive.ts', 'noSuchQueue', '--url', baseUrl], { cwd: REPO_ROOT }).catch(
      (e: { code: number; stderr: string }) => e,
    );

    expect(failed).toEqual(expect.objectContaining({ code: 1, stderr: expect.stringContaining('Unknown queue "noSuchQueue"') }));
    expect((failed as { stderr: string }).stderr).toContain('matchIndexEvents');
  }, 60_000);
});

// ------------------------------------------------------------------ the matcher killed halfway

const audienceItem = async (businessId: string, audienceId: string) =>
  (await aws.ddb.send(new GetCommand({ TableName: tableName('audiences'), Key: audienceKey(businessId, audienceId), ConsistentRead: true }))).Item!;
/** The audience's exact member count, as kept inside (per expiry day). */
const exactCount = (audience: Record<string, unknown>) => Object.values((audience.expiring ?? {}) as Record<string, number>).reduce((a, b) => a + b, 0);
async function membersOf(audienceId: string): Promise<Record<string, unknown>[]> {
  const members: Record<string, unknown>[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await aws.ddb.send(
      new QueryCommand({
        TableName: tableName('audienceMemberships'),
        IndexName: 'byAudience',
        KeyConditionExpression: 'audienceId = :a',
        ExpressionAttributeValues: { ':a': audienceId },
        ExclusiveStartKey,
      }),
    );
    members.push(...(page.Items ?? []));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return members;
}

describe('the matcher killed halfway through a batch', () => {
  it('leaves exact counts after the retry: no member counted twice or lost', async () => {
    // Prepare: consenting and refusing users in the match index, and a business's audience
    const consenting = await mapLimit(Array.from({ length: 30 }), 6, () => createUser({ baseUrl, ads: 'granted', policyVersion }));
    const refusing = await mapLimit(Array.from({ length: 6 }), 6, () => createUser({ baseUrl, ads: 'denied', policyVersion }));
    await eventually(
      async () => {
        for (const u of consenting) expect((await indexStateOf(u.userId))?.keys).toHaveLength(1);
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    const business = await stack.tokenFor('business', newId('biz'));
    const created = await stack.api('POST', '/v1/audiences', { token: business, body: { name: 'Crash test', customerFileSource: 'USER_PROVIDED_ONLY' } });
    expect(created.status).toBe(201);
    const audienceId = created.json.id as string;
    const businessId = JSON.parse(Buffer.from(business.split('.')[1]!, 'base64url').toString()).sub as string;
    const strangers = Array.from({ length: 4 }, (_, i) => phoneHash(`+1999555${String(1000 + i)}`));
    const rows = [...consenting, ...refusing].map((u) => [phoneHash(u.phoneNumber!)]).concat(strangers.map((h) => [h]));
    // The matcher writes memberships 25 a BatchWriteItem: it dies right after the first of its calls completes.
    await inject({ function: 'matchAudienceBatch', crashAfterCalls: { command: 'BatchWriteCommand', count: 1 } });

    // Act
    const upload = await stack.api('POST', `/v1/audiences/${audienceId}/users`, {
      token: business,
      body: { session: { id: 1, batchSeq: 1, lastBatch: true }, schema: ['PHONE_SHA256'], data: rows },
    });
    expect(upload.status).toBe(202);
    await eventually(async () => expect((await faultState()).crashes[0]).toEqual(expect.objectContaining({ fired: true })), {
      timeoutMs: 60_000,
      intervalMs: 100,
    });
    // Halfway: memberships are written, no count is committed. The 30 memberships go out as two calls in
    // parallel (25 and 5); either may finish first, and the other may still be landing when the matcher dies,
    // so only the smaller call is sure to be whole.
    const halfway = (await membersOf(audienceId)).length;
    expect(halfway).toBeGreaterThanOrEqual(consenting.length % 25);
    expect(halfway).toBeLessThanOrEqual(consenting.length);
    expect(exactCount(await audienceItem(businessId, audienceId))).toBe(0);
    // The dead matcher still holds the audience's lease; it runs out (120 s) on the clock every function reads.
    expect((await stack.api('POST', '/_local/clock', { body: { advanceSeconds: 121 } })).status).toBe(200);

    // Assess: the retry finishes the session, and the exact count is the number of consenting users
    await eventually(
      async () =>
        expect((await stack.api('GET', `/v1/audiences/${audienceId}/sessions/1`, { token: business })).json).toEqual(
          expect.objectContaining({ stage: 'done', numReceived: rows.length }),
        ),
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    const audience = await audienceItem(businessId, audienceId);
    expect(exactCount(audience)).toBe(consenting.length);
    const members = await membersOf(audienceId);
    expect(
      members
        .filter((m) => !m.removing)
        .map((m) => m.userId)
        .sort(),
    ).toEqual(consenting.map((u) => u.userId).sort());
    // A dead attempt stays `pending` for good (core/audiences.ts), so whatever it wrote counts as nothing: the retry overwrote all of it.
    const pending = (audience.pending ?? new Set()) as Set<string>;
    expect(members.filter((m) => pending.has(m.lastChunk as string))).toEqual([]);
  }, 240_000);
});

// ------------------------------------------------------------------ throttling and transient SDK errors

describe('throttled and failing SDK calls', () => {
  it('are retried with backoff inside the SDK: the request succeeds, the write exists and reaches every consumer', async () => {
    // Prepare: throttling on the consent route's DynamoDB calls, the publisher's SNS calls and a consumer's DynamoDB calls
    const fay = await createUser({ baseUrl, email: true });
    await eventually(async () => expect(await indexStateOf(fay.userId)).toBeDefined(), { timeoutMs: 30_000 });
    await inject({ service: 'dynamodb', throttle: 2, function: 'putConsent' });
    await inject({ service: 'sns', throttle: 2, function: 'publishAccountEvents' });
    await inject({ service: 'dynamodb', serverErrors: 3, function: 'applySuggestions' });

    // Act
    const res = await decide(fay, { ads_targeting: 'granted', friend_suggestions: 'granted' });

    // Assess
    expect(res.status).toBe(200);
    expect(res.json.version).toBe(1);
    expect((await receiptsOf(fay.userId)).map((r) => r.version)).toEqual([1]);
    await eventually(
      async () => {
        expect(await indexStateOf(fay.userId)).toEqual(expect.objectContaining({ appliedVersion: 1, keys: [expect.any(String), expect.any(String)] }));
        expect(await suggestionsOf(fay.userId)).toEqual(expect.objectContaining({ appliedVersion: 1, allowed: true }));
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    const fired = (await faultState()).serviceFaults.map((f) => [f.function, f.kind, f.fired, f.remaining]);
    expect(fired).toEqual([
      ['putConsent', 'throttle', 2, 0],
      ['publishAccountEvents', 'throttle', 2, 0],
      ['applySuggestions', 'serverError', 3, 0],
    ]);
  }, 90_000);

  it("answer a 5xx problem document without details once they exceed maxAttempts, write nothing, and the client's retry succeeds", async () => {
    // Prepare: every attempt (6, the SDK's maxAttempts) of the consent transaction fails
    const gus = await createUser({ baseUrl });
    await inject({ service: 'dynamodb', serverErrors: 6, function: 'putConsent', command: 'TransactWriteCommand' });
    const key = newId('idem');
    const account = await accountOf(gus.userId);

    // Act
    const failed = await decide(gus, { ads_targeting: 'granted' }, { 'idempotency-key': key });

    // Assess: a generic 500, and nothing half-written
    expect(failed.status).toBe(500);
    expect(failed.headers['content-type']).toBe('application/problem+json');
    expect(failed.json).toEqual({
      type: '/problems/internal-error',
      title: 'Internal server error',
      status: 500,
      detail: 'Something went wrong on our side. Try again later.',
    });
    expect(failed.text).not.toMatch(/InternalServerError|Injected|dynamo|TransactWrite|local-|\bat\s/i);
    expect((await faultState()).serviceFaults).toEqual([expect.objectContaining({ fired: 6, remaining: 0 })]);
    expect(await accountOf(gus.userId)).toEqual(account);
    expect(await receiptsOf(gus.userId)).toEqual([]);
    expect(
      (await aws.ddb.send(new GetCommand({ TableName: tableName('consentStates'), Key: idempotencyKey(gus.userId, key), ConsistentRead: true }))).Item,
    ).toBeUndefined();

    // Act: the client retries the same request
    const retried = await decide(gus, { ads_targeting: 'granted' }, { 'idempotency-key': key });

    // Assess: recorded once
    expect(retried.status).toBe(200);
    expect(retried.json.version).toBe(1);
    expect((await receiptsOf(gus.userId)).map((r) => r.receiptId)).toEqual([retried.json.receiptId]);
    expect((await stack.api('GET', '/v1/me/consent', { token: gus.token })).json).toEqual(
      expect.objectContaining({ version: 1, purposes: expect.objectContaining({ ads_targeting: 'granted' }) }),
    );
  }, 60_000);
});
