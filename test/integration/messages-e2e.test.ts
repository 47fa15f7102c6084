/**
 * End-to-end encryption on the shared local stack, through the client
 * library as apps and businesses use it (client/messages.ts over the typed
 * API client): a user publishes an X25519 key, a business looks it up,
 * seals with the library and sends; the user opens with their private key,
 * and no other key opens it. A keyId that is no longer the recipient's
 * current key answers 409; the inbox carries each message's keyId, so a
 * message sealed to a replaced key still opens with that key. Blocks: a
 * blocked business's messages are accepted and never delivered.
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import {
  acknowledge,
  ApiError,
  blockBusiness,
  blocks,
  createApi,
  generateKeyPair,
  inbox,
  messageStatus,
  open,
  openInbox,
  publicKeyOf,
  publishKey,
  recipientKey,
  seal,
  sendMessage,
  sendSealed,
  unblockBusiness,
  type Api,
  type CryptoKeyPair,
} from '../../client';
import { closeAwsClients, eventually, stackUrl, tableName } from './support';
import { freshPhone, newBusiness, newRecipient, publishKey as publishTestKey, sharedStack as stack, type Party, type Recipient } from './messages.helpers';
import { verifyWith } from './support/users';

afterAll(() => closeAwsClients());

const apiOf = (party: Party): Api => createApi({ baseUrl: stackUrl(), token: party.token });

/** The error a promise rejects with (failing the test if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('sealed with the library, opened with the recipient key only', () => {
  let business: Party;
  let bob: Recipient;

  beforeAll(async () => {
    business = await newBusiness(stack);
    bob = await newRecipient(stack);
  });

  it('seals to the key the business looks up; Bob opens it with his key; the service holds only ciphertext; no other key opens it', async () => {
    // Prepare
    const text = `order 1017: 12 red roses, $54 (${bob.sub})`;
    // Act: the business looks the key up, seals and sends, with the library
    const sent = await sendSealed(apiOf(business), {
      to: bob.phone.e164,
      category: 'receipt',
      payload: { text, giftWrap: true },
      clientMessageId: 'order-1017',
    });
    // Assess: the recipient's current key
    expect(sent).toEqual(expect.objectContaining({ status: 'accepted', keyId: bob.key.keyId }));
    const [item, ...rest] = await inbox(apiOf(bob));
    expect(rest).toEqual([]);
    expect(item).toEqual(expect.objectContaining({ messageId: sent.messageId, from: business.sub, keyId: bob.key.keyId }));
    // Bob's key opens it
    expect(await open(bob.key.keyPair, item!.ciphertext)).toEqual({ text, giftWrap: true });
    // ...no other key does: a fresh one, another recipient's, the business has none
    const stranger = await generateKeyPair();
    const other = await newRecipient(stack);
    for (const key of [stranger, other.key.keyPair]) {
      expect(await rejection(open(key, item!.ciphertext))).toEqual(expect.objectContaining({ name: 'ClientCryptoError', code: 'open-failed' }));
    }
    // ...and the table holds the ciphertext, not the text
    const { ddb } = await stack.clients();
    const stored = await ddb.send(
      new QueryCommand({ TableName: tableName('messages'), KeyConditionExpression: 'recipientId = :r', ExpressionAttributeValues: { ':r': bob.sub } }),
    );
    expect(stored.Items).toEqual([expect.objectContaining({ ciphertext: item!.ciphertext, keyId: bob.key.keyId })]);
    expect(JSON.stringify(stored.Items)).not.toContain('roses');
    // Bob opens his inbox and acknowledges; the business sees it delivered
    const opened = await openInbox(apiOf(bob), (keyId) => (keyId === bob.key.keyId ? bob.key.keyPair : undefined));
    expect(opened).toEqual([expect.objectContaining({ messageId: sent.messageId, payload: { text, giftWrap: true } })]);
    expect(await acknowledge(apiOf(bob), [sent.messageId])).toBe(1);
    await eventually(async () => expect((await messageStatus(apiOf(business), sent.messageId)).status).toBe('delivered'), { timeoutMs: 30_000 });
  });

  it('refuses to seal to what is not a public key, in the library, before anything is sent', async () => {
    expect(await rejection(seal('not-a-key', { text: 'x' }))).toEqual(expect.objectContaining({ code: 'invalid-public-key' }));
  });
});

describe('keys', () => {
  it("answers 409 for a keyId that is no longer the recipient's current key; the old message keeps its keyId and opens with the old key", async () => {
    // Prepare: a message sealed to Bob's first key
    const business = await newBusiness(stack);
    const bob = await newRecipient(stack);
    const first = await sendSealed(apiOf(business), { to: bob.phone.e164, category: 'receipt', payload: { text: 'first' } });
    const oldKey = bob.key;
    // Act: Bob's device gets a new key
    const newKey = await publishTestKey(stack, bob);
    // Assess: the old keyId is stale now
    expect(newKey.keyId).not.toBe(oldKey.keyId);
    const stale = await rejection(
      sendMessage(apiOf(business), {
        to: bob.phone.e164,
        category: 'receipt',
        keyId: oldKey.keyId,
        ciphertext: await seal(oldKey.publicKey, { text: 'stale' }),
      }),
    );
    expect(stale).toBeInstanceOf(ApiError);
    expect(stale).toEqual(expect.objectContaining({ status: 409, problem: expect.objectContaining({ type: '/problems/stale-key', status: 409 }) }));
    expect((await recipientKey(apiOf(business), bob.phone.e164)).keyId).toBe(newKey.keyId);
    const second = await sendSealed(apiOf(business), { to: bob.phone.e164, category: 'receipt', payload: { text: 'second' } });
    expect(second.keyId).toBe(newKey.keyId);
    // Each inbox item says which key it was sealed to, and opens with that key
    const keys = new Map<string, CryptoKeyPair>([
      [oldKey.keyId, oldKey.keyPair],
      [newKey.keyId, newKey.keyPair],
    ]);
    const opened = await openInbox(apiOf(bob), (keyId) => keys.get(keyId));
    expect(opened.map((m) => [m.messageId, m.keyId, m.payload?.text])).toEqual([
      [first.messageId, oldKey.keyId, 'first'],
      [second.messageId, newKey.keyId, 'second'],
    ]);
    // ...and without the old key, the old one is reported, not guessed at
    const onlyNew = await openInbox(apiOf(bob), (keyId) => (keyId === newKey.keyId ? newKey.keyPair : undefined));
    expect(onlyNew.map((m) => m.failure ?? 'opened')).toEqual(['no-key', 'opened']);
  });

  it('publishing the current key again answers with it unchanged', async () => {
    const bob = await newRecipient(stack);
    const again = await publishKey(apiOf(bob), bob.key.publicKey);
    expect(again).toEqual({ keyId: bob.key.keyId, publicKey: bob.key.publicKey, createdAt: expect.any(String) });
  });

  it('answers 404 for a number with no account and for an account with no key, never saying which', async () => {
    const business = await newBusiness(stack);
    const keyless = await newRecipient(stack);
    // A user who bound a number but never published a key
    const sub = `${keyless.sub}-nokey`;
    const token = await stack.tokenFor('user', sub);
    const phone = freshPhone();
    expect((await verifyWith((method, path, options) => stack.api(method, path, options), 'phone', token, phone.typed)).status).toBe(200);
    const noAccount = await stack.api('GET', `/v1/recipients/${encodeURIComponent(freshPhone().e164)}/key`, { token: business.token });
    const noKey = await stack.api('GET', `/v1/recipients/${encodeURIComponent(phone.e164)}/key`, { token: business.token });
    expect(noAccount.status).toBe(404);
    expect(noKey.status).toBe(404);
    expect(noKey.json).toEqual(noAccount.json);
    expect(noKey.text).not.toContain(phone.e164.slice(2));
    // A send to either answers the same 404 too
    const body = (to: string) => ({ to, category: 'receipt', keyId: keyless.key.keyId, ciphertext: 'Zm9vYmFy' });
    const sendNoKey = await stack.api('POST', '/v1/messages', { token: business.token, body: body(phone.e164) });
    const sendNoAccount = await stack.api('POST', '/v1/messages', { token: business.token, body: body(freshPhone().e164) });
    expect([sendNoKey.status, sendNoAccount.status]).toEqual([404, 404]);
    expect(sendNoKey.json).toEqual(sendNoAccount.json);
  });

  it('refuses a public key that is not one, or one no message can be sealed to, without echoing it', async () => {
    const bob = await newRecipient(stack);
    for (const publicKey of [Buffer.alloc(32).toString('base64url'), Buffer.alloc(32, 0xfb).toString('base64'), 'x'.repeat(43)]) {
      const res = await stack.api('PUT', '/v1/me/keys', { token: bob.token, body: { publicKey } });
      expect(res.status).toBe(400);
      expect(res.json.errors).toEqual([expect.objectContaining({ path: 'publicKey' })]);
      expect(res.text).not.toContain(publicKey);
    }
    expect((await recipientKey(apiOf(await newBusiness(stack)), bob.phone.e164)).keyId).toBe(bob.key.keyId);
  });

  it('keeps the private key where it was made: the service only ever has the public key', async () => {
    const keyPair = await generateKeyPair();
    const bob = await newRecipient(stack);
    const published = await publishKey(apiOf(bob), await publicKeyOf(keyPair));
    expect(Object.keys(published).sort()).toEqual(['createdAt', 'keyId', 'publicKey']);
    expect(keyPair.privateKey.extractable).toBe(false);
  });
});

describe('blocks', () => {
  it("withholds a blocked business's messages: accepted, never listed, never acknowledgeable; other businesses still deliver; after unblocking, new messages arrive again", async () => {
    // Prepare
    const [shop, other] = [await newBusiness(stack), await newBusiness(stack)];
    const bob = await newRecipient(stack);
    const before = await sendSealed(apiOf(shop), { to: bob.phone.e164, category: 'receipt', payload: { text: 'before the block' } });
    // Act
    await blockBusiness(apiOf(bob), shop.sub);
    const during = await sendSealed(apiOf(shop), { to: bob.phone.e164, category: 'delivery_update', payload: { text: 'while blocked' } });
    const fromOther = await sendSealed(apiOf(other), { to: bob.phone.e164, category: 'receipt', payload: { text: 'another shop' } });
    // Assess: the blocked business is answered as usual, its key lookups too
    expect(during).toEqual(expect.objectContaining({ status: 'accepted' }));
    expect(await recipientKey(apiOf(shop), bob.phone.e164)).toEqual({ keyId: bob.key.keyId, publicKey: bob.key.publicKey });
    expect(await blocks(apiOf(bob))).toEqual([{ businessId: shop.sub, blockedAt: expect.any(String) }]);
    // Bob gets what came before the block and from the other business, nothing sent while blocked
    expect((await inbox(apiOf(bob))).map((m) => m.messageId)).toEqual([before.messageId, fromOther.messageId]);
    expect(await acknowledge(apiOf(bob), [during.messageId])).toBe(0);
    // The withheld message keeps no ciphertext
    const { ddb } = await stack.clients();
    const stored = await ddb.send(
      new QueryCommand({ TableName: tableName('messages'), KeyConditionExpression: 'recipientId = :r', ExpressionAttributeValues: { ':r': bob.sub } }),
    );
    const withheld = stored.Items?.find((i) => i.messageId === during.messageId);
    expect(withheld).toEqual({
      recipientId: bob.sub,
      messageId: during.messageId,
      businessId: shop.sub,
      acceptedAt: during.acceptedAt,
      expiresAt: Date.parse(during.expiresAt) / 1000,
      withheld: 'blocked',
    });
    // To the shop it reads as an undelivered message
    const { keyId: _sealedTo, ...accepted } = during;
    expect(await messageStatus(apiOf(shop), during.messageId)).toEqual({ ...accepted, updatedAt: during.acceptedAt });
    // Blocking twice is the same; unblocking lets new messages through, the withheld one stays withheld
    await blockBusiness(apiOf(bob), shop.sub);
    await unblockBusiness(apiOf(bob), shop.sub);
    expect(await blocks(apiOf(bob))).toEqual([]);
    const after = await sendSealed(apiOf(shop), { to: bob.phone.e164, category: 'receipt', payload: { text: 'after the block' } });
    const opened = await openInbox(apiOf(bob), () => bob.key.keyPair);
    expect(opened.map((m) => m.payload?.text)).toEqual(['before the block', 'another shop', 'after the block']);
    expect(opened.map((m) => m.messageId)).toEqual([before.messageId, fromOther.messageId, after.messageId]);
  });

  it('takes any business id a message can carry, and answers 204 whether or not that business exists', async () => {
    const bob = await newRecipient(stack);
    for (const businessId of ['never-sent-anything', 'a.b@c:d', 'x'.repeat(128)]) {
      expect((await stack.api('PUT', `/v1/me/blocks/${encodeURIComponent(businessId)}`, { token: bob.token })).status).toBe(204);
    }
    const listed = await stack.api<{ items: { businessId: string }[] }>('GET', '/v1/me/blocks', { token: bob.token });
    expect(listed.json.items.map((b) => b.businessId).sort()).toEqual(['a.b@c:d', 'never-sent-anything', 'x'.repeat(128)].sort());
    expect((await stack.api('DELETE', '/v1/me/blocks/never-blocked', { token: bob.token })).status).toBe(204);
  });
});
