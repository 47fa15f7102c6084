/**
 * The sending limits, on a private local stack (the clock moves) configured
 * with small limits: 3 new recipients per business per rolling 24 hours, 2
 * messages per business to one recipient per UTC day. Both answer 429 with
 * Retry-After and a problem document naming the limit; key lookups and
 * numbers nobody holds count as new recipients; recipients reached lately
 * cost nothing; other businesses are not held back.
 */
import { startStack, type PrivateStack } from './support';
import { freshPhone, inbox, newBusiness, newRecipient, sealed, send, type Party, type Recipient, type StackApi } from './messages.helpers';

const NEW_PER_DAY = 3;
const PER_RECIPIENT_PER_DAY = 2;
const HOUR = 3600;
const DAY = 86_400;

let stack: PrivateStack;
let api: StackApi;

beforeAll(async () => {
  stack = await startStack({ env: { MESSAGE_NEW_RECIPIENTS_PER_DAY: String(NEW_PER_DAY), MESSAGES_PER_RECIPIENT_PER_DAY: String(PER_RECIPIENT_PER_DAY) } });
  api = { api: stack.api, tokenFor: stack.tokenFor, clients: stack.clients } as StackApi;
}, 90_000);
afterAll(async () => {
  await stack?.stop();
});

async function stackNow(): Promise<number> {
  return Math.floor(Date.parse((await stack.health()).clock.now) / 1000);
}

async function advance(seconds: number): Promise<void> {
  expect((await stack.api('POST', '/_local/clock', { body: { advanceSeconds: seconds } })).status).toBe(200);
}

/** Moves the stack's clock to `offset` seconds into the next hour (or day, with `unit`). */
async function startOfNext(unit: number, offset = 5): Promise<void> {
  const now = await stackNow();
  await advance(unit - (now % unit) + offset);
}

const lookup = (business: Party, e164: string) => stack.api('GET', `/v1/recipients/${encodeURIComponent(e164)}/key`, { token: business.token });
const post = (business: Party, to: Recipient, keyId = to.key.keyId) =>
  stack.api('POST', '/v1/messages', { token: business.token, body: { to: to.phone.e164, category: 'receipt', keyId, ciphertext: sealed() } });

function expectLimited(
  res: { status: number; headers: Record<string, string>; json: Record<string, unknown>; text: string },
  type: string,
  retryAfter: [number, number],
) {
  expect(res.status).toBe(429);
  expect(res.headers['content-type']).toBe('application/problem+json');
  expect(res.json).toEqual(expect.objectContaining({ type, title: expect.any(String), status: 429, detail: expect.any(String) }));
  const seconds = Number(res.headers['retry-after']);
  expect(Number.isInteger(seconds)).toBe(true);
  expect(seconds).toBeGreaterThanOrEqual(retryAfter[0]);
  expect(seconds).toBeLessThanOrEqual(retryAfter[1]);
  return seconds;
}

describe('new recipients per rolling 24 hours', () => {
  it('counts key lookups, sends and unknown numbers; contacts are free; the 4th new recipient gets 429 until the first leaves the window', async () => {
    // Prepare: early in an hour, a business and five recipients
    await startOfNext(HOUR);
    const [shop, other] = [await newBusiness(api), await newBusiness(api)];
    const people: Recipient[] = [];
    for (let i = 0; i < 5; i++) people.push(await newRecipient(api));
    const [a, b, c, d, e] = people as [Recipient, Recipient, Recipient, Recipient, Recipient];

    // Act: a key lookup (a), a send without a lookup first (b), a number nobody holds
    expect((await lookup(shop, a.phone.e164)).status).toBe(200);
    await send(api, shop, b);
    expect((await lookup(shop, freshPhone().e164)).status).toBe(404);
    // Recipients reached already cost nothing, however often
    await send(api, shop, a);
    expect((await lookup(shop, b.phone.e164)).status).toBe(200);
    expect((await lookup(shop, a.phone.e164)).status).toBe(200);

    // Assess: the 4th new recipient is refused, by lookup or send, and so is another unknown number
    const lookedUp = await lookup(shop, c.phone.e164);
    const retryAfter = expectLimited(lookedUp, '/problems/new-recipient-limit', [1, 25 * HOUR]);
    expectLimited(await post(shop, c), '/problems/new-recipient-limit', [retryAfter - 5, retryAfter]);
    expectLimited(await lookup(shop, freshPhone().e164), '/problems/new-recipient-limit', [retryAfter - 5, retryAfter]);
    expect(lookedUp.text).not.toContain(c.phone.e164.slice(2));
    expect(await inbox(api, c)).toEqual([]);
    // ...but its contacts are still reachable, and another business is not held back
    await send(api, shop, b);
    for (const person of [c, d, e]) await send(api, other, person);

    // Later in the window: still refused
    await advance(20 * HOUR);
    expectLimited(await lookup(shop, d.phone.e164), '/problems/new-recipient-limit', [1, 5 * HOUR]);
    // Once the hour of the first three has left the window (24 to 25 hours after it), places come back
    await startOfNext(HOUR, 1);
    await advance(4 * HOUR);
    expect((await lookup(shop, c.phone.e164)).status).toBe(200);
    expect((await post(shop, c)).status).toBe(202);
    // ...three new ones in any 24 hours, no more
    expect((await lookup(shop, d.phone.e164)).status).toBe(200);
    expect((await lookup(shop, e.phone.e164)).status).toBe(200);
    expectLimited(await lookup(shop, freshPhone().e164), '/problems/new-recipient-limit', [1, 25 * HOUR]);
  });
});

describe('messages per business to one recipient per day', () => {
  it('answers 429 until the next UTC day after 2 messages to one recipient; other recipients and businesses are not held back', async () => {
    // Prepare: early in a UTC day
    await startOfNext(DAY, 60);
    const [shop, other] = [await newBusiness(api), await newBusiness(api)];
    const [bob, ana] = [await newRecipient(api), await newRecipient(api)];
    // Act
    for (let i = 0; i < PER_RECIPIENT_PER_DAY; i++) await send(api, shop, bob);
    const refused = await post(shop, bob);
    // Assess
    const now = await stackNow();
    const untilTomorrow = DAY - (now % DAY);
    expectLimited(refused, '/problems/recipient-daily-limit', [untilTomorrow - 5, untilTomorrow + 1]);
    expect(refused.text).not.toContain(bob.phone.e164.slice(2));
    // A repeated clientMessageId is the same message, not a new one: it is answered, not counted
    await send(api, shop, ana, { clientMessageId: 'order-1' });
    await send(api, shop, ana, { clientMessageId: 'order-1' });
    await send(api, shop, ana, { clientMessageId: 'order-2' });
    expect((await post(shop, ana)).status).toBe(429);
    await send(api, other, bob);
    expect(await inbox(api, bob)).toHaveLength(PER_RECIPIENT_PER_DAY + 1);
    // The next UTC day, the business may write to Bob again
    await advance(Number(refused.headers['retry-after']));
    expect((await post(shop, bob)).status).toBe(202);
  });

  it('counts a message to a blocked recipient as any other (nothing tells the sender it is blocked)', async () => {
    const shop = await newBusiness(api);
    const bob = await newRecipient(api);
    expect((await stack.api('PUT', `/v1/me/blocks/${shop.sub}`, { token: bob.token })).status).toBe(204);
    for (let i = 0; i < PER_RECIPIENT_PER_DAY; i++) expect((await post(shop, bob)).status).toBe(202);
    expect((await post(shop, bob)).status).toBe(429);
    expect(await inbox(api, bob)).toEqual([]);
  });
});
