/**
 * The sending limits against DynamoDB Local, where their conditions and
 * transactions are real: however many requests race, a new recipient is
 * counted once, a bucket never takes more than the limit allows, and a
 * recipient's daily count never goes past its limit.
 */
import { acceptance, hourOf, messageIdFactory } from '../../functions/core/messages';
import { reachRecipient, storeMessage } from '../../functions/services/messages';
import { Problem } from '../../functions/shared/problems';
import { contactKey, newRecipientsKey, recipientDayKey } from '../../functions/tables/message-status';
import { messageKey } from '../../functions/tables/messages';
import { functionCalls, passThrough, store, uniqueId } from './support/db';

beforeEach(() => passThrough());
afterAll(() => functionCalls.restore());

const HOUR = 3600;
/**
 * 12:10 UTC on the same day a year from now: ten minutes into an hour, and in
 * the future. DynamoDB Local deletes items whose TTL attribute has passed by
 * the machine's clock (within seconds), so the hour buckets, contacts and day
 * counters these tests write at T0 must not have expired by that clock; a
 * fixed T0 began failing these tests once the machine's date passed its TTLs.
 */
const T0 = (Math.floor(Date.now() / 86_400_000) + 365) * 86_400 + 12 * HOUR + 600;
const newMessageId = messageIdFactory();

/** What a reach came to: undefined when admitted, the problem's type and Retry-After when refused. */
async function reach(businessId: string, recipientId: string | undefined, now: number, limit: number) {
  try {
    await reachRecipient(businessId, recipientId, now, limit);
    return 'admitted';
  } catch (error) {
    if (error instanceof Problem) return `${error.status} ${error.slug} ${error.headers['retry-after']}`;
    throw error;
  }
}

const bucket = async (businessId: string, hour: number) => (await store.get('messageStatus', newRecipientsKey(businessId, hour)))?.reached;

describe('new recipients', () => {
  it('counts one recipient reached by many requests at once exactly once, and keeps it a contact for 30 days', async () => {
    const [business, bob] = [uniqueId('b'), uniqueId('u')];
    const outcomes = await Promise.all(Array.from({ length: 8 }, () => reach(business, bob, T0, 1000)));
    expect(outcomes).toEqual(Array(8).fill('admitted'));
    expect(await bucket(business, hourOf(T0))).toBe(1);
    expect(await store.get('messageStatus', contactKey(business, bob))).toEqual(expect.objectContaining({ expiresAt: T0 + 30 * 86_400 }));
    // A contact costs nothing later, however often
    for (let i = 0; i < 3; i++) expect(await reach(business, bob, T0 + 2 * HOUR + i, 1000)).toBe('admitted');
    expect(await bucket(business, hourOf(T0) + 2)).toBeUndefined();
  });

  it('admits exactly the limit of new recipients racing for the last places', async () => {
    const business = uniqueId('b');
    const people = Array.from({ length: 10 }, () => uniqueId('u'));
    const outcomes = await Promise.all(people.map((person) => reach(business, person, T0, 4)));
    expect(outcomes.filter((o) => o === 'admitted')).toHaveLength(4);
    // Refused until the current hour leaves the window, 25 hours after its start
    const hourStart = hourOf(T0) * HOUR;
    expect(outcomes.filter((o) => o !== 'admitted')).toEqual(Array(6).fill(`429 new-recipient-limit ${hourStart + 25 * HOUR - T0}`));
    expect(await bucket(business, hourOf(T0))).toBe(4);
    // The refused ones were not made contacts
    const contacts = await Promise.all(people.map((person) => store.get('messageStatus', contactKey(business, person))));
    expect(contacts.filter(Boolean)).toHaveLength(4);
  });

  it('counts a number with no account or key every time, keeping no contact', async () => {
    const business = uniqueId('b');
    expect([await reach(business, undefined, T0, 3), await reach(business, undefined, T0, 3), await reach(business, undefined, T0, 3)]).toEqual(
      Array(3).fill('admitted'),
    );
    expect(await reach(business, undefined, T0, 3)).toMatch(/^429 new-recipient-limit /);
    expect(await bucket(business, hourOf(T0))).toBe(3);
  });

  it('keeps any 24 hours at the limit: a recipient reached in hour h holds its place until hour h + 25 starts', async () => {
    const business = uniqueId('b');
    expect(await reach(business, uniqueId('u'), T0, 2)).toBe('admitted');
    expect(await reach(business, uniqueId('u'), T0 + 3 * HOUR, 2)).toBe('admitted');
    // 24 hours after the first: the first still counts (its hour is in the window)
    expect(await reach(business, uniqueId('u'), T0 + 24 * HOUR, 2)).toMatch(/^429 /);
    // Its hour has left the window
    const nextFree = (hourOf(T0) + 25) * HOUR;
    expect(await reach(business, uniqueId('u'), nextFree - 1, 2)).toMatch(/^429 new-recipient-limit 1$/);
    expect(await reach(business, uniqueId('u'), nextFree, 2)).toBe('admitted');
    expect(await reach(business, uniqueId('u'), nextFree + 1, 2)).toMatch(/^429 /);
  });
});

describe('messages to one recipient per day', () => {
  it('stores exactly the limit of messages racing to one recipient, and counts none of those refused', async () => {
    const [business, bob] = [uniqueId('b'), uniqueId('u')];
    const now = new Date(T0 * 1000);
    const ids = Array.from({ length: 7 }, () => newMessageId(now.getTime()));
    const outcomes = await Promise.all(
      ids.map((messageId) =>
        storeMessage({ messageId, businessId: business, recipientId: bob, category: 'receipt', ciphertext: 'QUJD', keyId: 'key-1' }, acceptance(now), 3),
      ),
    );
    const stored = ids.filter((_, i) => outcomes[i]!.kind === 'stored');
    expect(stored).toHaveLength(3);
    const dayEnd = (Math.floor(T0 / 86_400) + 1) * 86_400;
    // Refused (or, racing on the same counter, told to try again): never stored
    for (const outcome of outcomes.filter((o) => o.kind !== 'stored')) expect(['limited', 'conflict']).toContain(outcome.kind);
    expect((await Promise.all(ids.map((id) => store.get('messages', messageKey(bob, id))))).filter(Boolean)).toHaveLength(3);
    expect(await store.get('messageStatus', recipientDayKey(business, bob, Math.floor(T0 / 86_400)))).toEqual(
      expect.objectContaining({ sent: 3, expiresAt: dayEnd + 86_400 }),
    );
    // The next one is refused until the next UTC day
    const next = await storeMessage(
      { messageId: newMessageId(now.getTime()), businessId: business, recipientId: bob, category: 'receipt', ciphertext: 'QUJD', keyId: 'key-1' },
      acceptance(now),
      3,
    );
    expect(next).toEqual({ kind: 'limited', retryAfter: dayEnd - T0 });
  });
});
