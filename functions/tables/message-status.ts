import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { MESSAGE_STATUSES, canMove } from '../core/messages';
import type { MessageStatus, StoredStatus } from '../core/messages';
import { ddb } from '../shared/aws';
import { tableName } from '../shared/config';
import { isConditionFailure, part } from './dynamo';

/**
 * The message-status table, no content in it: `m#<messageId>` status
 * records, `c#...` clientMessageId records and `r#...` send counters.
 */
const table = () => tableName('messageStatus');

export const statusKey = (messageId: string) => ({ pk: `m#${messageId}` });

/** The key of a business's clientMessageId; the length prefix keeps two businesses' keys apart whatever their ids hold. */
export const clientMessageKey = (businessId: string, clientMessageId: string) => ({
  pk: `c#${businessId.length}:${businessId}#${clientMessageId}`,
});

export const rateKey = (businessId: string, windowStart: number) => ({ pk: `r#${businessId}#${windowStart}` });

export interface StatusRecord extends StoredStatus {
  messageId: string;
  businessId: string;
  recipientId: string;
}

/** The answer to a send, kept for its clientMessageId. */
export interface AcceptedAnswer {
  messageId: string;
  acceptedAt: string;
  /** Epoch seconds. */
  messageExpiresAt: number;
}

/** A new message's status record, for a transaction. */
export const statusPart = (record: StatusRecord, ttlSeconds: number) =>
  part('status', {
    Put: { TableName: table(), Item: { ...statusKey(record.messageId), ...record, expiresAt: ttlSeconds }, ConditionExpression: 'attribute_not_exists(pk)' },
  });

/** A clientMessageId record, for a transaction: its condition fails if the business used the id before. */
export function clientMessagePart(businessId: string, clientMessageId: string, answer: AcceptedAnswer, ttlSeconds: number) {
  return part('client-message-id', {
    Put: {
      TableName: table(),
      Item: {
        ...clientMessageKey(businessId, clientMessageId),
        businessId,
        messageId: answer.messageId,
        acceptedAt: answer.acceptedAt,
        messageExpiresAt: answer.messageExpiresAt,
        expiresAt: ttlSeconds,
      },
      ConditionExpression: 'attribute_not_exists(pk)',
    },
  });
}

/** The answer already given to this business for this clientMessageId, if any. */
export async function answerFor(businessId: string, clientMessageId: string): Promise<AcceptedAnswer | undefined> {
  const { Item } = await ddb.send(new GetCommand({ TableName: table(), Key: clientMessageKey(businessId, clientMessageId), ConsistentRead: true }));
  if (!Item || Item.businessId !== businessId) return undefined;
  return { messageId: Item.messageId, acceptedAt: Item.acceptedAt, messageExpiresAt: Item.messageExpiresAt };
}

export async function statusOf(messageId: string): Promise<StatusRecord | undefined> {
  const { Item } = await ddb.send(new GetCommand({ TableName: table(), Key: statusKey(messageId), ConsistentRead: true }));
  if (!Item) return undefined;
  return {
    messageId: Item.messageId,
    businessId: Item.businessId,
    recipientId: Item.recipientId,
    status: Item.status,
    acceptedAt: Item.acceptedAt,
    messageExpiresAt: Item.messageExpiresAt,
    updatedAt: Item.updatedAt,
  };
}

/**
 * Moves a message to a final status, on condition that its current status may
 * move there (`canMove`: only from accepted). Returns false when it may not
 * (already final: a status never goes back) or the message has no record.
 */
export async function finish(messageId: string, status: Exclude<MessageStatus, 'accepted'>, now: string): Promise<boolean> {
  const from = MESSAGE_STATUSES.filter((s) => canMove(s, status));
  try {
    await ddb.send(
      new UpdateCommand({
        TableName: table(),
        Key: statusKey(messageId),
        UpdateExpression: 'SET #s = :s, updatedAt = :now',
        ConditionExpression: `#s IN (${from.map((_, i) => `:from${i}`).join(', ')})`,
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':s': status, ':now': now, ...Object.fromEntries(from.map((s, i) => [`:from${i}`, s])) },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}

/**
 * Counts one send of the business in the window starting at `windowStart`,
 * unless it already holds `limit`. Returns whether the send may go ahead.
 * The counter goes with the TTL an hour after its window.
 */
export async function takeSendSlot(businessId: string, windowStart: number, windowEnd: number, limit: number): Promise<boolean> {
  if (limit <= 0) return false;
  try {
    await ddb.send(
      new UpdateCommand({
        TableName: table(),
        Key: rateKey(businessId, windowStart),
        UpdateExpression: 'ADD sent :one SET expiresAt = if_not_exists(expiresAt, :ttl)',
        ConditionExpression: 'attribute_not_exists(sent) OR sent < :limit',
        ExpressionAttributeValues: { ':one': 1, ':limit': limit, ':ttl': windowEnd + 3600 },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}
