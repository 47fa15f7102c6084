import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { handler as sendMessage } from '../../functions/send-message/handler';
import { MESSAGE_ID, MESSAGE_TTL_SECONDS } from '../../functions/core/messages';
import { logger } from '../../functions/shared/observability';
import { claimKey } from '../../functions/tables/identities';
import { clientMessageKey, rateKey, statusKey } from '../../functions/tables/message-status';
import { invokeHttp } from '../support/events';

const ddb = mockClient(DynamoDBDocumentClient);
let logSpies: jest.SpyInstance[] = [];
beforeEach(() => {
  logSpies = (['debug', 'info', 'warn', 'error'] as const).map((level) => jest.spyOn(logger, level));
});
afterEach(() => {
  ddb.reset();
  jest.restoreAllMocks();
});

const business = { sub: 'b-1', role: 'business' };
const ciphertext = Buffer.from('sealed box: receipt #42, total 19.99').toString('base64');
const body = { to: '+1 (415) 555-0123', category: 'receipt', ciphertext };
const send = (b: unknown, claims: Record<string, string> = business) => invokeHttp(sendMessage, { method: 'POST', path: '/v1/messages', body: b, claims });

const cancelled = (codes: string[]) =>
  new TransactionCanceledException({ message: 'cancelled', $metadata: {}, CancellationReasons: codes.map((Code) => ({ Code })) });
const conditionFailed = () => new ConditionalCheckFailedException({ message: 'failed', $metadata: {} });

const TO = '+14155550123';

/** The number is bound to u-9; the business has sends left; writes succeed. */
function givenRecipient(userId: string | null = 'u-9') {
  ddb
    .on(GetCommand, { TableName: 'test-identities', Key: claimKey('phoneNumber', TO) })
    .resolves(userId ? { Item: { ...claimKey('phoneNumber', TO), userId, claimedAt: '2026-11-01T00:00:00.000Z' } } : {});
  ddb.on(GetCommand, { TableName: 'test-messageStatus' }).resolves({});
  ddb.on(UpdateCommand, { TableName: 'test-messageStatus' }).resolves({});
  ddb.on(TransactWriteCommand).resolves({});
}

/** Nothing the handler logged or answered holds the number or the ciphertext. */
function expectNothingPersonalIn(responseText: string) {
  const logged = JSON.stringify(logSpies.map((s) => s.mock.calls));
  for (const text of [responseText, logged]) {
    expect(text).not.toContain(ciphertext);
    expect(text).not.toContain('4155550123');
    expect(text).not.toContain('555-0123');
  }
}

describe('POST /v1/messages', () => {
  it('accepts a message for a registered number: 202, 30 days to expiry, message and status in one transaction', async () => {
    // Prepare
    givenRecipient('u-9');
    // Act
    const res = await send(body);
    // Assess
    expect(res.status).toBe(202);
    expect(res.json).toEqual({
      messageId: expect.stringMatching(MESSAGE_ID),
      status: 'accepted',
      acceptedAt: expect.any(String),
      expiresAt: expect.any(String),
    });
    expect(Date.parse(res.json.expiresAt as string) - Date.parse(res.json.acceptedAt as string)).toBe(MESSAGE_TTL_SECONDS * 1000);

    const lookups = ddb.commandCalls(GetCommand, { TableName: 'test-identities' });
    expect(lookups.map((c) => c.args[0].input.Key)).toEqual([claimKey('phoneNumber', TO)]);

    const items = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(items).toHaveLength(2);
    const expiresAt = Date.parse(res.json.expiresAt as string) / 1000;
    expect(items[0]!.Put).toEqual({
      TableName: 'test-messages',
      Item: {
        recipientId: 'u-9',
        messageId: res.json.messageId,
        businessId: 'b-1',
        category: 'receipt',
        ciphertext,
        acceptedAt: res.json.acceptedAt,
        expiresAt,
      },
      ConditionExpression: 'attribute_not_exists(messageId)',
    });
    expect(items[1]!.Put).toEqual({
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
    expect(JSON.stringify(items[1]!.Put!.Item)).not.toContain(ciphertext);
    expectNothingPersonalIn(JSON.stringify(res.json));
  });

  it("counts the send in the business's current one-minute window, against the configured rate", async () => {
    // Prepare
    jest.spyOn(Date, 'now').mockReturnValue(Date.UTC(2026, 10, 25, 12, 0, 42, 500));
    givenRecipient();
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
    givenRecipient();
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

  it('answers 404 for a number bound to no one, without saying more or echoing it', async () => {
    givenRecipient(null);
    const res = await send(body);
    expect(res.status).toBe(404);
    expect(res.json).toEqual({ type: '/problems/not-found', title: 'Not found', status: 404, detail: 'The recipient is not registered.' });
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
    expectNothingPersonalIn(JSON.stringify(res.json));
  });

  it('stores a clientMessageId record first in the same transaction, on condition that it is new', async () => {
    givenRecipient();
    const res = await send({ ...body, clientMessageId: 'order-42/receipt' });
    expect(res.status).toBe(202);
    const items = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(items).toHaveLength(3);
    expect(items[0]!.Put).toEqual({
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
    givenRecipient();
    const first = await send({ ...body, clientMessageId: 'order-42' });
    const record = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems![0]!.Put!.Item!;
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
    givenRecipient();
    const other = clientMessageKey('x#y', 'z');
    ddb
      .on(GetCommand, { TableName: 'test-messageStatus' })
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
    givenRecipient();
    const winner = {
      ...clientMessageKey('b-1', 'order-7'),
      businessId: 'b-1',
      messageId: '01KAXYZ0000000000000000000',
      acceptedAt: '2026-11-25T12:00:00Z',
      messageExpiresAt: Date.parse('2026-12-25T12:00:00Z') / 1000,
    };
    ddb.on(GetCommand, { TableName: 'test-messageStatus' }).resolvesOnce({}).resolves({ Item: winner });
    ddb.on(TransactWriteCommand).rejects(cancelled(['ConditionalCheckFailed', 'None', 'None']));
    // Act
    const res = await send({ ...body, clientMessageId: 'order-7' });
    // Assess
    expect(res.status).toBe(202);
    expect(res.json).toEqual({ messageId: winner.messageId, status: 'accepted', acceptedAt: '2026-11-25T12:00:00Z', expiresAt: '2026-12-25T12:00:00Z' });
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(1);
  });

  it('tries again with a new id after a transaction conflict', async () => {
    givenRecipient();
    ddb
      .on(TransactWriteCommand)
      .rejectsOnce(cancelled(['None', 'TransactionConflict']))
      .resolves({});
    const res = await send(body);
    expect(res.status).toBe(202);
    const calls = ddb.commandCalls(TransactWriteCommand);
    expect(calls).toHaveLength(2);
    expect(calls[1]!.args[0].input.TransactItems![0]!.Put!.Item!.messageId).toBe(res.json.messageId);
  });

  it('answers 500 without details when the store fails', async () => {
    givenRecipient();
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
      ['a missing recipient', { category: 'receipt', ciphertext }, 'to'],
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
      givenRecipient();
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
