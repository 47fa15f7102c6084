import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { identifierTag, verificationCode } from '../../functions/core/verification';
import { handler as startPhone } from '../../functions/start-phone-verification/handler';
import { handler as putPhone } from '../../functions/put-phone/handler';
import { claimKey, identityKey, limitKey, verificationKey } from '../../functions/tables/identities';
import { invokeHttp } from '../support/events';
import { TEST_SECRET } from '../support/fake-resources';

const ddb = mockClient(DynamoDBDocumentClient);
const sqs = mockClient(SQSClient);
afterEach(() => {
  ddb.reset();
  sqs.reset();
});

const KEY = Buffer.from(TEST_SECRET, 'utf8');
const NUMBER = '+14155550123';
const nowSeconds = () => Math.floor(Date.now() / 1000);

describe('POST /v1/me/phone/verification', () => {
  it('counts the start for the account and the number, stores the verification and queues its id only, in one transaction', async () => {
    // Prepare
    ddb.on(GetCommand).resolves({});
    ddb.on(TransactWriteCommand).resolves({});
    sqs.on(SendMessageCommand).resolves({});
    // Act
    const res = await invokeHttp(startPhone, { method: 'POST', body: { phoneNumber: '+1 (415) 555-0123' } });
    // Assess
    expect(res.status).toBe(202);
    expect(res.json).toEqual({ verificationId: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/), expiresAt: expect.any(String) });
    expect(Date.parse(res.json.expiresAt as string) - Date.now()).toBeGreaterThan(590_000);
    const items = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(items.map((i) => i.Put!.Item!.pk)).toEqual([
      limitKey('account', 'u-1').pk,
      limitKey('identifier', identifierTag(KEY, 'phoneNumber', NUMBER)).pk,
      verificationKey(res.json.verificationId as string).pk,
    ]);
    expect(JSON.stringify(items.slice(0, 2))).not.toContain('4155550123');
    expect(JSON.stringify(items[2])).not.toContain(verificationCode(KEY, res.json.verificationId as string));
    const queued = sqs.commandCalls(SendMessageCommand)[0]!.args[0].input;
    expect(JSON.parse(queued.MessageBody!)).toEqual({ verificationId: res.json.verificationId as string });
  });

  it('answers 429 with Retry-After and writes nothing when the account started 5 in the last hour', async () => {
    // Prepare: five starts, the oldest 600 s ago
    const now = nowSeconds();
    ddb.on(GetCommand).resolves({});
    ddb.on(GetCommand, { Key: limitKey('account', 'u-1') }).resolves({
      Item: { ...limitKey('account', 'u-1'), times: [now - 600, now - 500, now - 400, now - 300, now - 200], rev: 5, expiresAt: now + 3000 },
    });
    // Act
    const res = await invokeHttp(startPhone, { method: 'POST', body: { phoneNumber: NUMBER } });
    // Assess
    expect(res.status).toBe(429);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(2999);
    expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(3001);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('answers 400 for a number that is not valid, without echoing it or touching anything', async () => {
    const res = await invokeHttp(startPhone, { method: 'POST', body: { phoneNumber: '+1 555' } });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.json)).not.toContain('555');
    expect(ddb.calls()).toHaveLength(0);
  });
});

describe('PUT /v1/me/phone', () => {
  const ID = 'AAAAAAAAAAAAAAAAAAAAAA';
  const givenVerification = (over: Record<string, unknown> = {}) =>
    ddb.on(GetCommand, { Key: verificationKey(ID) }).resolves({
      Item: {
        ...verificationKey(ID),
        userId: 'u-1',
        field: 'phoneNumber',
        value: NUMBER,
        createdAt: new Date().toISOString(),
        expiresAt: nowSeconds() + 300,
        wrongCodes: 0,
        ...over,
      },
    });
  const right = verificationCode(KEY, ID);
  const wrong = right === '000000' ? '000001' : '000000';
  const cancelled = (codes: string[]) =>
    new TransactionCanceledException({ message: 'cancelled', $metadata: {}, CancellationReasons: codes.map((Code) => ({ Code })) });

  it('binds nothing from a number alone: 400 naming the verification it needs', async () => {
    const res = await invokeHttp(putPhone, { method: 'PUT', body: { phoneNumber: NUMBER } });
    expect(res.status).toBe(400);
    expect(res.json.errors).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: 'verificationId', message: expect.stringContaining('/verification') })]),
    );
    expect(JSON.stringify(res.json)).not.toContain('4155550123');
    expect(ddb.calls()).toHaveLength(0);
  });

  it('moves the number from its earlier holder in one transaction: verification used, claim moved, holder loses it, both get events', async () => {
    // Prepare
    givenVerification();
    ddb.on(GetCommand, { Key: identityKey('u-1') }).resolves({ Item: { ...identityKey('u-1'), phoneNumber: '+14155550100' } });
    ddb.on(GetCommand, { Key: claimKey('phoneNumber', NUMBER) }).resolves({ Item: { ...claimKey('phoneNumber', NUMBER), userId: 'u-0', claimedAt: 'x' } });
    ddb.on(TransactWriteCommand).resolves({});
    // Act
    const res = await invokeHttp(putPhone, { method: 'PUT', body: { verificationId: ID, code: right } });
    // Assess
    expect(res).toEqual(expect.objectContaining({ status: 200, json: { phoneNumber: NUMBER } }));
    const items = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(items.map((i) => Object.keys(i)[0])).toEqual(['Delete', 'Put', 'Update', 'Delete', 'Put', 'Update', 'Put']);
    expect(items[0]!.Delete!.Key).toEqual(verificationKey(ID));
    expect(items[1]!.Put).toEqual(expect.objectContaining({ ConditionExpression: 'userId = :h', ExpressionAttributeValues: { ':h': 'u-0' } }));
    expect(items[3]!.Delete!.Key).toEqual(claimKey('phoneNumber', '+14155550100'));
    expect(items[5]!.Update).toEqual(expect.objectContaining({ Key: identityKey('u-0'), UpdateExpression: expect.stringContaining('REMOVE #f') }));
    expect(items[6]!.Put!.Item).toEqual(expect.objectContaining({ userId: 'u-0', eventType: 'IdentifierLost', identifier: 'PHONE' }));
    expect(JSON.stringify(items[6]!.Put!.Item)).not.toContain('4155550');
  });

  it('counts a wrong code (400 with tries left) and ends the verification on the fifth (410)', async () => {
    givenVerification({ wrongCodes: 3 });
    ddb.on(UpdateCommand).resolves({});
    const fourth = await invokeHttp(putPhone, { method: 'PUT', body: { verificationId: ID, code: wrong } });
    expect(fourth.status).toBe(400);
    expect(fourth.json).toEqual(expect.objectContaining({ type: '/problems/wrong-code', triesLeft: 1 }));
    expect(ddb.commandCalls(UpdateCommand)[0]!.args[0].input.ExpressionAttributeValues).toEqual({ ':seen': 3, ':next': 4 });

    ddb.reset();
    givenVerification({ wrongCodes: 4 });
    ddb.on(UpdateCommand).resolves({});
    const fifth = await invokeHttp(putPhone, { method: 'PUT', body: { verificationId: ID, code: wrong } });
    expect(fifth.status).toBe(410);
    expect(fifth.json.type).toBe('/problems/verification-gone');
  });

  it.each([
    ['unknown', undefined],
    ['expired', { expiresAt: 1 }],
    ['used up', { wrongCodes: 5 }],
    ["another user's", { userId: 'u-2' }],
    ['of an email', { field: 'email', value: 'ana@example.com' }],
  ])('answers 410 for a verification that is %s, even with its right code', async (_label, over) => {
    if (over) givenVerification(over);
    else ddb.on(GetCommand).resolves({});
    const res = await invokeHttp(putPhone, { method: 'PUT', body: { verificationId: ID, code: right } });
    expect(res.status).toBe(410);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });

  it('reads the verification again when a concurrent use changed it, and then answers 410', async () => {
    ddb.on(GetCommand).resolves({});
    ddb
      .on(GetCommand, { Key: verificationKey(ID) })
      .resolvesOnce({
        Item: { ...verificationKey(ID), userId: 'u-1', field: 'phoneNumber', value: NUMBER, createdAt: 'x', expiresAt: nowSeconds() + 300, wrongCodes: 0 },
      })
      .resolves({});
    ddb.on(TransactWriteCommand).rejects(cancelled(['ConditionalCheckFailed', 'None']));
    const res = await invokeHttp(putPhone, { method: 'PUT', body: { verificationId: ID, code: right } });
    expect(res.status).toBe(410);
  });
});
