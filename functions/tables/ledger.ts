/**
 * The consent ledger, append-only (its writers hold PutItem and nothing that
 * updates or deletes), and the outbox of account events:
 * - `<userId>` / `c#<version>`: one consent receipt a recorded decision, kept
 *   as proof, with its place in the user's chain (`prevHash`, `hash`) and
 *   its signature (core/receipts.ts; absent on receipts recorded before
 *   receipts were signed, which are never rewritten);
 * - `<userId>` / `e#<time>#<eventId>`: an account event that is not a
 *   decision (identifiers changed, account erased), kept a week (TTL).
 * The table's stream turns every new item into an event on the topic.
 */
import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import { DECISIONS, PURPOSES } from '../core/consent';
import type { Purposes, Receipt } from '../core/consent';
import type { AccountEventType } from '../core/events';
import { receiptHash } from '../core/receipts';
import { tableName } from '../shared/config';
import { padNumber, part, queryAll } from './dynamo';

const table = () => tableName('ledger');
export const OUTBOX_EVENT_TTL_SECONDS = 7 * 24 * 3600;

const RECEIPT = 'c#';
const EVENT = 'e#';
export const receiptKey = (userId: string, version: number) => ({ userId, sk: `${RECEIPT}${padNumber(version)}` });
export const outboxEventKey = (userId: string, occurredAt: string, eventId: string) => ({ userId, sk: `${EVENT}${occurredAt}#${eventId}` });

const PurposesSchema = z.object(
  Object.fromEntries(PURPOSES.map((p) => [p, z.enum(DECISIONS)])) as Record<keyof Purposes, z.ZodEnum<{ granted: 'granted'; denied: 'denied' }>>,
);

const ReceiptItem = z.object({
  userId: z.string().min(1),
  sk: z.string().startsWith(RECEIPT),
  kind: z.literal('receipt'),
  receiptId: z.string(),
  version: z.number().int().positive(),
  policyVersion: z.string(),
  purposes: PurposesSchema,
  source: z.string(),
  recordedAt: z.string(),
  prevHash: z.string().nullable().optional(),
  hash: z.string().optional(),
  signature: z.string().nullable().optional(),
});

const OutboxEventItem = z.object({
  userId: z.string().min(1),
  sk: z.string().startsWith(EVENT),
  kind: z.literal('event'),
  eventType: z.enum(['IdentifiersChanged', 'IdentifierLost', 'AccountErased']),
  /** The kind of identifier an `IdentifierLost` event is about (never its value). */
  identifier: z.enum(['PHONE', 'EMAIL']).optional(),
  eventId: z.string(),
  occurredAt: z.string(),
  expiresAt: z.number().int(),
});

/** A ledger item: a receipt, or another account event. */
export const LedgerItem = z.discriminatedUnion('kind', [ReceiptItem, OutboxEventItem]);
export type LedgerItem = z.infer<typeof LedgerItem>;

/** A stored receipt as shown; one recorded before receipts were signed gets its hash computed from its content, and no signature. */
export function receiptOf(item: z.infer<typeof ReceiptItem>): Receipt {
  const content = {
    userId: item.userId,
    receiptId: item.receiptId,
    version: item.version,
    policyVersion: item.policyVersion,
    purposes: item.purposes,
    source: item.source as Receipt['source'],
    recordedAt: item.recordedAt,
    prevHash: item.prevHash ?? null,
  };
  return { ...content, hash: item.hash ?? receiptHash(content), signature: item.signature ?? null };
}

/** Every receipt of a user, newest first. */
export async function receiptsOf(userId: string): Promise<Receipt[]> {
  const items = await queryAll({
    TableName: table(),
    KeyConditionExpression: 'userId = :u AND begins_with(sk, :c)',
    ExpressionAttributeValues: { ':u': userId, ':c': RECEIPT },
    ScanIndexForward: false,
  });
  return items.map((item) => receiptOf(ReceiptItem.parse(item)));
}

// ------------------------------------------------------------ transaction parts

/** The receipt of a decision, chained and signed; it is added once and never changed. */
export const receiptPart = (receipt: Receipt) =>
  part('receipt', {
    Put: {
      TableName: table(),
      Item: ReceiptItem.parse({ ...receiptKey(receipt.userId, receipt.version), kind: 'receipt', ...receipt }),
      ConditionExpression: 'attribute_not_exists(sk)',
    },
  });

/**
 * An account event that is not a decision, for the outbox. `name` tells two
 * events of one transaction apart; `identifier` is the kind an
 * `IdentifierLost` event is about.
 */
export function outboxEventPart(
  userId: string,
  eventType: Exclude<AccountEventType, 'ConsentChanged'>,
  now: Date,
  options: { name?: string; identifier?: 'PHONE' | 'EMAIL' } = {},
) {
  const eventId = randomUUID();
  const occurredAt = now.toISOString();
  if ((eventType === 'IdentifierLost') !== (options.identifier !== undefined))
    throw new Error('An IdentifierLost event, and only it, names an identifier kind');
  return part(options.name ?? 'outbox', {
    Put: {
      TableName: table(),
      Item: OutboxEventItem.parse({
        ...outboxEventKey(userId, occurredAt, eventId),
        kind: 'event',
        eventType,
        ...(options.identifier ? { identifier: options.identifier } : {}),
        eventId,
        occurredAt,
        expiresAt: Math.floor(now.getTime() / 1000) + OUTBOX_EVENT_TTL_SECONDS,
      }),
      ConditionExpression: 'attribute_not_exists(sk)',
    },
  });
}
