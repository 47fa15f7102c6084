/**
 * Business messages on the shared local stack: send, list, acknowledge,
 * status, idempotency, ownership and the contract's refusals. The clock is
 * never moved here (see messages-expiry.test.ts).
 */
import { closeAwsClients, eventually } from './support';
import {
  ack,
  freshPhone,
  inbox,
  newBusiness,
  newRecipient,
  sealed,
  send,
  sharedStack as stack,
  statusOf,
  statusRecordsOf,
  storedMessagesOf,
} from './messages.helpers';

afterAll(() => closeAwsClients());

const THIRTY_DAYS_MS = 2_592_000_000;

describe('business messages', () => {
  it('sends, lists, acknowledges, and the sender sees delivered', async () => {
    // Prepare
    const business = await newBusiness(stack);
    const user = await newRecipient(stack);
    const ciphertext = sealed(200);
    // Act: send
    const sent = await send(stack, business, user, { category: 'reservation', ciphertext });
    // Assess
    expect(sent).toEqual({ messageId: expect.any(String), status: 'accepted', acceptedAt: expect.any(String), expiresAt: expect.any(String) });
    expect(Date.parse(sent.expiresAt) - Date.parse(sent.acceptedAt)).toBe(THIRTY_DAYS_MS);
    expect((await statusOf(stack, business, sent.messageId)).json).toEqual({ ...sent, updatedAt: sent.acceptedAt });

    // Act: the recipient lists
    const listed = await inbox(stack, user);
    expect(listed).toEqual([
      {
        messageId: sent.messageId,
        from: business.sub,
        category: 'reservation',
        keyId: user.key.keyId,
        ciphertext,
        acceptedAt: sent.acceptedAt,
        expiresAt: sent.expiresAt,
      },
    ]);

    // Act: and acknowledges
    expect(await ack(stack, user, [sent.messageId])).toBe(1);
    expect(await inbox(stack, user)).toEqual([]);
    expect(await storedMessagesOf(stack, user.sub)).toEqual([]);
    await eventually(
      async () => {
        const status = await statusOf(stack, business, sent.messageId);
        expect(status.json).toEqual(
          expect.objectContaining({ messageId: sent.messageId, status: 'delivered', acceptedAt: sent.acceptedAt, expiresAt: sent.expiresAt }),
        );
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );

    // A second acknowledgement changes nothing.
    expect(await ack(stack, user, [sent.messageId])).toBe(0);
  });

  it("lists a recipient's messages oldest first, from every sender", async () => {
    const [first, second] = [await newBusiness(stack), await newBusiness(stack)];
    const user = await newRecipient(stack);
    const a = await send(stack, first, user);
    const b = await send(stack, second, user, { category: 'delivery_update' });
    const c = await send(stack, first, user);
    const listed = await inbox(stack, user);
    expect(listed.map((m) => [m.messageId, m.from])).toEqual([
      [a.messageId, first.sub],
      [b.messageId, second.sub],
      [c.messageId, first.sub],
    ]);
  });

  it('stores one message for duplicate sends with one clientMessageId, sequential or concurrent', async () => {
    // Prepare
    const business = await newBusiness(stack);
    const user = await newRecipient(stack);
    // Act
    const first = await send(stack, business, user, { clientMessageId: 'order-1001/receipt' });
    const again = await send(stack, business, user, { clientMessageId: 'order-1001/receipt', ciphertext: sealed() });
    const concurrent = await Promise.all([1, 2, 3].map(() => send(stack, business, user, { clientMessageId: 'order-1002/receipt' })));
    // Assess
    expect(again).toEqual(first);
    expect(new Set(concurrent.map((r) => r.messageId)).size).toBe(1);
    expect(concurrent.every((r) => JSON.stringify(r) === JSON.stringify(concurrent[0]))).toBe(true);
    const stored = await storedMessagesOf(stack, user.sub);
    expect(stored.map((m) => m.messageId).sort()).toEqual([first.messageId, concurrent[0]!.messageId].sort());
    expect(await statusRecordsOf(stack, business.sub)).toHaveLength(2);
    expect((await inbox(stack, user)).map((m) => m.messageId)).toEqual([first.messageId, concurrent[0]!.messageId]);
  });

  it('keeps clientMessageIds per business: another business with the same id sends its own message', async () => {
    const [one, two] = [await newBusiness(stack), await newBusiness(stack)];
    const user = await newRecipient(stack);
    const a = await send(stack, one, user, { clientMessageId: 'same-id' });
    const b = await send(stack, two, user, { clientMessageId: 'same-id' });
    expect(b.messageId).not.toBe(a.messageId);
    expect(await inbox(stack, user)).toHaveLength(2);
  });

  it('answers another business 404 for a message it did not send, exactly as for one that does not exist', async () => {
    const [owner, other] = [await newBusiness(stack), await newBusiness(stack)];
    const user = await newRecipient(stack);
    const sent = await send(stack, owner, user);
    const foreign = await statusOf(stack, other, sent.messageId);
    const missing = await statusOf(stack, other, '01KAZZZZZZZZZZZZZZZZZZZZZZ');
    expect(foreign.status).toBe(404);
    expect(foreign.headers['content-type']).toBe('application/problem+json');
    expect(foreign.json).toEqual(missing.json);
    expect(foreign.text).not.toContain(sent.messageId);
  });

  it("ignores acknowledgements of another user's messages", async () => {
    const business = await newBusiness(stack);
    const [owner, other] = [await newRecipient(stack), await newRecipient(stack)];
    const sent = await send(stack, business, owner);
    expect(await ack(stack, other, [sent.messageId, '01KAZZZZZZZZZZZZZZZZZZZZZZ'])).toBe(0);
    expect((await inbox(stack, owner)).map((m) => m.messageId)).toEqual([sent.messageId]);
    expect((await statusOf(stack, business, sent.messageId)).json.status).toBe('accepted');
  });

  describe('refusals, as problem documents that hold neither the number nor the ciphertext', () => {
    const oversized = sealed(65_537);
    const cases: [string, (to: string, keyId: string) => Record<string, unknown>, number, string | undefined][] = [
      ['a ciphertext over 64 KiB decoded', (to, keyId) => ({ to, category: 'receipt', keyId, ciphertext: oversized }), 400, 'ciphertext'],
      ['a ciphertext that is not base64', (to, keyId) => ({ to, category: 'receipt', keyId, ciphertext: 'Zm9v YmFy!' }), 400, 'ciphertext'],
      ['an unknown category', (to, keyId) => ({ to, category: 'promotion', keyId, ciphertext: 'Zm9vYmFy' }), 400, 'category'],
      ['a number that is not valid', (_to, keyId) => ({ to: '+1 555', category: 'receipt', keyId, ciphertext: 'Zm9vYmFy' }), 400, 'to'],
      ['no keyId', (to) => ({ to, category: 'receipt', ciphertext: 'Zm9vYmFy' }), 400, 'keyId'],
    ];

    it.each(cases)('%s', async (_label, body, status, path) => {
      const business = await newBusiness(stack);
      const user = await newRecipient(stack);
      const sentBody = body(user.phone.typed, user.key.keyId);
      const res = await stack.api('POST', '/v1/messages', { token: business.token, body: sentBody });
      expect(res.status).toBe(status);
      expect(res.headers['content-type']).toBe('application/problem+json');
      expect(res.json).toEqual(expect.objectContaining({ type: expect.any(String), title: expect.any(String), status, detail: expect.any(String) }));
      if (path) expect(res.json.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path })]));
      expect(res.text).not.toContain(user.phone.e164.slice(2));
      expect(res.text).not.toContain(String(sentBody.ciphertext).slice(0, 16));
      expect(await storedMessagesOf(stack, user.sub)).toEqual([]);
    });

    it('an unregistered recipient: 404, never saying more', async () => {
      const business = await newBusiness(stack);
      const nobody = freshPhone();
      const ciphertext = sealed();
      const res = await stack.api('POST', '/v1/messages', {
        token: business.token,
        body: { to: nobody.typed, category: 'receipt', keyId: 'key-x', ciphertext },
      });
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toBe('application/problem+json');
      expect(res.json).toEqual({ type: '/problems/not-found', title: 'Not found', status: 404, detail: 'The recipient is not registered.' });
      expect(res.text).not.toContain(nobody.e164.slice(2));
      expect(res.text).not.toContain(ciphertext);
    });

    it('the wrong role or no token', async () => {
      const business = await newBusiness(stack);
      const user = await newRecipient(stack);
      const body = { to: user.phone.typed, category: 'receipt', keyId: user.key.keyId, ciphertext: 'Zm9vYmFy' };
      expect((await stack.api('POST', '/v1/messages', { token: user.token, body })).status).toBe(403);
      expect((await stack.api('POST', '/v1/messages', { body })).status).toBe(401);
      expect((await stack.api('GET', '/v1/me/messages', { token: business.token })).status).toBe(403);
      expect((await stack.api('POST', '/v1/me/messages/ack', { token: business.token, body: { messageIds: [] } })).status).toBe(403);
      expect((await stack.api('POST', '/v1/me/messages/ack', { token: user.token, body: { messageIds: 'all' } })).status).toBe(400);
    });
  });
});
