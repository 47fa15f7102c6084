import { GetCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { NativeAttributeValue } from '@aws-sdk/util-dynamodb';
import type { CustomerFileSource } from '../core/audiences';
import { ddb } from '../shared/aws';
import { tableName } from '../shared/config';
import { conflict } from '../shared/problems';
import { failedConditions, isConditionFailure, queryAll } from './dynamo';

/**
 * The audiences table: `b#<businessId>` / `a#<audienceId>` is one audience,
 * keyed by its owner so another business's audience is simply not found.
 * It holds the exact member counts, one per expiry day (`expiring`), the
 * revision that seeds the reported range (core/audience-count.ts), the chunks
 * accepted and matched, and the matching lease. `b#<businessId>` / `quota`
 * counts the audiences the business ever created.
 */
export const AUDIENCES = tableName('audiences');

export const audienceKey = (businessId: string, audienceId: string) => ({ pk: `b#${businessId}`, sk: `a#${audienceId}` });
const quotaKey = (businessId: string) => ({ pk: `b#${businessId}`, sk: 'quota' });

export interface AudienceRecord {
  readonly businessId: string;
  readonly audienceId: string;
  readonly name: string;
  readonly customerFileSource: CustomerFileSource;
  readonly createdAt: string;
  /** Exact member counts by expiry day (days since the epoch). */
  readonly expiring: Record<string, number>;
  /** Goes up with every change of rows or members. */
  readonly revision: number;
  readonly chunksExpected: number;
  readonly chunksMatched: number;
  /** Chunks that wrote memberships and have not committed their count change (core/audiences.ts). */
  readonly pending: ReadonlySet<string>;
  /** Epoch ms until which a matcher holds the audience, if one does. */
  readonly leaseUntil?: number;
  readonly deletedAt?: string;
}

type Item = Record<string, NativeAttributeValue>;

export const audienceOf = (item: Item): AudienceRecord => ({
  businessId: item.businessId,
  audienceId: item.audienceId,
  name: item.name,
  customerFileSource: item.customerFileSource,
  createdAt: item.createdAt,
  expiring: item.expiring ?? {},
  revision: item.revision ?? 0,
  chunksExpected: item.chunksExpected ?? 0,
  chunksMatched: item.chunksMatched ?? 0,
  pending: new Set((item.pending as Set<string> | undefined) ?? []),
  ...(item.leaseUntil !== undefined ? { leaseUntil: item.leaseUntil } : {}),
  ...(item.deletedAt ? { deletedAt: item.deletedAt } : {}),
});

/** The stored attributes of a new audience (the pending set is absent until a chunk writes). */
export function newAudienceItem(record: Omit<AudienceRecord, 'pending' | 'leaseUntil' | 'deletedAt'>): Item {
  return { ...audienceKey(record.businessId, record.audienceId), ...record };
}

/**
 * Creates an audience if the business is within its quota, in one
 * transaction with the quota counter. Deleted audiences keep counting, so
 * deleting and re-creating cannot multiply how often the size of an
 * audience can be probed.
 */
export async function insertAudience(record: Omit<AudienceRecord, 'pending' | 'leaseUntil' | 'deletedAt'>, quota: number): Promise<void> {
  try {
    await ddb.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Update: {
              TableName: AUDIENCES,
              Key: quotaKey(record.businessId),
              UpdateExpression: 'SET created = if_not_exists(created, :zero) + :one, businessId = :b',
              ConditionExpression: 'attribute_not_exists(created) OR created < :quota',
              ExpressionAttributeValues: { ':zero': 0, ':one': 1, ':quota': quota, ':b': record.businessId },
            },
          },
          {
            Put: {
              TableName: AUDIENCES,
              Item: newAudienceItem(record),
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
        ],
      }),
    );
  } catch (error) {
    if (failedConditions(error)?.includes(0)) {
      throw conflict('audience-quota-exceeded', `A business may create at most ${quota} audiences, deleted ones included.`);
    }
    throw error;
  }
}

/** The audience, deleted or not; undefined if it never existed (or its tombstone expired). */
export async function getAudienceRecord(businessId: string, audienceId: string): Promise<AudienceRecord | undefined> {
  const { Item } = await ddb.send(new GetCommand({ TableName: AUDIENCES, Key: audienceKey(businessId, audienceId), ConsistentRead: true }));
  return Item ? audienceOf(Item) : undefined;
}

/** The business's audiences that are not deleted, oldest first. At most the quota of them exist. */
export async function listAudienceRecords(businessId: string): Promise<AudienceRecord[]> {
  const items = await queryAll({
    TableName: AUDIENCES,
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :a)',
    FilterExpression: 'attribute_not_exists(deletedAt)',
    ExpressionAttributeValues: { ':pk': `b#${businessId}`, ':a': 'a#' },
  });
  return items.map(audienceOf).sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0));
}

/** Marks the audience deleted (a tombstone that expires); false if it is missing or already deleted. */
export async function markDeleted(businessId: string, audienceId: string, deletedAt: string, tombstoneExpiresAt: number): Promise<boolean> {
  try {
    await ddb.send(
      new UpdateCommand({
        TableName: AUDIENCES,
        Key: audienceKey(businessId, audienceId),
        UpdateExpression: 'SET deletedAt = :d, expiresAt = :e',
        ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(deletedAt)',
        ExpressionAttributeValues: { ':d': deletedAt, ':e': tombstoneExpiresAt },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}

// ------------------------------------------------------------------ the matching lease

/**
 * Every change to an audience's memberships and counts happens under its
 * lease (the matcher) or while nobody holds it (consent withdrawals, in one
 * transaction): the matcher reads memberships, writes them and commits the
 * exact count change, and nothing else changes them in between. Before
 * its first write a chunk joins `pending` (`markPending`), and its commit
 * takes it out, in the same transaction that marks it done on its batch; a
 * chunk already done never joins again. The lease (120 s) outlives the
 * matcher's timeout (60 s), so a holder's writes cannot still be landing once
 * someone else may take it over.
 */
export const LEASE_MS = 120_000;

/** The audience as it stands once the lease is taken, or why it was not. */
export type LeaseOutcome = { acquired: AudienceRecord } | 'busy' | 'gone';

export async function acquireLease(businessId: string, audienceId: string, leaseId: string, nowMs: number): Promise<LeaseOutcome> {
  try {
    const { Attributes } = await ddb.send(
      new UpdateCommand({
        TableName: AUDIENCES,
        Key: audienceKey(businessId, audienceId),
        UpdateExpression: 'SET leaseId = :id, leaseUntil = :until',
        ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(deletedAt) AND (attribute_not_exists(leaseUntil) OR leaseUntil < :now)',
        ExpressionAttributeValues: { ':id': leaseId, ':until': nowMs + LEASE_MS, ':now': nowMs },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return { acquired: audienceOf(Attributes!) };
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
    const current = await getAudienceRecord(businessId, audienceId);
    return !current || current.deletedAt ? 'gone' : 'busy';
  }
}

/** Adds a chunk to the audience's `pending` set while holding its lease. */
export async function markPending(businessId: string, audienceId: string, leaseId: string, chunk: string): Promise<void> {
  await ddb.send(
    new UpdateCommand({
      TableName: AUDIENCES,
      Key: audienceKey(businessId, audienceId),
      UpdateExpression: 'ADD pending :chunk',
      ConditionExpression: 'leaseId = :id',
      ExpressionAttributeValues: { ':id': leaseId, ':chunk': new Set([chunk]) },
    }),
  );
}

export async function releaseLease(businessId: string, audienceId: string, leaseId: string): Promise<void> {
  try {
    await ddb.send(
      new UpdateCommand({
        TableName: AUDIENCES,
        Key: audienceKey(businessId, audienceId),
        UpdateExpression: 'REMOVE leaseId, leaseUntil',
        ConditionExpression: 'leaseId = :id',
        ExpressionAttributeValues: { ':id': leaseId },
      }),
    );
  } catch (error) {
    if (!isConditionFailure(error)) throw error; // expired and taken over: nothing of ours to release
  }
}

/**
 * The update of an audience's exact counts: `expiring.<day> += delta` for
 * each day, and the revision up by one (a fresh seed for the reported range).
 */
export function countUpdate(deltas: ReadonlyMap<number, number>, extra: { sets?: string[]; adds?: string[]; removes?: string[]; deletes?: string[] } = {}) {
  const names: Record<string, string> = deltas.size > 0 ? { '#expiring': 'expiring' } : {};
  // DynamoDB refuses values an expression does not use: `:zero` only comes with a day.
  const values: Record<string, NativeAttributeValue> = { ':one': 1, ...(deltas.size > 0 ? { ':zero': 0 } : {}) };
  const sets: string[] = [...(extra.sets ?? [])];
  let i = 0;
  for (const [day, delta] of deltas) {
    names[`#d${i}`] = String(day);
    values[`:v${i}`] = delta;
    sets.push(`#expiring.#d${i} = if_not_exists(#expiring.#d${i}, :zero) + :v${i}`);
    i += 1;
  }
  const adds = ['revision :one', ...(extra.adds ?? [])];
  const expression = [
    sets.length > 0 ? `SET ${sets.join(', ')}` : '',
    `ADD ${adds.join(', ')}`,
    extra.removes && extra.removes.length > 0 ? `REMOVE ${extra.removes.join(', ')}` : '',
    extra.deletes && extra.deletes.length > 0 ? `DELETE ${extra.deletes.join(', ')}` : '',
  ]
    .filter(Boolean)
    .join(' ');
  return { UpdateExpression: expression, ...(deltas.size > 0 ? { ExpressionAttributeNames: names } : {}), ExpressionAttributeValues: values };
}
