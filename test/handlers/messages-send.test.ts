import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient, GetCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { handler as sendMessage } from '../../functions/send-message/handler';
import { MESSAGE_ID, MESSAGE_TTL_SECONDS } from '../../functions/core/messages';
import { claimKey } from '../../functions/tables/identities';
import { clientMessageKey, contactKey, newRecipientsKey, rateKey, recipientDayKey, statusKey } from '../../functions/tables/message-status';
import { blockKey, recipientKeyKey } from '../../functions/tables/recipients';
import { invokeHttp } from '../support/events';
import { spyOnLogs } from '../support/logs';

const ddb = mockClient(DynamoDBDocumentClient);
const { logged } = spyOnLogs();
afterEach(() => {
  ddb.reset();
  jest.restoreAllMocks();
});

const business = { sub: 'b-1', role: 'business' };
const ciphertext = Buffer.from('sealed box: receipt #42, total 19.99').toString('base64');
const KEY_ID = 'key-01KB0000000000000000000000';
const body = { to: '+1 (415) 555-0123', category: 'receipt', keyId: KEY_ID, ciphertext };
const send = (b: unknown, claims: Record<string, string> = business) => invokeHttp(sendMessage, { method: 'POST', path: '/v1/messages', body: b, claims });

const cancelled = (codes: string[]) =>
  new TransactionCanceledException({ message: 'cancelled', $metadata: {}, CancellationReasons: codes.map((Code) => ({ Code })) });
const conditionFailed = () => new ConditionalCheckFailedException({ message: 'failed', $metadata: {} });

const TO = '+14155550123';

interface Given {
  /** The user the number is bound to (null: no one). */
  userId?: string | null;
  /** The recipient's current keyId (null: no key published). */
  keyId?: string | null;
  blocked?: boolean;
  /** The business reached the recipient lately (no new-recipient count). */
  contact?: boolean;
}

/** The number is bound to u-9 with a key; the business has sends left and has not reached u-9 before; writes succeed. */
function given({ userId = 'u-9', keyId = KEY_ID, blocked = false, contact = false }: Given = {}) {
  ddb.on(GetCommand, { TableName: 'test-messageStatus' }).resolves({});
  ddb.on(GetCommand, { TableName: 'test-recipients' }).resolves({});
  ddb.on(UpdateCommand, { TableName: 'test-messageStatus' }).resolves({});
  ddb.on(BatchGetCommand).resolves({ Responses: { 'test-messageStatus': [] } });
  ddb.on(TransactWriteCommand).resolves({});
  ddb
    .on(GetCommand, { TableName: 'test-identities', Key: claimKey('phoneNumber', TO) })
    .resolves(userId ? { Item: { ...claimKey('phoneNumber', TO), userId, claimedAt: '2026-11-01T00:00:00.000Z' } } : {});
  if (!userId) return;
  ddb
    .on(GetCommand, { TableName: 'test-recipients', Key: recipientKeyKey(userId) })
    .resolves(keyId ? { Item: { ...recipientKeyKey(userId), keyId, publicKey: 'A'.repeat(43), createdAt: '2026-11-01T00:00:00.000Z' } } : {});
  ddb.on(GetCommand, { TableName: 'test-recipients', Key: blockKey(userId, 'b-1') }).resolves(blocked ? { Item: blockKey(userId, 'b-1') } : {});
  if (contact) {
    ddb.on(GetCommand, { TableName: 'test-messageStatus', Key: contactKey('b-1', userId) }).resolves({ Item: { expiresAt: 4_000_000_000 } });
  }
}

type TransactItems = NonNullable<TransactWriteCommandInput['TransactItems']>;
const transactions = (): TransactItems[] => ddb.commandCalls(TransactWriteCommand).map((c) => c.args[0].input.TransactItems!);
/** The transactions that store a message (a Put into the messages table). */
const stores = (): TransactItems[] => transactions().filter((items) => items.some((i) => i.Put?.TableName === 'test-messages'));
/** The transactions that count a new recipient of b-1. */
const NEW_RECIPIENTS_PREFIX = newRecipientsKey('b-1', 0).pk.slice(0, -1);
const reaches = (): TransactItems[] => transactions().filter((items) => items.some((i) => String(i.Update?.Key?.pk ?? '').startsWith(NEW_RECIPIENTS_PREFIX)));

/** Nothing the handler logged or answered holds the number or the ciphertext. */
function expectNothingPersonalIn(responseText: string) {
  for (const text of [responseText, logged()]) {
    expect(text).not.toContain(ciphertext);
    expect(text).not.toContain('4155550123');
    expect(text).not.toContain('555-0123');
  }
}

describe('POST /v1/messages', () => {
  it('accepts a message for a registered number: 202, 30 days to expiry, message, status and daily count in one transaction', async () => {
    // Prepare
    jest.spyOn(Date, 'now').mockReturnValue(Date.UTC(2026, 10, 25, 12, 0, 42, 500));
    given({ contact: true });
    // Act
    const res = await send(body);
    // Assess
    expect(res.status).toBe(202);
    expect(res.json).toEqual({
      messageId: expect.stringMatching(MESSAGE_ID),
      status: 'accepted',
      acceptedAt: '2026-11-25T12:00:42Z',
      expiresAt: '2026-12-25T12:00:42Z',
    });
    expect(Date.parse(res.json.expiresAt as string) - Date.parse(res.json.acceptedAt as string)).toBe(MESSAGE_TTL_SECONDS * 1000);

    const lookups = ddb.commandCalls(GetCommand, { TableName: 'test-identities' });
    expect(lookups.map((c) => c.args[0].input.Key)).toEqual([claimKey('phoneNumber', TO)]);

    // A contact of the business: nothing counted as a new recipient.
    expect(reaches()).toEqual([]);
    const [items, ...more] = stores();
    expect(more).toEqual([]);
    expect(items).toHaveLength(3);
    const expiresAt = Date.parse(res.json.expiresAt as string) / 1000;
    expect(items![0]!.Put).toEqual({
      TableName: 'test-messages',
      Item: {
        recipientId: 'u-9',
        messageId: res.json.messageId,
        businessId: 'b-1',
        category: 'receipt',
        keyId: KEY_ID,
        ciphertext,
        acceptedAt: res.json.acceptedAt,
        expiresAt,
      },
      ConditionExpression: 'attribute_not_exists(messageId)',
    });
    expect(items![1]!.Put).toEqual({
      TableName: 'test-messageStatus',
      Item: expect.objectContaining({
        ...statusKey(res.json.messageId as string),
        businessId: 'b-1',
        recipientId: 'u-9',
        status: 'accepted',
        messageExpiresAt: expiresAt,
        expiresAt: expiresAt + 90 * 86_400,
      }),
      ConditionExpression: 'attribute_not_exists(pk)',
    });
    const day = Math.floor(Date.UTC(2026, 10, 25) / 86_400_000);
    expect(items![2]!.Update).toEqual({
      TableName: 'test-messageStatus',
      Key: recipientDayKey('b-1', 'u-9', day),
      UpdateExpression: 'ADD sent :one SET expiresAt = if_not_exists(expiresAt, :ttl)',
      ConditionExpression: 'attribute_not_exists(sent) OR sent < :limit',
      ExpressionAttributeValues: { ':one': 1, ':limit': 20, ':ttl': (day + 2) * 86_400 },
    });
    expect(JSON.stringify(items![1]!.Put!.Item)).not.toContain(ciphertext);
    expectNothingPersonalIn(JSON.stringify(res.json));
  });

  it("counts a recipient the business has not reached lately as new: a contact for 30 days and one place in the hour's bucket, in one transaction", async () => {
    // Prepare: 999 new recipients in the earlier hours of the window, none this hour
    const now = Date.UTC(2026, 10, 25, 12, 30, 0);
    jest.spyOn(Date, 'now').mockReturnValue(now);
    given();
    const hour = Math.floor(now / 3_600_000);
    ddb.on(BatchGetCommand).resolves({ Responses: { 'test-messageStatus': [{ ...newRecipientsKey('b-1', hour - 24), reached: 999 }] } });
    // Act
    const res = await send(body);
    // Assess
    expect(res.status).toBe(202);
    const keys = ddb.commandCalls(BatchGetCommand)[0]!.args[0].input.RequestItems!['test-messageStatus']!;
    expect(keys.Keys).toEqual(Array.from({ length: 25 }, (_, i) => newRecipientsKey('b-1', hour - 24 + i)));
    expect(keys.ConsistentRead).toBe(true);
    const [reach] = reaches();
    expect(reach).toEqual([
      {
        Put: {
          TableName: 'test-messageStatus',
          Item: { ...contactKey('b-1', 'u-9'), expiresAt: now / 1000 + 30 * 86_400 },
          ConditionExpression: 'attribute_not_exists(pk) OR expiresAt <= :now',
          ExpressionAttributeValues: { ':now': now / 1000 },
        },
      },
      {
        Update: expect.objectContaining({
          Key: newRecipientsKey('b-1', hour),
          ConditionExpression: 'attribute_not_exists(reached) OR reached < :allowance',
          ExpressionAttributeValues: { ':one': 1, ':allowance': 1, ':ttl': (hour + 26) * 3600 },
        }),
      },
    ]);
    expect(stores()).toHaveLength(1);
  });

  it('answers 429 (new-recipient-limit) with Retry-After once the rolling 24 hours hold the limit, storing nothing', async () => {
    // Prepare: 1,000 new recipients 24 hours ago (in the oldest bucket of the window)
    const now = Date.UTC(2026, 10, 25, 12, 30, 0);
    jest.spyOn(Date, 'now').mockReturnValue(now);
    given();
    const hour = Math.floor(now / 3_600_000);
    ddb.on(BatchGetCommand).resolves({ Responses: { 'test-messageStatus': [{ ...newRecipientsKey('b-1', hour - 24), reached: 1000 }] } });
    // Act
    const res = await send(body);
    // Assess: places come back when that bucket leaves the window, at the next hour
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('1800');
    expect(res.json).toEqual(expect.objectContaining({ type: '/problems/new-recipient-limit', status: 429 }));
    expect(transactions()).toEqual([]);
    expectNothingPersonalIn(JSON.stringify(res.json));
  });

  it("answers 429 (recipient-daily-limit) when the day's count to the recipient is used up, until the next UTC day, storing nothing", async () => {
    jest.spyOn(Date, 'now').mockReturnValue(Date.UTC(2026, 10, 25, 23, 0, 0));
    given({ contact: true });
    ddb.on(TransactWriteCommand).rejects(cancelled(['None', 'None', 'ConditionalCheckFailed']));
    const res = await send(body);
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('3600');
    expect(res.json).toEqual(expect.objectContaining({ type: '/problems/recipient-daily-limit', status: 429 }));
    expect(stores()).toHaveLength(1);
  });

  it("answers 409 for a keyId that is not the recipient's current key, storing nothing", async () => {
    given({ contact: true, keyId: 'key-01KBNEWER00000000000000000' });
    const res = await send(body);
    expect(res.status).toBe(409);
    expect(res.json).toEqual(expect.objectContaining({ type: '/problems/stale-key', status: 409 }));
    expect(stores()).toEqual([]);
  });

  it('withholds the message of a blocked business: the same answer, stored without ciphertext, never deliverable', async () => {
    // Prepare
    given({ contact: true, blocked: true });
    // Act
    const res = await send(body);
    // Assess
    expect(res.status).toBe(202);
    expect(Object.keys(res.json).sort()).toEqual(['acceptedAt', 'expiresAt', 'messageId', 'status']);
    expect(res.headers['idempotent-replayed']).toBeUndefined();
    const [items] = stores();
    expect(items![0]!.Put!.Item).toEqual({
      recipientId: 'u-9',
      messageId: res.json.messageId,
      businessId: 'b-1',
      acceptedAt: res.json.acceptedAt,
      expiresAt: Date.parse(res.json.expiresAt as string) / 1000,
      withheld: 'blocked',
    });
    // Status and the daily count as for any other message.
    expect(items![1]!.Put!.Item).toEqual(expect.objectContaining({ status: 'accepted' }));
    expect(items![2]!.Update!.Key).toEqual(expect.objectContaining({ pk: expect.any(String) }));
  });

  it("counts the send in the business's current one-minute window, against the configured rate", async () => {
    // Prepare
    jest.spyOn(Date, 'now').mockReturnValue(Date.UTC(2026, 10, 25, 12, 0, 42, 500));
    given({ contact: true });
    // Act
    await send(body);
    // Assess
    const windowStart = Date.UTC(2026, 10, 25, 12, 0, 0) / 1000;
    const update = ddb.commandCalls(UpdateCommand)[0]!.args[0].input;
    expect(update.TableName).toBe('test-messageStatus');
    expect(update.Key).toEqual(rateKey('b-1', windowStart));
    expect(update.ConditionExpression).toBe('attribute_not_exists(sent) OR sent < :limit');
    expect(update.ExpressionAttributeValues).toEqual({ ':one': 1, ':limit': 600, ':ttl': windowStart + 60 + 3600 });
  });

  it('answers 429 with Retry-After until the next window once the rate is used up, storing nothing', async () => {
    // Prepare
    jest.spyOn(Date, 'now').mockReturnValue(Date.UTC(2026, 10, 25, 12, 0, 42, 500));
    given();
    ddb.on(UpdateCommand).rejects(conditionFailed());
    // Act
    const res = await send(body);
    // Assess
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('18');
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.json).toEqual(expect.objectContaining({ type: '/problems/rate-limited', status: 429, title: expect.any(String), detail: expect.any(String) }));
    expect(ddb.commandCalls(GetCommand, { TableName: 'test-identities' })).toHaveLength(0);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
    expectNothingPersonalIn(JSON.stringify(res.json));
  });

  it.each<[string, Given]>([
    ['a number bound to no one', { userId: null }],
    ['a registered user with no key', { keyId: null }],
  ])('answers 404 for %s, after counting it as a new recipient (no contact kept), without saying more or echoing it', async (_label, setup) => {
    given(setup);
    const res = await send(body);
    expect(res.status).toBe(404);
    expect(res.json).toEqual({ type: '/problems/not-found', title: 'Not found', status: 404, detail: 'The recipient is not registered.' });
    const [reach, ...more] = reaches();
    expect(more).toEqual([]);
    expect(reach).toHaveLength(1);
    expect(stores()).toEqual([]);
    expectNothingPersonalIn(JSON.stringify(res.json));
  });

  it('stores a clientMessageId record first in the same transaction, on condition that it is new', async () => {
    given({ contact: true });
    const res = await send({ ...body, clientMessageId: 'order-42/receipt' });
    expect(res.status).toBe(202);
    const [items] = stores();
    expect(items).toHaveLength(4);
    expect(items![0]!.Put).toEqual({
      TableName: 'test-messageStatus',
      Item: expect.objectContaining({
        ...clientMessageKey('b-1', 'order-42/receipt'),
        businessId: 'b-1',
        messageId: res.json.messageId,
        acceptedAt: res.json.acceptedAt,
      }),
      ConditionExpression: 'attribute_not_exists(pk)',
    });
  });

  it('answers a repeated clientMessageId with the same message, storing and charging nothing', async () => {
    // Prepare: the first send
    given({ contact: true });
    const first = await send({ ...body, clientMessageId: 'order-42' });
    const record = stores()[0]![0]!.Put!.Item!;
    ddb.reset();
    ddb.on(GetCommand, { TableName: 'test-messageStatus', Key: clientMessageKey('b-1', 'order-42') }).resolves({ Item: record });
    // Act
    const again = await send({ ...body, clientMessageId: 'order-42' });
    // Assess
    expect(again.status).toBe(202);
    expect(again.json).toEqual(first.json);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
  });

  it("keeps businesses' clientMessageIds apart, whatever their ids hold", async () => {
    // Prepare: business `x#y` used client id `z`; business `x` now sends with client id `y#z`
    given();
    const other = clientMessageKey('x#y', 'z');
    ddb
      .on(GetCommand, { TableName: 'test-messageStatus', Key: other })
      .resolves({ Item: { ...other, businessId: 'x#y', messageId: 'x', acceptedAt: 't', messageExpiresAt: 1 } });
    // Act
    const res = await send({ ...body, clientMessageId: 'y#z' }, { sub: 'x', role: 'business' });
    // Assess
    const asked = ddb.commandCalls(GetCommand, { TableName: 'test-messageStatus' })[0]!.args[0].input.Key;
    expect(asked).toEqual(clientMessageKey('x', 'y#z'));
    expect(asked).not.toEqual(other);
    expect(res.status).toBe(202);
    expect(res.json.messageId).not.toBe('x');
  });

  it("answers with the winner's message when a concurrent send with the same clientMessageId committed first", async () => {
    // Prepare
    given({ contact: true });
    const winner = {
      ...clientMessageKey('b-1', 'order-7'),
      businessId: 'b-1',
      messageId: '01KAXYZ0000000000000000000',
      acceptedAt: '2026-11-25T12:00:00Z',
      messageExpiresAt: Date.parse('2026-12-25T12:00:00Z') / 1000,
    };
    ddb
      .on(GetCommand, { TableName: 'test-messageStatus', Key: clientMessageKey('b-1', 'order-7') })
      .resolvesOnce({})
      .resolves({ Item: winner });
    ddb.on(TransactWriteCommand).rejects(cancelled(['ConditionalCheckFailed', 'None', 'None', 'None']));
    // Act
    const res = await send({ ...body, clientMessageId: 'order-7' });
    // Assess
    expect(res.status).toBe(202);
    expect(res.json).toEqual({ messageId: winner.messageId, status: 'accepted', acceptedAt: '2026-11-25T12:00:00Z', expiresAt: '2026-12-25T12:00:00Z' });
    expect(stores()).toHaveLength(1);
  });

  it('tries again with a new id after a transaction conflict', async () => {
    given({ contact: true });
    ddb
      .on(TransactWriteCommand)
      .rejectsOnce(cancelled(['None', 'TransactionConflict', 'None']))
      .resolves({});
    const res = await send(body);
    expect(res.status).toBe(202);
    const calls = stores();
    expect(calls).toHaveLength(2);
    expect(calls[1]![0]!.Put!.Item!.messageId).toBe(res.json.messageId);
  });

  it('answers 500 without details when the store fails', async () => {
    given({ contact: true });
    ddb.on(TransactWriteCommand).rejects(new Error(`internal: ${ciphertext}`));
    const res = await send(body);
    expect(res.status).toBe(500);
    expectNothingPersonalIn(JSON.stringify(res.json));
  });

  describe('refuses with 400, reading and writing nothing', () => {
    const oversized = Buffer.alloc(65_537, 1).toString('base64');
    it.each<[string, Record<string, unknown>, string]>([
      ['a number that is not valid', { ...body, to: '+1 123' }, 'to'],
      ['a national number without country code', { ...body, to: '(415) 555-0123' }, 'to'],
      ['a ciphertext that is not base64', { ...body, ciphertext: 'this is not base64!' }, 'ciphertext'],
      ['a base64url ciphertext', { ...body, ciphertext: 'ab-_' }, 'ciphertext'],
      ['an unpadded ciphertext', { ...body, ciphertext: 'QQ' }, 'ciphertext'],
      ['a ciphertext over 64 KiB decoded', { ...body, ciphertext: oversized }, 'ciphertext'],
      ['an empty ciphertext', { ...body, ciphertext: '' }, 'ciphertext'],
      ['an unknown category', { ...body, category: 'marketing' }, 'category'],
      ['a missing recipient', { category: 'receipt', keyId: KEY_ID, ciphertext }, 'to'],
      ['a missing keyId', { to: body.to, category: 'receipt', ciphertext }, 'keyId'],
      ['a keyId that is no id', { ...body, keyId: 'key 1' }, 'keyId'],
      ['a clientMessageId with spaces', { ...body, clientMessageId: 'order 42' }, 'clientMessageId'],
      ['a clientMessageId too long', { ...body, clientMessageId: 'x'.repeat(129) }, 'clientMessageId'],
      ['an unknown field', { ...body, priority: 'high' }, '(root)'],
    ])('%s', async (_label, b, path) => {
      const res = await send(b);
      expect(res.status).toBe(400);
      expect(res.json.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path })]));
      expect(ddb.calls()).toHaveLength(0);
      const text = JSON.stringify(res.json);
      expect(text).not.toContain(ciphertext);
      expect(text).not.toContain('555');
      if (b.ciphertext !== ciphertext && typeof b.ciphertext === 'string' && b.ciphertext.length > 2) expect(text).not.toContain(b.ciphertext);
    });

    it('accepts a ciphertext of exactly 64 KiB decoded', async () => {
      given({ contact: true });
      const res = await send({ ...body, ciphertext: Buffer.alloc(65_536, 1).toString('base64') });
      expect(res.status).toBe(202);
    });
  });

  it('is for businesses only', async () => {
    const res = await send(body, { sub: 'u-1', role: 'user' });
    expect(res.status).toBe(403);
    expect(ddb.calls()).toHaveLength(0);
  });
});
