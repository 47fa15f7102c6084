import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { handler as listMessages } from '../../functions/list-messages/handler';
import { handler as ackMessages } from '../../functions/ack-messages/handler';
import { messageIdFactory } from '../../functions/core/messages';
import { invokeHttp } from '../support/events';

const ddb = mockClient(DynamoDBDocumentClient);
afterEach(() => {
  ddb.reset();
  jest.restoreAllMocks();
});

const user = { sub: 'u-9', role: 'user' };
const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);
const nowSeconds = NOW / 1000;
const nextId = messageIdFactory();
const ids = Array.from({ length: 5 }, (_, i) => nextId(NOW - 86_400_000 + i * 1000));

const stored = (messageId: string, ciphertext = 'QUJD') => ({
  messageId,
  businessId: 'b-1',
  category: 'receipt',
  keyId: 'key-1',
  ciphertext,
  acceptedAt: '2026-11-24T12:00:00Z',
  expiresAt: Date.parse('2026-12-24T12:00:00Z') / 1000,
});

describe('GET /v1/me/messages', () => {
  beforeEach(() => jest.spyOn(Date, 'now').mockReturnValue(NOW));
  const list = (query?: Record<string, string>, claims: Record<string, string> = user) =>
    invokeHttp(listMessages, { path: '/v1/me/messages', claims, ...(query ? { queryStringParameters: query } : {}) });

  it("lists the caller's unexpired messages oldest first, reading every page, in the contract's shape", async () => {
    // Prepare
    ddb
      .on(QueryCommand)
      .resolvesOnce({ Items: [stored(ids[0]!), stored(ids[1]!)], LastEvaluatedKey: { recipientId: 'u-9', messageId: ids[1] } })
      .resolvesOnce({ Items: [stored(ids[2]!)] });
    // Act
    const res = await list();
    // Assess
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      items: [ids[0], ids[1], ids[2]].map((messageId) => ({
        messageId,
        from: 'b-1',
        category: 'receipt',
        keyId: 'key-1',
        ciphertext: 'QUJD',
        acceptedAt: '2026-11-24T12:00:00Z',
        expiresAt: '2026-12-24T12:00:00Z',
      })),
    });
    const calls = ddb.commandCalls(QueryCommand);
    expect(calls).toHaveLength(2);
    expect(calls[0]!.args[0].input).toEqual(
      expect.objectContaining({
        TableName: 'test-messages',
        KeyConditionExpression: 'recipientId = :r',
        FilterExpression: 'expiresAt > :now AND attribute_not_exists(withheld)',
        ExpressionAttributeValues: { ':r': 'u-9', ':now': nowSeconds },
        ScanIndexForward: true,
      }),
    );
    expect(calls[1]!.args[0].input.ExclusiveStartKey).toEqual({ recipientId: 'u-9', messageId: ids[1] });
  });

  it('answers an empty list when nothing is waiting', async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    const res = await list();
    expect(res.json).toEqual({ items: [] });
  });

  it('stops at the limit with a nextToken, and continues after it', async () => {
    ddb.on(QueryCommand).resolves({ Items: ids.slice(0, 3).map((id) => stored(id)) });
    const first = await list({ limit: '2' });
    expect((first.json.items as { messageId: string }[]).map((m) => m.messageId)).toEqual([ids[0], ids[1]]);
    expect(first.json.nextToken).toEqual(expect.any(String));

    ddb.reset();
    ddb.on(QueryCommand).resolves({ Items: [stored(ids[2]!)] });
    const second = await list({ limit: '2', nextToken: first.json.nextToken as string });
    expect(ddb.commandCalls(QueryCommand)[0]!.args[0].input.ExclusiveStartKey).toEqual({ recipientId: 'u-9', messageId: ids[1] });
    expect(second.json).toEqual({ items: [expect.objectContaining({ messageId: ids[2] })] });
  });

  it('keeps an answer to about 4 MB of ciphertext, always at least one message', async () => {
    const big = 'A'.repeat(87_384);
    ddb.on(QueryCommand).resolves({ Items: Array.from({ length: 60 }, (_, i) => stored(nextId(NOW - 1000 + i), big)) });
    const res = await list();
    const items = res.json.items as unknown[];
    expect(items.length).toBeGreaterThan(0);
    expect(items.length * big.length).toBeLessThanOrEqual(4_000_000);
    expect(res.json.nextToken).toEqual(expect.any(String));
  });

  it.each<Record<string, string>>([{ limit: '0' }, { limit: '101' }, { limit: 'ten' }, { nextToken: 'not a token' }, { nextToken: 'x'.repeat(20) }])(
    'answers 400 for %p',
    async (query) => {
      const res = await list(query);
      expect(res.status).toBe(400);
      expect(ddb.calls()).toHaveLength(0);
    },
  );

  it('is for users only', async () => {
    const res = await list(undefined, { sub: 'b-1', role: 'business' });
    expect(res.status).toBe(403);
  });
});

describe('POST /v1/me/messages/ack', () => {
  beforeEach(() => jest.spyOn(Date, 'now').mockReturnValue(NOW));
  const ack = (body: unknown, claims: Record<string, string> = user) => invokeHttp(ackMessages, { method: 'POST', path: '/v1/me/messages/ack', body, claims });
  const conditionFailed = () => new ConditionalCheckFailedException({ message: 'failed', $metadata: {} });

  it("deletes the caller's stored, unexpired messages by key and counts them", async () => {
    // Prepare
    ddb.on(DeleteCommand).resolves({});
    // Act
    const res = await ack({ messageIds: [ids[0], ids[1]] });
    // Assess
    expect(res).toEqual(expect.objectContaining({ status: 200, json: { acknowledged: 2 } }));
    const inputs = ddb.commandCalls(DeleteCommand).map((c) => c.args[0].input);
    expect(inputs).toEqual(
      [ids[0], ids[1]].map((messageId) =>
        expect.objectContaining({
          TableName: 'test-messages',
          Key: { recipientId: 'u-9', messageId },
          ConditionExpression: 'attribute_exists(messageId) AND expiresAt > :now AND attribute_not_exists(withheld)',
          ExpressionAttributeValues: { ':now': nowSeconds },
        }),
      ),
    );
  });

  it('ignores unknown, foreign, expired, repeated and malformed ids, counting only what it deleted', async () => {
    // Prepare: ids[1] is not the caller's (or gone, or expired): its conditional delete fails
    ddb.on(DeleteCommand).resolves({});
    ddb.on(DeleteCommand, { Key: { recipientId: 'u-9', messageId: ids[1] } }).rejects(conditionFailed());
    // Act
    const res = await ack({ messageIds: [ids[0], ids[1], ids[0], 'not-a-message-id'] });
    // Assess
    expect(res.json).toEqual({ acknowledged: 1 });
    expect(ddb.commandCalls(DeleteCommand)).toHaveLength(2);
    expect(ddb.commandCalls(DeleteCommand).every((c) => (c.args[0].input.Key as { recipientId: string }).recipientId === 'u-9')).toBe(true);
  });

  it('acknowledges nothing for an empty list', async () => {
    const res = await ack({ messageIds: [] });
    expect(res.json).toEqual({ acknowledged: 0 });
    expect(ddb.calls()).toHaveLength(0);
  });

  it.each([
    ['no messageIds', {}],
    ['messageIds not an array', { messageIds: ids[0] }],
    ['an id that is not a string', { messageIds: [42] }],
    ['more than 100 ids', { messageIds: Array.from({ length: 101 }, () => ids[0]) }],
    ['an unknown field', { messageIds: [], all: true }],
  ])('answers 400 for %s, deleting nothing', async (_label, body) => {
    const res = await ack(body);
    expect(res.status).toBe(400);
    expect(ddb.calls()).toHaveLength(0);
  });

  it('answers 500 when the store fails, without details', async () => {
    ddb.on(DeleteCommand).rejects(new Error('throttled'));
    const res = await ack({ messageIds: [ids[0]] });
    expect(res.status).toBe(500);
    expect(JSON.stringify(res.json)).not.toContain('throttled');
  });

  it('is for users only', async () => {
    const res = await ack({ messageIds: [ids[0]] }, { sub: 'b-1', role: 'business' });
    expect(res.status).toBe(403);
    expect(ddb.calls()).toHaveLength(0);
  });
});
