import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { Acceptance, MessageCategory } from '../core/messages';
import { ddb } from '../shared/aws';
import { failedConditions } from './dynamo';
import type { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { clientMessagePut, statusPut } from './message-status';
import { messagePut } from './messages';

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
    await ddb.send(
      new TransactWriteCommand({
        TransactItems: [
          ...(clientMessageId
            ? [
                {
                  Put: clientMessagePut(
                    businessId,
                    clientMessageId,
                    { messageId, acceptedAt: times.acceptedAt, messageExpiresAt: times.expiresAtSeconds },
                    times.statusExpiresAtSeconds,
                  ),
                },
              ]
            : []),
          {
            Put: messagePut({
              recipientId,
              messageId,
              businessId,
              category,
              ciphertext,
              acceptedAt: times.acceptedAt,
              expiresAt: times.expiresAtSeconds,
            }),
          },
          {
            Put: statusPut(
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
          },
        ],
      }),
    );
    return { kind: 'stored' };
  } catch (error) {
    const failed = failedConditions(error);
    if (clientMessageId && failed?.includes(0)) return { kind: 'duplicate' };
    if (failed && isTransactionConflict(error)) return { kind: 'conflict' };
    throw error;
  }
}

const isTransactionConflict = (error: unknown): boolean =>
  ((error as TransactionCanceledException).CancellationReasons ?? []).some((r) => r.Code === 'TransactionConflict');
