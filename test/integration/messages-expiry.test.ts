/**
 * Business messages against time, on a private local stack (moving the clock
 * would disturb every other test on the shared one): 30-day expiry before
 * and after DynamoDB's TTL process, acknowledgement at the last second, and
 * the per-business send rate (set to 3 a minute for this stack).
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { eventually, startStack, tableName } from './support';
import type { PrivateStack } from './support';
import { ack, inbox, newBusiness, newRecipient, sealed, send, statusOf, storedMessagesOf } from './messages.helpers';
import type { StackApi } from './messages.helpers';
import { statusKey } from '../../functions/tables/message-status';

const THIRTY_DAYS = 2_592_000;
const RATE = 3;

let stack: PrivateStack;
let api: StackApi;

beforeAll(async () => {
  stack = await startStack({ env: { MESSAGE_SEND_RATE_PER_BUSINESS: String(RATE) } });
  api = { api: stack.api, tokenFor: stack.tokenFor, clients: stack.clients } as StackApi;
}, 90_000);
afterAll(async () => {
  await stack?.stop();
});

/** The stack's clock now, in epoch milliseconds. */
async function stackNow(): Promise<number> {
  return Date.parse((await stack.health()).clock.now);
}

async function advance(seconds: number): Promise<number> {
  const res = await stack.api<{ now: string }>('POST', '/_local/clock', { body: { advanceSeconds: seconds } });
  expect(res.status).toBe(200);
  return Date.parse(res.json.now);
}

async function sweep(): Promise<number> {
  const res = await stack.api<{ deleted: number }>('POST', '/_local/ttl-sweep');
  expect(res.status).toBe(200);
  return res.json.deleted;
}

async function storedStatus(messageId: string): Promise<unknown> {
  const { ddb } = await stack.clients();
  const { Item } = await ddb.send(new GetCommand({ TableName: tableName('messageStatus'), Key: statusKey(messageId), ConsistentRead: true }));
  return Item?.status;
}

const waitLong = { timeoutMs: 45_000, intervalMs: 250 };

describe('message expiry', () => {
  it('hides a message 30 days and 1 s after acceptance before any sweep; the sweep removes it and its status becomes expired', async () => {
    // Prepare: a recipient who stays offline
    const business = await newBusiness(api);
    const user = await newRecipient(api);
    const sent = await send(api, business, user);
    expect((await inbox(api, user)).map((m) => m.messageId)).toEqual([sent.messageId]);

    // Act: 30 days and one second later, before DynamoDB's TTL process runs
    await advance(THIRTY_DAYS + 1);

    // Assess: never returned again, not acknowledgeable, though still stored
    expect(await inbox(api, user)).toEqual([]);
    expect(await ack(api, user, [sent.messageId])).toBe(0);
    expect((await storedMessagesOf(api, user.sub)).map((m) => m.messageId)).toEqual([sent.messageId]);
    expect((await statusOf(api, business, sent.messageId)).json.status).toBe('accepted');

    // Act: the TTL process runs
    expect(await sweep()).toBeGreaterThanOrEqual(1);

    // Assess: gone from the store, and the stream made the status expired
    expect(await storedMessagesOf(api, user.sub)).toEqual([]);
    expect(await inbox(api, user)).toEqual([]);
    await eventually(async () => expect(await storedStatus(sent.messageId)).toBe('expired'), waitLong);
    const status = await statusOf(api, business, sent.messageId);
    expect(status.json).toEqual(
      expect.objectContaining({ messageId: sent.messageId, status: 'expired', acceptedAt: sent.acceptedAt, expiresAt: sent.expiresAt }),
    );
  });

  it('shows an unacknowledged message past its expiry as expired even before the TTL process removes it', async () => {
    const business = await newBusiness(api);
    const user = await newRecipient(api);
    const sent = await send(api, business, user);
    await advance(THIRTY_DAYS + 120);
    expect(await storedMessagesOf(api, user.sub)).toHaveLength(1);
    const status = await statusOf(api, business, sent.messageId);
    expect(status.json).toEqual(expect.objectContaining({ status: 'expired', updatedAt: sent.expiresAt }));
    // The sweep's removal then records what was already shown.
    await sweep();
    await eventually(async () => expect(await storedStatus(sent.messageId)).toBe('expired'), waitLong);
    expect((await statusOf(api, business, sent.messageId)).json.status).toBe('expired');
  });

  it('delivers a message acknowledged one second before expiry, and the sweep afterwards changes nothing', async () => {
    const user = await newRecipient(api);
    // The acknowledgement must land within the stack's second before expiresAt;
    // on a slow machine the second may tick over first, so try a few messages.
    for (let attempt = 1; ; attempt++) {
      const business = await newBusiness(api);
      const sent = await send(api, business, user);
      const expiresAtMs = Date.parse(sent.expiresAt);
      // Start right after a second begins, to leave the acknowledgement most of it.
      await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 20));
      // Move the stack's clock into the second before expiresAt (it keeps its millisecond fraction).
      const now = await stackNow();
      await advance((expiresAtMs - 1000 - Math.floor(now / 1000) * 1000) / 1000);
      const acknowledged = await ack(api, user, [sent.messageId]);
      const after = await stackNow();
      if (acknowledged === 1) {
        // Past expiry now, and the TTL process runs: the status stays delivered.
        await advance(3600);
        await sweep();
        await eventually(async () => expect((await statusOf(api, business, sent.messageId)).json.status).toBe('delivered'), waitLong);
        await new Promise((r) => setTimeout(r, 1000));
        expect((await statusOf(api, business, sent.messageId)).json.status).toBe('delivered');
        expect(await storedStatus(sent.messageId)).toBe('delivered');
        return;
      }
      // Too late: the acknowledgement arrived at or after expiresAt and was refused, as it must be.
      expect(after).toBeGreaterThanOrEqual(expiresAtMs);
      if (attempt >= 3) throw new Error('Could not acknowledge within the second before expiry in 3 attempts');
    }
  });
});

describe('send rate per business', () => {
  it(`answers 429 with Retry-After after ${RATE} sends in a minute, and accepts again in the next window`, async () => {
    // Prepare
    const [business, other] = [await newBusiness(api), await newBusiness(api)];
    const user = await newRecipient(api);
    // Start early in a minute of the stack's clock so the sends share one window.
    const now = await stackNow();
    await advance(60 - Math.floor((now % 60_000) / 1000));
    // Act
    for (let i = 0; i < RATE; i++) await send(api, business, user);
    const refused = await stack.api('POST', '/v1/messages', {
      token: business.token,
      body: { to: user.phone.typed, category: 'receipt', keyId: user.key.keyId, ciphertext: sealed() },
    });
    // Assess
    expect(refused.status).toBe(429);
    expect(refused.headers['content-type']).toBe('application/problem+json');
    const retryAfter = Number(refused.headers['retry-after']);
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true);
    expect(refused.text).not.toContain(user.phone.e164.slice(2));
    // Another business is not held back.
    await send(api, other, user);
    // After Retry-After seconds the business may send again.
    await advance(retryAfter);
    await send(api, business, user);
    expect(await inbox(api, user)).toHaveLength(RATE + 2);
  });
});
