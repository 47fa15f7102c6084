import { GetCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { api, awsClients, closeAwsClients, eventually, newId, tableName, tokenFor } from './support';
import type { AwsClients } from './support';
import { createUser, emailHash, ensurePolicy, phoneHash, verify } from './support/users';
import { appliedKey } from '../../functions/tables/match-index';
import { membershipKey } from '../../functions/tables/memberships';
import { suggestionKey } from '../../functions/tables/suggestions';

/** Data subject rights on the real local stack: export, and erasure through the account-events fan-out. */
let aws: AwsClients;
beforeAll(async () => {
  aws = await awsClients();
  await ensurePolicy();
});
afterAll(() => closeAwsClients());

const ciphertext = Buffer.from('an end-to-end encrypted receipt').toString('base64');

async function inAudience(business: string, user: { userId: string; phoneNumber?: string; email?: string }) {
  // The match index fills asynchronously after the consent decision: upload once the user is in it.
  await eventually(
    async () => {
      const state = await aws.ddb.send(new GetCommand({ TableName: tableName('matchIndex'), Key: appliedKey(user.userId), ConsistentRead: true }));
      expect(state.Item?.keys).toHaveLength(2);
    },
    { timeoutMs: 20_000 },
  );
  const created = await api('POST', '/v1/audiences', { token: business, body: { name: 'Flower shop mailing list', customerFileSource: 'USER_PROVIDED_ONLY' } });
  expect(created.status).toBe(201);
  const id = created.json.id as string;
  const upload = await api('POST', `/v1/audiences/${id}/users`, {
    token: business,
    body: {
      session: { id: 1, batchSeq: 1, lastBatch: true },
      schema: ['PHONE_SHA256', 'EMAIL_SHA256'],
      data: [[phoneHash(user.phoneNumber!), emailHash(user.email!)]],
    },
  });
  expect(upload.status).toBe(202);
  await eventually(
    async () => {
      const session = await api('GET', `/v1/audiences/${id}/sessions/${upload.json.sessionId}`, { token: business });
      expect(session.json.stage).toBe('done');
    },
    { timeoutMs: 20_000 },
  );
  return id;
}

describe('GET /v1/me/export', () => {
  it('returns phone, email, consent and its history, the number of audiences, message metadata, the message key and blocks, never ciphertext', async () => {
    // Prepare: a pending message, a blocked business and the message it sent anyway
    const ana = await createUser({ email: true, ads: 'granted', friends: 'denied', key: true });
    const business = await tokenFor('business', newId('b'));
    const blockedId = newId('b-blocked');
    const blocked = await tokenFor('business', blockedId);
    await inAudience(business, ana);
    const body = { to: ana.phoneNumber, category: 'receipt', keyId: ana.key!.keyId, ciphertext };
    const sent = await api('POST', '/v1/messages', { token: business, body });
    expect(sent.status).toBe(202);
    expect((await api('PUT', `/v1/me/blocks/${blockedId}`, { token: ana.token })).status).toBe(204);
    const withheld = await api('POST', '/v1/messages', { token: blocked, body });
    expect(withheld.status).toBe(202);
    // Act
    const res = await api('GET', '/v1/me/export', { token: ana.token });
    // Assess
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      userId: ana.userId,
      exportedAt: expect.any(String),
      account: { phoneNumber: ana.phoneNumber, email: ana.email, createdAt: expect.any(String), erasedAt: null },
      consent: expect.objectContaining({ version: 1, purposes: { ads_targeting: 'granted', friend_suggestions: 'denied' } }),
      consentHistory: [expect.objectContaining({ version: 1, userId: ana.userId, signature: expect.any(String) })],
      receiptKeys: { keys: [expect.objectContaining({ kty: 'EC', crv: 'P-256', alg: 'ES256', kid: expect.any(String) })] },
      audiences: { count: 1 },
      pendingMessages: [
        {
          messageId: sent.json.messageId,
          from: expect.any(String),
          category: 'receipt',
          keyId: ana.key!.keyId,
          acceptedAt: sent.json.acceptedAt,
          expiresAt: sent.json.expiresAt,
        },
      ],
      withheldMessages: [
        { messageId: withheld.json.messageId, from: blockedId, reason: 'blocked', acceptedAt: withheld.json.acceptedAt, expiresAt: withheld.json.expiresAt },
      ],
      messageKey: { keyId: ana.key!.keyId, publicKey: ana.key!.publicKey, createdAt: expect.any(String) },
      blocks: [{ businessId: blockedId, blockedAt: expect.any(String) }],
    });
    expect(res.text).not.toContain(ciphertext);
  });
});

describe('DELETE /v1/me', () => {
  it('makes every consumer forget the user and keeps the consent receipts as proof, with no phone or email', async () => {
    // Prepare: a user in the index, an audience, the suggestions set, with a pending message
    const ana = await createUser({ email: true, ads: 'granted', friends: 'granted', key: true });
    const businessId = newId('b');
    const business = await tokenFor('business', businessId);
    const audienceId = await inAudience(business, ana);
    const operator = await tokenFor('operator', newId('op'));
    expect((await api('GET', `/v1/ops/users/${ana.userId}/audiences`, { token: operator })).json.items).toEqual([{ audienceId, businessId }]);
    const body = { to: ana.phoneNumber, category: 'receipt', keyId: ana.key!.keyId, ciphertext };
    const sent = await api('POST', '/v1/messages', { token: business, body });
    expect(sent.status).toBe(202);
    expect((await api('PUT', '/v1/me/blocks/someone-else', { token: ana.token })).status).toBe(204);
    const statusBefore = (await api('GET', `/v1/messages/${sent.json.messageId}`, { token: business })).json;

    // Act
    const res = await api('DELETE', '/v1/me', { token: ana.token });

    // Assess: accepted, and the identifiers are gone at once
    expect(res.status).toBe(202);
    const exported = await api('GET', '/v1/me/export', { token: ana.token });
    expect(exported.json.account).toEqual(expect.objectContaining({ phoneNumber: null, email: null, erasedAt: expect.any(String) }));
    expect((await api('POST', '/v1/messages', { token: business, body })).status).toBe(404);
    expect((await api('GET', `/v1/recipients/${encodeURIComponent(ana.phoneNumber!)}/key`, { token: business })).status).toBe(404);
    // ...every consumer follows within seconds
    await eventually(
      async () => {
        expect((await api('GET', `/v1/ops/users/${ana.userId}/audiences`, { token: operator })).json.items).toEqual([]);
        const state = await aws.ddb.send(new GetCommand({ TableName: tableName('matchIndex'), Key: appliedKey(ana.userId), ConsistentRead: true }));
        expect(state.Item?.keys).toEqual([]);
        const suggestions = await aws.ddb.send(new GetCommand({ TableName: tableName('suggestions'), Key: suggestionKey(ana.userId), ConsistentRead: true }));
        expect(suggestions.Item?.allowed).toBe(false);
        const memberships = await aws.ddb.send(
          new QueryCommand({
            TableName: tableName('audienceMemberships'),
            KeyConditionExpression: 'pk = :p',
            ExpressionAttributeValues: { ':p': membershipKey(ana.userId, 'any').pk },
          }),
        );
        expect(memberships.Items).toEqual([]);
        expect((await api('GET', '/v1/me/messages', { token: ana.token })).json.items).toEqual([]);
        // The message's content is gone; what is left of it (no ciphertext) waits for its expiry.
        const stored = await aws.ddb.send(
          new QueryCommand({ TableName: tableName('messages'), KeyConditionExpression: 'recipientId = :r', ExpressionAttributeValues: { ':r': ana.userId } }),
        );
        expect(stored.Items).toEqual([expect.objectContaining({ messageId: sent.json.messageId, withheld: 'erased' })]);
        expect(JSON.stringify(stored.Items)).not.toContain(ciphertext);
        // The key and the blocks are gone.
        const exported = (await api('GET', '/v1/me/export', { token: ana.token })).json;
        expect({ messageKey: exported.messageKey, blocks: exported.blocks, pending: exported.pendingMessages }).toEqual({
          messageKey: null,
          blocks: [],
          pending: [],
        });
      },
      { timeoutMs: 20_000 },
    );
    // The sender is told nothing: the message reads exactly as before, accepted until its own expiresAt (messages-privacy.test.ts follows it to the end).
    expect((await api('GET', `/v1/messages/${sent.json.messageId}`, { token: business })).json).toEqual(statusBefore);
    // ...the receipts stay, and no table holds the phone or email for this user any more
    expect((await api('GET', '/v1/me/consent/history', { token: ana.token })).json.items).toHaveLength(1);
    for (const table of ['identities', 'consentStates', 'ledger', 'matchIndex', 'suggestions', 'audienceMemberships', 'messages'] as const) {
      const { Items = [] } = await aws.ddb.send(new ScanCommand({ TableName: tableName(table) }));
      const dump = JSON.stringify(Items);
      expect(dump).not.toContain(ana.phoneNumber!);
      expect(dump).not.toContain(ana.email!);
    }
    // ...and the number is free for someone else
    const bob = await createUser({ phone: false });
    expect((await verify('phone', bob.token, ana.phoneNumber!)).status).toBe(200);
  }, 60_000);
});
