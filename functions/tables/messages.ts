import { DeleteCommand, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { MessageCategory } from '../core/messages';
import { secondsToIso } from '../core/messages';
import { ddb } from '../shared/aws';
import { tableName } from '../shared/config';
import { isConditionFailure, part, queryAll } from './dynamo';

/**
 * The undelivered-messages table: one item a message, keyed by recipient and
 * time-ordered message id, deleted when acknowledged or, after `expiresAt`,
 * by DynamoDB TTL. `ciphertext` is opaque and never logged.
 */
const table = () => tableName('messages');

export const messageKey = (recipientId: string, messageId: string) => ({ recipientId, messageId });

export interface StoredMessage {
  recipientId: string;
  messageId: string;
  businessId: string;
  category: MessageCategory;
  ciphertext: string;
  acceptedAt: string;
  /** Epoch seconds, the TTL attribute. */
  expiresAt: number;
}

/** A new message, for a transaction. */
export const messagePart = (message: StoredMessage) =>
  part('message', { Put: { TableName: table(), Item: { ...message }, ConditionExpression: 'attribute_not_exists(messageId)' } });

/** A message as its recipient sees it. */
export interface InboxMessage {
  messageId: string;
  from: string;
  category: MessageCategory;
  ciphertext: string;
  acceptedAt: string;
  expiresAt: string;
}

const inboxMessageOf = (item: Record<string, unknown>): InboxMessage => ({
  messageId: item.messageId as string,
  from: item.businessId as string,
  category: item.category as MessageCategory,
  ciphertext: item.ciphertext as string,
  acceptedAt: item.acceptedAt as string,
  expiresAt: secondsToIso(item.expiresAt as number),
});

export interface InboxPage {
  items: InboxMessage[];
  /** The id of the last message returned, when more may be waiting. */
  lastMessageId?: string;
}

/**
 * A recipient's unexpired messages, oldest first, after `afterMessageId` if
 * given: at most `limit` of them and no more ciphertext characters than
 * `maxChars` (at least one message always fits), reading as many pages as
 * that takes. Expired items, which DynamoDB deletes only within days, are
 * filtered out by the query itself.
 */
export async function pendingMessages(
  recipientId: string,
  nowSeconds: number,
  options: { limit: number; maxChars: number; afterMessageId?: string },
): Promise<InboxPage> {
  const items: InboxMessage[] = [];
  let chars = 0;
  let ExclusiveStartKey: Record<string, unknown> | undefined = options.afterMessageId ? messageKey(recipientId, options.afterMessageId) : undefined;
  do {
    const page = await ddb.send(
      new QueryCommand({
        TableName: table(),
        KeyConditionExpression: 'recipientId = :r',
        FilterExpression: 'expiresAt > :now',
        ProjectionExpression: 'messageId, businessId, category, ciphertext, acceptedAt, expiresAt',
        ExpressionAttributeValues: { ':r': recipientId, ':now': nowSeconds },
        ScanIndexForward: true,
        ExclusiveStartKey,
      }),
    );
    for (const item of page.Items ?? []) {
      const message = inboxMessageOf(item);
      if (items.length >= options.limit || (items.length > 0 && chars + message.ciphertext.length > options.maxChars)) {
        return { items, lastMessageId: items[items.length - 1]!.messageId };
      }
      items.push(message);
      chars += message.ciphertext.length;
    }
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return { items };
}

/**
 * Deletes one of the recipient's messages if it is there and not expired.
 * Returns whether it did; a missing, foreign (another recipient's key) or
 * expired message is left alone.
 */
export async function deleteDelivered(recipientId: string, messageId: string, nowSeconds: number): Promise<boolean> {
  try {
    await ddb.send(
      new DeleteCommand({
        TableName: table(),
        Key: messageKey(recipientId, messageId),
        ConditionExpression: 'attribute_exists(messageId) AND expiresAt > :now',
        ExpressionAttributeValues: { ':now': nowSeconds },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}

/** Whether a message is still stored (not acknowledged, not yet deleted by TTL). Reads its key only. */
export async function isStored(recipientId: string, messageId: string): Promise<boolean> {
  const { Item } = await ddb.send(
    new GetCommand({
      TableName: table(),
      Key: messageKey(recipientId, messageId),
      ConsistentRead: true,
      ProjectionExpression: 'messageId',
    }),
  );
  return Item !== undefined;
}

/** Metadata (never the ciphertext) of a recipient's unexpired messages, oldest first: what their export shows. */
export async function pendingMetadata(recipientId: string, nowSeconds: number) {
  const items = await queryAll({
    TableName: table(),
    KeyConditionExpression: 'recipientId = :r',
    FilterExpression: 'expiresAt > :now',
    ProjectionExpression: 'messageId, businessId, category, acceptedAt, expiresAt',
    ExpressionAttributeValues: { ':r': recipientId, ':now': nowSeconds },
  });
  return items.map((item) => ({
    messageId: item.messageId as string,
    from: item.businessId as string,
    category: item.category as MessageCategory,
    acceptedAt: item.acceptedAt as string,
    expiresAt: secondsToIso(item.expiresAt as number),
  }));
}

/** The ids of every message stored for a recipient, expired or not. */
export async function storedMessageIds(recipientId: string): Promise<string[]> {
  const items = await queryAll({
    TableName: table(),
    KeyConditionExpression: 'recipientId = :r',
    ProjectionExpression: 'messageId',
    ExpressionAttributeValues: { ':r': recipientId },
    ConsistentRead: true,
  });
  return items.map((item) => item.messageId as string);
}

/** Deletes a stored message, whatever its state. */
export async function deleteMessage(recipientId: string, messageId: string): Promise<void> {
  await ddb.send(new DeleteCommand({ TableName: table(), Key: messageKey(recipientId, messageId) }));
}
