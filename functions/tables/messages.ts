import { DeleteCommand, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { MessageCategory } from '../core/messages';
import { secondsToIso } from '../core/messages';
import { ddb } from '../shared/aws';
import { tableName } from '../shared/config';
import { isConditionFailure, part, queryAll } from './dynamo';

/**
 * The undelivered-messages table: one item a message, keyed by recipient and
 * time-ordered message id, deleted when acknowledged or, after `expiresAt`,
 * by DynamoDB TTL. `ciphertext` is opaque and never logged.
 *
 * A message that will never be delivered (its sender is blocked by the
 * recipient, or the recipient erased the account) is kept `withheld`: no
 * ciphertext, no category, never listed, exported as withheld, and not
 * acknowledgeable, until DynamoDB's TTL deletes it at its `expiresAt` like
 * any message whose recipient stays offline. So its sender sees exactly what
 * it would see for an offline recipient: `accepted`, then `expired`, by the
 * same stream record.
 */
const table = () => tableName('messages');

export const messageKey = (recipientId: string, messageId: string) => ({ recipientId, messageId });

export interface StoredMessage {
  recipientId: string;
  messageId: string;
  businessId: string;
  category: MessageCategory;
  ciphertext: string;
  /** The recipient key the ciphertext was sealed to. */
  keyId: string;
  acceptedAt: string;
  /** Epoch seconds, the TTL attribute. */
  expiresAt: number;
}

/** Why a message is withheld from its recipient. */
export type WithheldReason = 'blocked' | 'erased';

/** A message that is never delivered: what is left of it until its expiry. */
export interface WithheldMessage {
  recipientId: string;
  messageId: string;
  businessId: string;
  acceptedAt: string;
  /** Epoch seconds, the TTL attribute. */
  expiresAt: number;
  withheld: WithheldReason;
}

/** A new message, deliverable or withheld, for a transaction. */
export const messagePart = (message: StoredMessage | WithheldMessage) =>
  part('message', { Put: { TableName: table(), Item: { ...message }, ConditionExpression: 'attribute_not_exists(messageId)' } });

/** A message as its recipient sees it. */
export interface InboxMessage {
  messageId: string;
  from: string;
  category: MessageCategory;
  keyId: string;
  ciphertext: string;
  acceptedAt: string;
  expiresAt: string;
}

const inboxMessageOf = (item: Record<string, unknown>): InboxMessage => ({
  messageId: item.messageId as string,
  from: item.businessId as string,
  category: item.category as MessageCategory,
  keyId: item.keyId as string,
  ciphertext: item.ciphertext as string,
  acceptedAt: item.acceptedAt as string,
  expiresAt: secondsToIso(item.expiresAt as number),
});

/** Deliverable and unexpired: the condition every read and acknowledgement of a recipient's messages applies. */
const DELIVERABLE = 'expiresAt > :now AND attribute_not_exists(withheld)';

export interface InboxPage {
  items: InboxMessage[];
  /** The id of the last message returned, when more may be waiting. */
  lastMessageId?: string;
}

/**
 * A recipient's deliverable, unexpired messages, oldest first, after `afterMessageId` if
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
        FilterExpression: DELIVERABLE,
        ProjectionExpression: 'messageId, businessId, category, keyId, ciphertext, acceptedAt, expiresAt',
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
 * Deletes one of the recipient's messages if it is there, deliverable and
 * not expired. Returns whether it did; a missing, foreign (another
 * recipient's key), withheld or expired message is left alone.
 */
export async function deleteDelivered(recipientId: string, messageId: string, nowSeconds: number): Promise<boolean> {
  try {
    await ddb.send(
      new DeleteCommand({
        TableName: table(),
        Key: messageKey(recipientId, messageId),
        ConditionExpression: `attribute_exists(messageId) AND ${DELIVERABLE}`,
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

/** What a recipient's export shows of their stored, unexpired messages: metadata, never the ciphertext. */
export interface ExportedMessages {
  pending: { messageId: string; from: string; category: MessageCategory; keyId: string; acceptedAt: string; expiresAt: string }[];
  withheld: { messageId: string; from: string; reason: WithheldReason; acceptedAt: string; expiresAt: string }[];
}

/** Metadata (never the ciphertext) of a recipient's unexpired messages, oldest first, deliverable and withheld apart. */
export async function exportedMessages(recipientId: string, nowSeconds: number): Promise<ExportedMessages> {
  const items = await queryAll({
    TableName: table(),
    KeyConditionExpression: 'recipientId = :r',
    FilterExpression: 'expiresAt > :now',
    ProjectionExpression: 'messageId, businessId, category, keyId, acceptedAt, expiresAt, withheld',
    ExpressionAttributeValues: { ':r': recipientId, ':now': nowSeconds },
  });
  const exported: ExportedMessages = { pending: [], withheld: [] };
  for (const item of items) {
    const common = { messageId: item.messageId as string, from: item.businessId as string };
    const times = { acceptedAt: item.acceptedAt as string, expiresAt: secondsToIso(item.expiresAt as number) };
    if (item.withheld) exported.withheld.push({ ...common, reason: item.withheld as WithheldReason, ...times });
    else exported.pending.push({ ...common, category: item.category as MessageCategory, keyId: item.keyId as string, ...times });
  }
  return exported;
}

/** The ids of the messages stored for a recipient that were accepted at or before `notAfter` and are still deliverable. */
export async function deliverableMessageIds(recipientId: string, notAfter: string): Promise<string[]> {
  const items = await queryAll({
    TableName: table(),
    KeyConditionExpression: 'recipientId = :r',
    FilterExpression: 'acceptedAt <= :at AND attribute_not_exists(withheld)',
    ProjectionExpression: 'messageId',
    ExpressionAttributeValues: { ':r': recipientId, ':at': notAfter },
    ConsistentRead: true,
  });
  return items.map((item) => item.messageId as string);
}

/**
 * Withholds a stored message for good: its ciphertext, category and keyId
 * are deleted at once, and what is left (ids, sender, times) stays until
 * DynamoDB's TTL deletes it at its expiry. An update, not a removal, so the
 * status function sees nothing; returns false when the message is gone or
 * withheld already.
 */
export async function withhold(recipientId: string, messageId: string, reason: WithheldReason): Promise<boolean> {
  try {
    await ddb.send(
      new UpdateCommand({
        TableName: table(),
        Key: messageKey(recipientId, messageId),
        UpdateExpression: 'SET withheld = :reason REMOVE ciphertext, category, keyId',
        ConditionExpression: 'attribute_exists(messageId) AND attribute_not_exists(withheld)',
        ExpressionAttributeValues: { ':reason': reason },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}
