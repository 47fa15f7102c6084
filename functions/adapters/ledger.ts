import { randomUUID } from 'node:crypto';
import type { Receipt } from '../core/consent';
import type { AccountEventType } from '../core/events';
import { tableName } from '../shared/config';
import { padVersion, queryAll } from './dynamo';

/**
 * The consent ledger is also the outbox: `c#<version>` receipts are kept as
 * proof; `e#<time>#<id>` items are other account events, kept a week. The
 * table's stream turns every new item into an event on the topic.
 */
// Read on first use: the receipt helpers here are also used by functions without the ledger's binding.
const ledger = (): string => tableName('ledger');
export const OUTBOX_EVENT_TTL_SECONDS = 7 * 24 * 3600;

export const receiptKey = (version: number) => `c#${padVersion(version)}`;

export function receiptItem(userId: string, receipt: Receipt) {
  return { TableName: ledger(), Item: { userId, sk: receiptKey(receipt.version), kind: 'receipt', ...receipt } };
}

/** An outbox item for an event that is not a consent decision. */
export function outboxEventItem(userId: string, eventType: Exclude<AccountEventType, 'ConsentChanged'>, now: Date) {
  const eventId = randomUUID();
  return {
    TableName: ledger(),
    Item: {
      userId,
      sk: `e#${now.toISOString()}#${eventId}`,
      kind: 'event',
      eventType,
      eventId,
      occurredAt: now.toISOString(),
      expiresAt: Math.floor(now.getTime() / 1000) + OUTBOX_EVENT_TTL_SECONDS,
    },
  };
}

export const receiptOf = (item: Record<string, unknown>): Receipt => ({
  receiptId: item.receiptId as string,
  version: item.version as number,
  policyVersion: item.policyVersion as string,
  purposes: item.purposes as Receipt['purposes'],
  source: item.source as Receipt['source'],
  recordedAt: item.recordedAt as string,
});

/** Every receipt of a user, newest first. */
export async function receiptsOf(userId: string): Promise<Receipt[]> {
  const items = await queryAll({
    TableName: ledger(),
    KeyConditionExpression: 'userId = :u AND begins_with(sk, :c)',
    ExpressionAttributeValues: { ':u': userId, ':c': 'c#' },
    ScanIndexForward: false,
  });
  const receipts = items.map(receiptOf);
  return receipts;
}
