import { GetCommand, QueryCommand, DeleteCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { ListTopicsCommand, PublishCommand } from '@aws-sdk/client-sns';
import { ReceiveMessageCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { api, awsClients, closeAwsClients, eventually, newId, queueUrl, settle, tableName, tokenFor, topicName } from './support';
import type { AwsClients } from './support';
import { createUser, ensurePolicy, FIXTURE_POLICY, phoneHash, uniquePhone, verify } from './support/users';
import { stateKey } from '../../functions/tables/consent-states';
import { appliedKey, indexKey } from '../../functions/tables/match-index';

/**
 * Consent capture and its fan-out, on the real local stack: the ledger
 * stream, the publisher, SNS, one SQS queue per consumer, and the consumers.
 */
let aws: AwsClients;
let policyVersion: string;
beforeAll(async () => {
  aws = await awsClients();
  policyVersion = await ensurePolicy();
});
afterAll(() => closeAwsClients());

const indexStateOf = async (userId: string) =>
  (await aws.ddb.send(new GetCommand({ TableName: tableName('matchIndex'), Key: appliedKey(userId), ConsistentRead: true }))).Item;
const suggestionsOf = async (userId: string) =>
  (await aws.ddb.send(new GetCommand({ TableName: tableName('suggestions'), Key: { userId }, ConsistentRead: true }))).Item;
const indexHolds = async (key: string) =>
  (await aws.ddb.send(new GetCommand({ TableName: tableName('matchIndex'), Key: indexKey(key), ConsistentRead: true }))).Item?.userId as string | undefined;

describe('policies', () => {
  it('serves the current policy to every role and refuses a version that exists', async () => {
    for (const role of ['user', 'business', 'operator'] as const) {
      const res = await api('GET', '/v1/policies/current', { token: await tokenFor(role, newId(role)) });
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ ...FIXTURE_POLICY, publishedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/) });
    }
    const again = await api('POST', '/v1/policies', { token: await tokenFor('operator', 'op'), body: FIXTURE_POLICY });
    expect(again.status).toBe(409);
    expect(again.headers['content-type']).toBe('application/problem+json');
  });
});

describe('phone and email', () => {
  it('stores a verified number in E.164; a number alone binds nothing', async () => {
    const phone = uniquePhone();
    const national = `+1 (${phone.slice(2, 5)}) ${phone.slice(5, 8)}-${phone.slice(8)}`;
    const ana = await createUser({ phone: false });
    const plain = await api('PUT', '/v1/me/phone', { token: ana.token, body: { phoneNumber: national } });
    expect(plain.status).toBe(400);
    expect(plain.text).not.toContain(phone.slice(2));
    expect((await api('GET', '/v1/me/export', { token: ana.token })).json.account.phoneNumber).toBeNull();
    const res = await verify('phone', ana.token, national);
    expect(res).toEqual(expect.objectContaining({ status: 200, json: { phoneNumber: phone } }));
  });

  it('normalises a verified email address and refuses what is not one', async () => {
    const ana = await createUser({ phone: false });
    const res = await verify('email', ana.token, `  ${ana.userId.toUpperCase()}@Example.COM `);
    expect(res.json).toEqual({ email: `${ana.userId}@example.com` });
    expect((await api('POST', '/v1/me/email/verification', { token: ana.token, body: { email: 'not an address' } })).status).toBe(400);
  });
});

describe('consent', () => {
  it('shows a new user as undecided, records decisions with increasing versions, and lists them newest first', async () => {
    const ana = await createUser();
    const initial = await api('GET', '/v1/me/consent', { token: ana.token });
    expect(initial.json).toEqual(
      expect.objectContaining({ version: 0, decisionRequired: true, purposes: { ads_targeting: 'denied', friend_suggestions: 'denied' } }),
    );

    const first = await api('PUT', '/v1/me/consent', {
      token: ana.token,
      body: { policyVersion, purposes: { ads_targeting: 'granted', friend_suggestions: 'granted' }, source: 'notification' },
    });
    expect(first.json).toEqual({
      userId: ana.userId,
      receiptId: expect.any(String),
      version: 1,
      policyVersion,
      purposes: { ads_targeting: 'granted', friend_suggestions: 'granted' },
      source: 'notification',
      recordedAt: expect.any(String),
      prevHash: null,
      hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      signature: expect.stringMatching(/^[\w-]+\.\.[\w-]+$/),
    });
    const second = await api('PUT', '/v1/me/consent', { token: ana.token, body: { policyVersion, purposes: { ads_targeting: 'denied' }, source: 'settings' } });
    expect(second.json).toEqual(
      expect.objectContaining({ version: 2, purposes: { ads_targeting: 'denied', friend_suggestions: 'granted' }, prevHash: first.json.hash }),
    );

    const now = await api('GET', '/v1/me/consent', { token: ana.token });
    expect(now.json).toEqual(
      expect.objectContaining({ version: 2, decisionRequired: false, policyVersion, purposes: { ads_targeting: 'denied', friend_suggestions: 'granted' } }),
    );
    const history = await api('GET', '/v1/me/consent/history', { token: ana.token });
    expect(history.json.items).toEqual([second.json, first.json]);
  });

  it('answers the same request with the same Idempotency-Key with the same receipt and no new version', async () => {
    const ana = await createUser();
    const body = { policyVersion, purposes: { ads_targeting: 'denied' }, source: 'notification' };
    const key = newId('idem');
    const [a, b] = await Promise.all([
      api('PUT', '/v1/me/consent', { token: ana.token, body, headers: { 'idempotency-key': key } }),
      api('PUT', '/v1/me/consent', { token: ana.token, body, headers: { 'idempotency-key': key } }),
    ]);
    const c = await api('PUT', '/v1/me/consent', { token: ana.token, body, headers: { 'idempotency-key': key } });
    expect(a.status).toBe(200);
    expect(b.json).toEqual(a.json);
    expect(c.json).toEqual(a.json);
    expect((await api('GET', '/v1/me/consent/history', { token: ana.token })).json.items).toHaveLength(1);
    const reused = await api('PUT', '/v1/me/consent', { token: ana.token, body: { ...body, source: 'settings' }, headers: { 'idempotency-key': key } });
    expect(reused.status).toBe(422);
  });

  it('refuses a policy version that is not the current one with 409 and records nothing', async () => {
    const ana = await createUser();
    const res = await api('PUT', '/v1/me/consent', {
      token: ana.token,
      body: { policyVersion: '2015-01-01', purposes: { ads_targeting: 'granted' }, source: 'settings' },
    });
    expect(res.status).toBe(409);
    expect((await api('GET', '/v1/me/consent/history', { token: ana.token })).json.items).toEqual([]);
  });
});

describe('fan-out of consent changes', () => {
  it('takes a user who opts out of ads and in to friend suggestions out of the match index and into the suggestions set', async () => {
    // Prepare: a user who allowed both is in the index
    const ana = await createUser({ email: true, ads: 'granted', friends: 'denied' });
    await eventually(async () => expect((await indexStateOf(ana.userId))?.keys).toHaveLength(2));
    const keys = (await indexStateOf(ana.userId))!.keys as string[];
    for (const key of keys) expect(await indexHolds(key)).toBe(ana.userId);
    // Act
    const res = await api('PUT', '/v1/me/consent', {
      token: ana.token,
      body: { policyVersion, purposes: { ads_targeting: 'denied', friend_suggestions: 'granted' }, source: 'notification' },
    });
    expect(res.status).toBe(200);
    // Assess
    await eventually(
      async () => {
        expect(await indexStateOf(ana.userId)).toEqual(expect.objectContaining({ appliedVersion: 2, keys: [] }));
        for (const key of keys) expect(await indexHolds(key)).toBeUndefined();
        expect(await suggestionsOf(ana.userId)).toEqual(expect.objectContaining({ allowed: true, appliedVersion: 2 }));
      },
      { timeoutMs: 10_000 },
    );
  });

  it('keys identifiers with the pepper: the index holds no plain or hashed identifier', async () => {
    const ana = await createUser({ email: true, ads: 'granted' });
    await eventually(async () => expect((await indexStateOf(ana.userId))?.keys).toHaveLength(2));
    const { Items = [] } = await aws.ddb.send(new ScanCommand({ TableName: tableName('matchIndex') }));
    const dump = JSON.stringify(Items);
    expect(dump).not.toContain(ana.phoneNumber!.slice(1));
    expect(dump).not.toContain(phoneHash(ana.phoneNumber!));
    expect(dump).not.toContain(ana.email!);
  });

  it('follows a change of phone number: the old number leaves the index and the new one enters it', async () => {
    const ana = await createUser({ ads: 'granted' });
    await eventually(async () => expect((await indexStateOf(ana.userId))?.keys).toHaveLength(1));
    const [oldKey] = (await indexStateOf(ana.userId))!.keys as string[];
    expect((await verify('phone', ana.token, uniquePhone())).status).toBe(200);
    await eventually(async () => {
      const keys = (await indexStateOf(ana.userId))!.keys as string[];
      expect(keys).toHaveLength(1);
      expect(keys[0]).not.toBe(oldKey);
      expect(await indexHolds(oldKey!)).toBeUndefined();
      expect(await indexHolds(keys[0]!)).toBe(ana.userId);
    });
  });

  it('ignores the same events delivered again and older events delivered late', async () => {
    // Prepare: grant (v1), then deny (v2), fully applied
    const ana = await createUser({ ads: 'granted', friends: 'granted' });
    await api('PUT', '/v1/me/consent', {
      token: ana.token,
      body: { policyVersion, purposes: { ads_targeting: 'denied', friend_suggestions: 'denied' }, source: 'settings' },
    });
    await eventually(async () => {
      expect(await indexStateOf(ana.userId)).toEqual(expect.objectContaining({ appliedVersion: 2, keys: [] }));
      expect(await suggestionsOf(ana.userId)).toEqual(expect.objectContaining({ appliedVersion: 2, allowed: false }));
    });
    // ...and no event of the sign-up still in flight (a late one rewrites the same state under a new revision)
    await settle();
    const before = { index: await indexStateOf(ana.userId), suggestions: await suggestionsOf(ana.userId) };
    // Act: replay both decisions through the topic, the late one twice
    const ledger = await aws.ddb.send(
      new QueryCommand({ TableName: tableName('ledger'), KeyConditionExpression: 'userId = :u', ExpressionAttributeValues: { ':u': ana.userId } }),
    );
    const receipts = (ledger.Items ?? []).filter((i) => i.kind === 'receipt');
    expect(receipts).toHaveLength(2);
    const topicArn = await accountEventsTopicArn();
    for (const r of [receipts[0]!, receipts[0]!, receipts[1]!]) {
      const event = {
        type: 'ConsentChanged',
        eventId: r.receiptId,
        userId: ana.userId,
        version: r.version,
        policyVersion: r.policyVersion,
        purposes: r.purposes,
        occurredAt: r.recordedAt,
      };
      await aws.sns.send(
        new PublishCommand({
          TopicArn: topicArn,
          Message: JSON.stringify(event),
          MessageAttributes: { type: { DataType: 'String', StringValue: 'ConsentChanged' } },
        }),
      );
    }
    // Assess: the consumers took them (queues drain) and nothing changed
    await eventually(async () => {
      for (const q of ['matchIndexEvents', 'suggestionsEvents'] as const) {
        const attrs = await aws.sqs.send(
          new ReceiveMessageCommand({ QueueUrl: await queueUrl(q), MaxNumberOfMessages: 1, VisibilityTimeout: 0, WaitTimeSeconds: 0 }),
        );
        expect(attrs.Messages ?? []).toHaveLength(0);
      }
    });
    expect(await indexStateOf(ana.userId)).toEqual(before.index);
    expect(await suggestionsOf(ana.userId)).toEqual(before.suggestions);
  });

  it('dead-letters a record its consumer cannot handle after its retries, and processes the rest of the batch', async () => {
    // Prepare: a user in the index whose entry we remove behind the service's back
    const ana = await createUser({ ads: 'granted' });
    await eventually(async () => expect((await indexStateOf(ana.userId))?.keys).toHaveLength(1));
    // ...and no event of the sign-up still in flight, which would race the removal below
    await settle();
    const [key] = (await indexStateOf(ana.userId))!.keys as string[];
    await aws.ddb.send(new DeleteCommand({ TableName: tableName('matchIndex'), Key: indexKey(key!) }));
    await aws.ddb.send(new DeleteCommand({ TableName: tableName('matchIndex'), Key: appliedKey(ana.userId) }));
    const poisonId = newId('poison');
    // Act: one batch with a poison message and a good one
    await aws.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: await queueUrl('matchIndexEvents'),
        Entries: [
          { Id: 'poison', MessageBody: JSON.stringify({ type: 'ConsentChanged', userId: poisonId, version: 'not a number' }) },
          {
            Id: 'good',
            MessageBody: JSON.stringify({ type: 'IdentifiersChanged', eventId: newId('e'), userId: ana.userId, occurredAt: new Date().toISOString() }),
          },
        ],
      }),
    );
    // Assess: the good one was applied (within a redelivery or two: the consumer batches within a 1 s window, 2 s visibility in tests)
    await eventually(async () => expect(await indexHolds(key!)).toBe(ana.userId), { timeoutMs: 30_000 });
    // ...and the poison one reaches the dead-letter queue after maxReceiveCount receives (2 s visibility in tests)
    const dlq = await queueUrl('matchIndexEvents', { deadLetter: true });
    const dead = await eventually(
      async () => {
        const out = await aws.sqs.send(
          new ReceiveMessageCommand({ QueueUrl: dlq, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageSystemAttributeNames: ['ApproximateReceiveCount'] }),
        );
        const found = (out.Messages ?? []).find((m) => m.Body?.includes(poisonId));
        expect(found).toBeDefined();
        return found!;
      },
      { timeoutMs: 45_000, intervalMs: 500 },
    );
    expect(JSON.parse(dead.Body!).userId).toBe(poisonId);
  }, 60_000);
});

describe('bad input changes nothing', () => {
  const consentBody = () => ({ policyVersion: FIXTURE_POLICY.version, purposes: { ads_targeting: 'granted' }, source: 'settings' });

  const nothingWrittenFor = async (userId: string) => {
    const state = await aws.ddb.send(new GetCommand({ TableName: tableName('consentStates'), Key: stateKey(userId), ConsistentRead: true }));
    expect(state.Item).toBeUndefined();
    const ledger = await aws.ddb.send(
      new QueryCommand({ TableName: tableName('ledger'), KeyConditionExpression: 'userId = :u', ExpressionAttributeValues: { ':u': userId } }),
    );
    expect(ledger.Items).toEqual([]);
  };

  const expectProblem = (res: { status: number; headers: Record<string, string>; json: Record<string, unknown> }, status: number) => {
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json).toEqual(expect.objectContaining({ type: expect.any(String), title: expect.any(String), status, detail: expect.any(String) }));
  };

  it.each([
    ['malformed JSON', { rawBody: '{"policyVersion": ', headers: { 'content-type': 'application/json' } }, 400],
    ['wrong types', { body: { policyVersion: 20160825, purposes: [], source: 1 } }, 400],
    ['an unknown purpose', { body: { ...consentBody(), purposes: { location: 'granted' } } }, 400],
    ['an unknown value', { body: { ...consentBody(), purposes: { ads_targeting: 'yes' } } }, 400],
    ['a body that is not JSON', { rawBody: 'ads_targeting=granted', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 415],
    [
      'a 2 MiB body',
      { rawBody: JSON.stringify({ ...consentBody(), padding: 'x'.repeat(2 * 1024 * 1024) }), headers: { 'content-type': 'application/json' } },
      413,
    ],
  ])('answers %s with a problem document', async (_what, options, status) => {
    const userId = newId('u');
    const token = await tokenFor('user', userId);
    const res = await api('PUT', '/v1/me/consent', { token, ...options });
    expectProblem(res, status);
    if (status === 400 && 'body' in options)
      expect(res.json.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: expect.any(String), message: expect.any(String) })]));
    await nothingWrittenFor(userId);
  });

  it('answers a missing or forged token with 401 and a user token on an operator route with 403', async () => {
    const userId = newId('u');
    expect((await api('PUT', '/v1/me/consent', { body: consentBody() })).status).toBe(401);
    const forged = (await tokenFor('user', userId)).replace(/.{6}$/, 'AAAAAA');
    expect((await api('PUT', '/v1/me/consent', { token: forged, body: consentBody() })).status).toBe(401);
    const res = await api('POST', '/v1/policies', { token: await tokenFor('user', userId), body: { ...FIXTURE_POLICY, version: newId('v') } });
    expectProblem(res, 403);
    await nothingWrittenFor(userId);
  });
});

describe('OpenAPI', () => {
  it('serves the OpenAPI 3.1 document without a token', async () => {
    const res = await api('GET', '/openapi.json');
    expect(res.status).toBe(200);
    expect(res.json.openapi).toBe('3.1.0');
    expect(Object.keys(res.json.paths)).toEqual(expect.arrayContaining(['/v1/me/consent', '/v1/me/phone', '/v1/policies']));
  });
});

/** The account-events topic's ARN as the stack created it. */
async function accountEventsTopicArn(): Promise<string> {
  const out = await aws.sns.send(new ListTopicsCommand({}));
  const arn = out.Topics?.map((t) => t.TopicArn!).find((a) => a.endsWith(`:${topicName('accountEvents')}`));
  if (!arn) throw new Error('The account-events topic does not exist');
  return arn;
}
