import type { Acceptance, MessageCategory } from '../core/messages';
import {
  CONTACT_REFRESH_BELOW_SECONDS,
  CONTACT_SECONDS,
  currentHourAllowance,
  dayWindow,
  earlierHours,
  hourOf,
  newRecipientRetryAfter,
} from '../core/messages';
import { isoSeconds } from '../shared/clock';
import { conflict, tooManyRequests } from '../shared/problems';
import { jittered, optimistic, retry } from '../shared/retry';
import { transact, TransactionCancelled } from '../tables/dynamo';
import {
  clientMessagePart,
  contactUntil,
  countNewRecipientPart,
  extendContact,
  newContactPart,
  newRecipientCounts,
  recipientDayPart,
  statusPart,
} from '../tables/message-status';
import { deliverableMessageIds, messagePart, withhold } from '../tables/messages';
import type { WithheldReason } from '../tables/messages';

export interface NewMessage {
  messageId: string;
  businessId: string;
  recipientId: string;
  category: MessageCategory;
  ciphertext: string;
  keyId: string;
  clientMessageId?: string;
  /** Set when the message is accepted but never delivered (the recipient blocks the business). */
  withheld?: WithheldReason;
}

/**
 * `duplicate`: the business used the clientMessageId before. `conflict`: a
 * concurrent transaction on the same items won (typically a concurrent send
 * with the same clientMessageId); nothing was written, and the send may be
 * tried again. `limited`: the business has sent the recipient as many
 * messages today as it may; nothing was written.
 */
export type StoreOutcome = { kind: 'stored' } | { kind: 'duplicate' } | { kind: 'conflict' } | { kind: 'limited'; retryAfter: number };

/**
 * Stores a new message in one transaction: the message for its recipient
 * (withheld, without its ciphertext, when the recipient blocks the sender),
 * its status record (`accepted`), the count of the business's messages to
 * the recipient today (on condition that it is below `perRecipientPerDay`)
 * and, with a clientMessageId, the record of that id, on condition that the
 * business has not used it before. Either all are written or none: a
 * concurrent send with the same clientMessageId comes back as `duplicate`
 * and stores nothing, and a refused one counts nothing.
 */
export async function storeMessage(message: NewMessage, times: Acceptance, perRecipientPerDay: number): Promise<StoreOutcome> {
  const { messageId, businessId, recipientId, category, ciphertext, keyId, clientMessageId, withheld } = message;
  const day = dayWindow(Math.floor(Date.parse(times.acceptedAt) / 1000));
  if (perRecipientPerDay <= 0) return { kind: 'limited', retryAfter: day.retryAfter };
  const common = { recipientId, messageId, businessId, acceptedAt: times.acceptedAt, expiresAt: times.expiresAtSeconds };
  try {
    await transact([
      clientMessageId !== undefined &&
        clientMessagePart(
          businessId,
          clientMessageId,
          { messageId, acceptedAt: times.acceptedAt, messageExpiresAt: times.expiresAtSeconds },
          times.statusExpiresAtSeconds,
        ),
      messagePart(withheld ? { ...common, withheld } : { ...common, category, ciphertext, keyId }),
      statusPart(
        {
          messageId,
          businessId,
          recipientId,
          status: 'accepted',
          acceptedAt: times.acceptedAt,
          messageExpiresAt: times.expiresAtSeconds,
          updatedAt: times.acceptedAt,
        },
        times.statusExpiresAtSeconds,
      ),
      recipientDayPart(businessId, recipientId, day.day, day.end, perRecipientPerDay),
    ]);
    return { kind: 'stored' };
  } catch (error) {
    if (!(error instanceof TransactionCancelled)) throw error;
    if (error.failedOn('client-message-id')) return { kind: 'duplicate' };
    if (error.failedOn('recipient-day')) return { kind: 'limited', retryAfter: day.retryAfter };
    if (error.conflicted) return { kind: 'conflict' };
    throw error;
  }
}

const REACH_ATTEMPTS = 5;

export const newRecipientLimited = (retryAfter: number) =>
  tooManyRequests(retryAfter, {
    slug: 'new-recipient-limit',
    detail: 'The business has reached as many new recipients in the last 24 hours as it may (key lookups count)',
  });

export const recipientDailyLimited = (retryAfter: number) =>
  tooManyRequests(retryAfter, { slug: 'recipient-daily-limit', detail: 'The business has sent this recipient as many messages today (UTC) as it may' });

/**
 * A business reaches a recipient (looks up their key, or sends them a
 * message). A recipient it reached within the last 30 days is a contact and
 * costs nothing (the contact is extended). Anyone else is a new recipient:
 * counted against `newPerDay` new recipients per rolling 24 hours (see
 * `NEW_RECIPIENT_BUCKETS`), and refused with 429 beyond it. `recipientId`
 * is undefined for a number with no account or no key: such a lookup counts
 * as a new recipient every time (no contact is kept for it), so probing
 * numbers for who is registered costs as much as reaching people.
 */
export async function reachRecipient(businessId: string, recipientId: string | undefined, nowSeconds: number, newPerDay: number): Promise<void> {
  await optimistic(
    { attempts: REACH_ATTEMPTS, exhausted: () => conflict('concurrent-change', 'Too many requests for this business at the same time; try again.') },
    async () => {
      if (recipientId !== undefined) {
        const until = await contactUntil(businessId, recipientId);
        if (until !== undefined && until > nowSeconds) {
          if (until - nowSeconds >= CONTACT_REFRESH_BELOW_SECONDS) return undefined;
          return (await extendContact(businessId, recipientId, nowSeconds, nowSeconds + CONTACT_SECONDS)) ? undefined : retry();
        }
      }
      const hour = hourOf(nowSeconds);
      const counts = await newRecipientCounts(businessId, [...earlierHours(hour), hour]);
      const allowance = currentHourAllowance(newPerDay, new Map([...counts].filter(([h]) => h !== hour)));
      if ((counts.get(hour) ?? 0) >= allowance) throw newRecipientLimited(newRecipientRetryAfter(nowSeconds, newPerDay, counts));
      try {
        await transact([
          recipientId !== undefined && newContactPart(businessId, recipientId, nowSeconds, nowSeconds + CONTACT_SECONDS),
          countNewRecipientPart(businessId, hour, allowance),
        ]);
        return undefined;
      } catch (error) {
        if (!(error instanceof TransactionCancelled)) throw error;
        // Another request made the recipient a contact, or took the bucket's last places: read again.
        if (error.failedOn('contact', 'new-recipients')) return retry();
        if (error.conflicted) return retry(jittered(25));
        throw error;
      }
    },
  );
}

/**
 * An erased account's messages are withheld for good: their ciphertext is
 * deleted at once, and what is left (no content) stays until its own expiry,
 * when DynamoDB's TTL deletes it like any undelivered message. Their senders
 * therefore see them `accepted` until `expiresAt` and `expired` after, as if
 * the recipient had stayed offline: nothing tells them when, or that, the
 * user erased the account. Only messages accepted by the time of the erasure
 * (`erasedAt`) are withheld. Repeating it finds nothing left to do.
 */
export async function withholdErasedMessages(userId: string, erasedAt: Date): Promise<number> {
  const ids = await deliverableMessageIds(userId, isoSeconds(erasedAt));
  let withheld = 0;
  for (const messageId of ids) if (await withhold(userId, messageId, 'erased')) withheld += 1;
  return withheld;
}
