import type { Acceptance, MessageCategory } from '../core/messages';
import { clock, isoSeconds } from '../shared/clock';
import { transact, TransactionCancelled } from '../tables/dynamo';
import { clientMessagePart, finish, statusPart } from '../tables/message-status';
import { deleteMessage, messagePart, storedMessageIds } from '../tables/messages';

export interface NewMessage {
  messageId: string;
  businessId: string;
  recipientId: string;
  category: MessageCategory;
  ciphertext: string;
  clientMessageId?: string;
}

/**
 * `duplicate`: the business used the clientMessageId before. `conflict`: a
 * concurrent transaction on the same items won (typically a concurrent send
 * with the same clientMessageId); nothing was written, and the send may be
 * tried again.
 */
export type StoreOutcome = { kind: 'stored' } | { kind: 'duplicate' } | { kind: 'conflict' };

/**
 * Stores a new message in one transaction: the message for its recipient,
 * its status record (`accepted`) and, with a clientMessageId, the record of
 * that id, on condition that the business has not used it before. Either all
 * three are written or none: a concurrent send with the same clientMessageId
 * comes back as `duplicate` and stores nothing.
 */
export async function storeMessage(message: NewMessage, times: Acceptance): Promise<StoreOutcome> {
  const { messageId, businessId, recipientId, category, ciphertext, clientMessageId } = message;
  try {
    await transact([
      clientMessageId !== undefined &&
        clientMessagePart(
          businessId,
          clientMessageId,
          { messageId, acceptedAt: times.acceptedAt, messageExpiresAt: times.expiresAtSeconds },
          times.statusExpiresAtSeconds,
        ),
      messagePart({ recipientId, messageId, businessId, category, ciphertext, acceptedAt: times.acceptedAt, expiresAt: times.expiresAtSeconds }),
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
    ]);
    return { kind: 'stored' };
  } catch (error) {
    if (!(error instanceof TransactionCancelled)) throw error;
    if (error.failedOn('client-message-id')) return { kind: 'duplicate' };
    if (error.conflicted) return { kind: 'conflict' };
    throw error;
  }
}

/**
 * An erased account's pending messages are deleted. Each is first marked
 * `expired` for its sender (it will never be delivered), then deleted; the
 * status function's later "removed, so delivered" finds the status final and
 * leaves it. Repeating it finds nothing left to do.
 */
export async function erasePendingMessages(userId: string): Promise<number> {
  const ids = await storedMessageIds(userId);
  for (const messageId of ids) {
    await finish(messageId, 'expired', isoSeconds(clock.now()));
    await deleteMessage(userId, messageId);
  }
  return ids.length;
}
