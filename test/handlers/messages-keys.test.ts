import { generateKeyPairSync } from 'node:crypto';
import { BatchGetCommand, DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { handler as putKey } from '../../functions/put-key/handler';
import { handler as getRecipientKey } from '../../functions/get-recipient-key/handler';
import { handler as putBlock } from '../../functions/put-block/handler';
import { handler as deleteBlock } from '../../functions/delete-block/handler';
import { handler as listBlocks } from '../../functions/list-blocks/handler';
import { KEY_ID } from '../../functions/core/keys';
import { claimKey } from '../../functions/tables/identities';
import { contactKey } from '../../functions/tables/message-status';
import { blockKey, recipientKeyKey } from '../../functions/tables/recipients';
import { invokeHttp } from '../support/events';
import { spyOnLogs } from '../support/logs';

const ddb = mockClient(DynamoDBDocumentClient);
const { logged } = spyOnLogs();
afterEach(() => {
  ddb.reset();
  jest.restoreAllMocks();
});

const user = { sub: 'u-9', role: 'user' };
const business = { sub: 'b-1', role: 'business' };
const newPublicKey = () => (generateKeyPairSync('x25519').publicKey.export({ format: 'jwk' }) as { x: string }).x;

describe('PUT /v1/me/keys', () => {
  const put = (body: unknown, claims: Record<string, string> = user) => invokeHttp(putKey, { method: 'PUT', path: '/v1/me/keys', body, claims });

  it("makes the key the caller's current one, under a new keyId", async () => {
    // Prepare
    jest.spyOn(Date, 'now').mockReturnValue(Date.UTC(2026, 10, 25, 12, 0, 0, 123));
    const publicKey = newPublicKey();
    ddb.on(GetCommand).resolves({});
    ddb.on(PutCommand).resolves({});
    // Act
    const res = await put({ publicKey });
    // Assess
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ keyId: expect.stringMatching(KEY_ID), publicKey, createdAt: '2026-11-25T12:00:00.123Z' });
    expect(ddb.commandCalls(PutCommand)[0]!.args[0].input).toEqual({
      TableName: 'test-recipients',
      Item: { ...recipientKeyKey('u-9'), keyId: res.json.keyId, publicKey, createdAt: '2026-11-25T12:00:00.123Z' },
    });
    expect(logged()).not.toContain(publicKey);
  });

  it('answers with the current key unchanged when the same public key is published again', async () => {
    const publicKey = newPublicKey();
    const current = { ...recipientKeyKey('u-9'), keyId: 'key-01KB0000000000000000000000', publicKey, createdAt: '2026-11-01T00:00:00.000Z' };
    ddb.on(GetCommand).resolves({ Item: current });
    const res = await put({ publicKey });
    expect(res.json).toEqual({ keyId: current.keyId, publicKey, createdAt: current.createdAt });
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
  });

  it.each<[string, string]>([
    ['standard base64 instead of base64url', Buffer.alloc(32, 0xfb).toString('base64').replace(/=+$/, '')],
    ['padded', `${newPublicKey()}=`],
    ['31 bytes', Buffer.alloc(31, 7).toString('base64url')],
    ['33 bytes', Buffer.alloc(33, 7).toString('base64url')],
    ['the all-zero point', Buffer.alloc(32).toString('base64url')],
    ['a point of order 8', Buffer.from('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', 'hex').toString('base64url')],
    ['p - 1', Buffer.from(`ec${'ff'.repeat(30)}7f`, 'hex').toString('base64url')],
  ])('refuses %s with 400, storing nothing and echoing nothing', async (_label, publicKey) => {
    const res = await put({ publicKey });
    expect(res.status).toBe(400);
    expect(res.json.errors).toEqual([expect.objectContaining({ path: 'publicKey' })]);
    expect(JSON.stringify(res.json)).not.toContain(publicKey);
    expect(ddb.calls()).toHaveLength(0);
  });

  it('is for users only', async () => {
    expect((await put({ publicKey: newPublicKey() }, business)).status).toBe(403);
    expect(ddb.calls()).toHaveLength(0);
  });
});

describe('GET /v1/recipients/{phoneNumber}/key', () => {
  const TO = '+14155550123';
  const lookup = (phoneNumber: string) =>
    invokeHttp(getRecipientKey, { path: `/v1/recipients/${encodeURIComponent(phoneNumber)}/key`, pathParameters: { phoneNumber }, claims: business });
  const publicKey = newPublicKey();

  function given(recipient: { userId?: string | null; key?: boolean; contact?: boolean } = {}) {
    const { userId = 'u-9', key = true, contact = false } = recipient;
    ddb.on(GetCommand).resolves({});
    ddb.on(BatchGetCommand).resolves({ Responses: {} });
    ddb.on(TransactWriteCommand).resolves({});
    if (userId)
      ddb
        .on(GetCommand, { TableName: 'test-identities', Key: claimKey('phoneNumber', TO) })
        .resolves({ Item: { ...claimKey('phoneNumber', TO), userId, claimedAt: 't' } });
    if (userId && key) {
      ddb
        .on(GetCommand, { TableName: 'test-recipients', Key: recipientKeyKey(userId) })
        .resolves({ Item: { ...recipientKeyKey(userId), keyId: 'key-01KB0000000000000000000000', publicKey, createdAt: 't' } });
    }
    if (userId && contact)
      ddb.on(GetCommand, { TableName: 'test-messageStatus', Key: contactKey('b-1', userId) }).resolves({ Item: { expiresAt: 4_000_000_000 } });
  }

  it("answers the holder's current key and counts the holder as a new recipient of the business", async () => {
    given();
    const res = await lookup(TO);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ keyId: 'key-01KB0000000000000000000000', publicKey });
    const [reach] = ddb.commandCalls(TransactWriteCommand).map((c) => c.args[0].input.TransactItems!);
    expect(reach![0]!.Put!.Item).toEqual(expect.objectContaining(contactKey('b-1', 'u-9')));
    expect(logged()).not.toMatch(/4155550123|555-0123/);
  });

  it('takes a number still URL-encoded, as a REST API may hand it over', async () => {
    given({ contact: true });
    expect((await lookup('%2B14155550123')).status).toBe(200);
  });

  it('costs nothing for a recipient the business reached lately', async () => {
    given({ contact: true });
    expect((await lookup(TO)).status).toBe(200);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });

  it.each<[string, { userId?: string | null; key?: boolean }]>([
    ['no account', { userId: null }],
    ['an account with no key', { key: false }],
  ])('answers 404 for a number of %s, after counting it (with no contact kept)', async (_label, setup) => {
    given(setup);
    const res = await lookup(TO);
    expect(res.status).toBe(404);
    expect(JSON.stringify(res.json)).not.toMatch(/4155550123/);
    const [reach] = ddb.commandCalls(TransactWriteCommand).map((c) => c.args[0].input.TransactItems!);
    expect(reach).toHaveLength(1);
    expect(reach![0]!.Update).toBeDefined();
  });

  it('answers 400 for what is not a number, reading nothing', async () => {
    const res = await lookup('not-a-number');
    expect(res.status).toBe(400);
    expect(ddb.calls()).toHaveLength(0);
  });
});

describe('blocks', () => {
  const path = (businessId: string) => `/v1/me/blocks/${encodeURIComponent(businessId)}`;

  it('PUT blocks a business (keeping the first blockedAt) and answers 204', async () => {
    jest.spyOn(Date, 'now').mockReturnValue(Date.UTC(2026, 10, 25, 12, 0, 0));
    ddb.on(PutCommand).resolves({});
    const res = await invokeHttp(putBlock, { method: 'PUT', path: path('flower-shop'), pathParameters: { businessId: 'flower-shop' }, claims: user });
    expect(res.status).toBe(204);
    expect(ddb.commandCalls(PutCommand)[0]!.args[0].input).toEqual({
      TableName: 'test-recipients',
      Item: { ...blockKey('u-9', 'flower-shop'), businessId: 'flower-shop', blockedAt: '2026-11-25T12:00:00.000Z' },
      ConditionExpression: 'attribute_not_exists(sk)',
    });
  });

  it('PUT of a business already blocked answers 204 too', async () => {
    ddb.on(PutCommand).rejects(Object.assign(new Error('exists'), { name: 'ConditionalCheckFailedException' }));
    const res = await invokeHttp(putBlock, { method: 'PUT', path: path('b-1'), pathParameters: { businessId: 'b-1' }, claims: user });
    expect(res.status).toBe(204);
  });

  it('DELETE unblocks and answers 204', async () => {
    ddb.on(DeleteCommand).resolves({});
    const res = await invokeHttp(deleteBlock, { method: 'DELETE', path: path('b-1'), pathParameters: { businessId: 'b-1' }, claims: user });
    expect(res.status).toBe(204);
    expect(ddb.commandCalls(DeleteCommand)[0]!.args[0].input).toEqual({ TableName: 'test-recipients', Key: blockKey('u-9', 'b-1') });
  });

  it('GET lists the blocked businesses', async () => {
    ddb.on(QueryCommand).resolves({ Items: [{ ...blockKey('u-9', 'b-1'), businessId: 'b-1', blockedAt: '2026-11-25T12:00:00.000Z' }] });
    const res = await invokeHttp(listBlocks, { path: '/v1/me/blocks', claims: user });
    expect(res.json).toEqual({ items: [{ businessId: 'b-1', blockedAt: '2026-11-25T12:00:00.000Z' }] });
    expect(ddb.commandCalls(QueryCommand)[0]!.args[0].input).toEqual(
      expect.objectContaining({ TableName: 'test-recipients', KeyConditionExpression: 'userId = :u AND begins_with(sk, :b)' }),
    );
  });

  it.each([['a/b'], [' '], ['x'.repeat(129)]])('refuses the business id %j with 400', async (businessId) => {
    const res = await invokeHttp(putBlock, { method: 'PUT', path: '/v1/me/blocks/x', pathParameters: { businessId }, claims: user });
    expect(res.status).toBe(400);
    expect(ddb.calls()).toHaveLength(0);
  });

  it('are for users only', async () => {
    const res = await invokeHttp(putBlock, { method: 'PUT', path: path('b-1'), pathParameters: { businessId: 'b-1' }, claims: business });
    expect(res.status).toBe(403);
  });
});
