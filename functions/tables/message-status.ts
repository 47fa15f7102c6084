import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { HOUR_SECONDS, MESSAGE_STATUSES, NEW_RECIPIENT_BUCKETS, canMove } from '../core/messages';
import type { MessageStatus, StoredStatus } from '../core/messages';
import { ddb } from '../shared/aws';
import { tableName } from '../shared/config';
import { batchGetAll } from './batch';
import { isConditionFailure, part } from './dynamo';

/**
 * The message-status table, no content in it: `m#<messageId>` status
 * records, `c#...` clientMessageId records, and the counters of the sending
 * limits, each gone with the TTL once it no longer counts: `r#...` sends of
 * a business per minute, `n#...` the business's contacts (recipients it
 * reached lately), `h#...` new recipients it reached per hour, and `d#...`
 * its messages to one recipient per UTC day.
 */
const table = () => tableName('messageStatus');

export const statusKey = (messageId: string) => ({ pk: `m#${messageId}` });

/** The key of a business's clientMessageId; the length prefix keeps two businesses' keys apart whatever their ids hold. */
export const clientMessageKey = (businessId: string, clientMessageId: string) => ({
  pk: `c#${businessId.length}:${businessId}#${clientMessageId}`,
});

export const rateKey = (businessId: string, windowStart: number) => ({ pk: `r#${businessId}#${windowStart}` });

/** An id with its length in front, so that two ids joined in one key never read as another pair. */
const sized = (id: string) => `${id.length}:${id}`;

/** The business's contact with a recipient: while it lasts, the recipient is not new to the business. */
export const contactKey = (businessId: string, recipientId: string) => ({ pk: `n#${sized(businessId)}#${sized(recipientId)}` });
/** New recipients the business reached in one hour (hours since the epoch). */
export const newRecipientsKey = (businessId: string, hour: number) => ({ pk: `h#${sized(businessId)}#${hour}` });
/** Messages the business sent one recipient in one UTC day (days since the epoch). */
export const recipientDayKey = (businessId: string, recipientId: string, day: number) => ({ pk: `d#${sized(businessId)}#${sized(recipientId)}#${day}` });

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

// ------------------------------------------------------------ contacts and new recipients

/** Until when (epoch seconds) the business's contact with the recipient lasts, if there is one (it may have run out). */
export async function contactUntil(businessId: string, recipientId: string): Promise<number | undefined> {
  const { Item } = await ddb.send(
    new GetCommand({ TableName: table(), Key: contactKey(businessId, recipientId), ConsistentRead: true, ProjectionExpression: 'expiresAt' }),
  );
  return typeof Item?.expiresAt === 'number' ? Item.expiresAt : undefined;
}

/** Extends a contact that still lasts at `nowSeconds` to `until`; false when it has run out (or is gone) meanwhile. */
export async function extendContact(businessId: string, recipientId: string, nowSeconds: number, until: number): Promise<boolean> {
  try {
    await ddb.send(
      new UpdateCommand({
        TableName: table(),
        Key: contactKey(businessId, recipientId),
        UpdateExpression: 'SET expiresAt = :until',
        ConditionExpression: 'expiresAt > :now',
        ExpressionAttributeValues: { ':until': until, ':now': nowSeconds },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}

/** A new contact, for a transaction: its condition fails when a contact that still lasts exists already. */
export const newContactPart = (businessId: string, recipientId: string, nowSeconds: number, until: number) =>
  part('contact', {
    Put: {
      TableName: table(),
      Item: { ...contactKey(businessId, recipientId), expiresAt: until },
      ConditionExpression: 'attribute_not_exists(pk) OR expiresAt <= :now',
      ExpressionAttributeValues: { ':now': nowSeconds },
    },
  });

/** The new-recipient counts of the business in the given hours (hours without one are left out). */
export async function newRecipientCounts(businessId: string, hours: readonly number[]): Promise<Map<number, number>> {
  const items = await batchGetAll(
    table(),
    hours.map((hour) => newRecipientsKey(businessId, hour)),
    { consistent: true },
  );
  const byKey = new Map(items.map((item) => [item.pk as string, typeof item.reached === 'number' ? item.reached : 0]));
  const counts = new Map<number, number>();
  for (const hour of hours) {
    const count = byKey.get(newRecipientsKey(businessId, hour).pk);
    if (count !== undefined) counts.set(hour, count);
  }
  return counts;
}

/**
 * Counts one new recipient in the hour's bucket, for a transaction: its
 * condition fails when the bucket already holds `allowance`. The bucket goes
 * with the TTL an hour after it stops counting.
 */
export const countNewRecipientPart = (businessId: string, hour: number, allowance: number) =>
  part('new-recipients', {
    Update: {
      TableName: table(),
      Key: newRecipientsKey(businessId, hour),
      UpdateExpression: 'ADD reached :one SET expiresAt = if_not_exists(expiresAt, :ttl)',
      ConditionExpression: 'attribute_not_exists(reached) OR reached < :allowance',
      ExpressionAttributeValues: { ':one': 1, ':allowance': allowance, ':ttl': (hour + NEW_RECIPIENT_BUCKETS + 1) * HOUR_SECONDS },
    },
  });

/**
 * Counts one message of the business to the recipient in the day, for a
 * transaction: its condition fails when the day already holds `limit`. The
 * counter goes with the TTL a day after its day.
 */
export const recipientDayPart = (businessId: string, recipientId: string, day: number, dayEnd: number, limit: number) =>
  part('recipient-day', {
    Update: {
      TableName: table(),
      Key: recipientDayKey(businessId, recipientId, day),
      UpdateExpression: 'ADD sent :one SET expiresAt = if_not_exists(expiresAt, :ttl)',
      ConditionExpression: 'attribute_not_exists(sent) OR sent < :limit',
      ExpressionAttributeValues: { ':one': 1, ':limit': limit, ':ttl': dayEnd + 86_400 },
    },
  });
