/**
 * The audiences table:
 * - `b#<businessId>` / `a#<audienceId>`: one audience, keyed by its owner so
 *   another business's audience is simply not found. It holds the exact
 *   member counts by expiry day (`expiring`), a change counter (`revision`),
 *   the chunks accepted and matched, the matching lease and the set of
 *   matcher attempts that wrote without committing (`pending`,
 *   core/audiences.ts); what the size-release rule knows of it
 *   (core/size-release.ts: accepted batches, when the latest was accepted and
 *   settles, expiry days of its add batches, when its last chunk was
 *   committed) and the release shown with its log (`release`, `releaseLog`,
 *   written only where releases are made); `deletedAt` once deleted (a
 *   tombstone that expires);
 * - `b#<businessId>` / `quota`: how many audiences the business ever created;
 * - `b#<businessId>` / `release-budget`: the business's fresh size releases
 *   (their times, within the longest budget window) and a version that
 *   guards every change of them.
 */
import { GetCommand, TransactGetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { NativeAttributeValue } from '@aws-sdk/util-dynamodb';
import * as z from 'zod';
import { CUSTOMER_FILE_SOURCES } from '../core/audiences';
import type { CustomerFileSource } from '../core/audiences';
import type { SizeRelease } from '../core/size-release';
import { ddb } from '../shared/aws';
import { tableName } from '../shared/config';
import { conflict } from '../shared/problems';
import { isConditionFailure, part, queryAll, transact, TransactionCancelled } from './dynamo';
import type { Item } from './dynamo';

export const audiencesTable = () => tableName('audiences');

const BUSINESS = 'b#';
const AUDIENCE = 'a#';
export const audienceKey = (businessId: string, audienceId: string) => ({ pk: `${BUSINESS}${businessId}`, sk: `${AUDIENCE}${audienceId}` });
export const quotaKey = (businessId: string) => ({ pk: `${BUSINESS}${businessId}`, sk: 'quota' });
export const releaseBudgetKey = (businessId: string) => ({ pk: `${BUSINESS}${businessId}`, sk: 'release-budget' });

export interface AudienceRecord {
  readonly businessId: string;
  readonly audienceId: string;
  readonly name: string;
  readonly customerFileSource: CustomerFileSource;
  readonly createdAt: string;
  /** Exact member counts by expiry day (days since the epoch). */
  readonly expiring: Record<string, number>;
  /** Goes up with every change of rows or members (a change counter; no size release depends on it). */
  readonly revision: number;
  readonly chunksExpected: number;
  readonly chunksMatched: number;
  /** Matcher attempts that wrote memberships and have not committed their count change (core/audiences.ts). */
  readonly pending: ReadonlySet<string>;
  /** The matcher attempt's lease that holds the audience, if one does (`leaseIdAt`, core/matching.ts). */
  readonly leaseId?: string;
  /** Epoch ms until which a matcher holds the audience, if one does. */
  readonly leaseUntil?: number;
  readonly deletedAt?: string;
  /** Accepted batches with at least one chunk (adds and removals). */
  readonly batches: number;
  /** The `batches` ordinal of the latest removal batch (0 if none). */
  readonly lastRemoveBatch: number;
  /** When the latest batch was accepted (epoch ms). */
  readonly lastBatchAtMs?: number;
  /** The latest settle time of its batches (epoch ms; 0 if none). */
  readonly settleUntilMs: number;
  /** Days on which memberships of its add batches expire, not yet shown by a release. */
  readonly expiryDays: readonly number[];
  /** When the matcher last committed a chunk (epoch ms; 0 if never). */
  readonly matchedAtMs: number;
  /** The size release shown now, if one was made. */
  readonly release?: SizeRelease;
  /** Times of this audience's fresh releases within its longest window. */
  readonly releaseLog: readonly number[];
}

export type NewAudience = Omit<
  AudienceRecord,
  | 'pending'
  | 'leaseId'
  | 'leaseUntil'
  | 'deletedAt'
  | 'batches'
  | 'lastRemoveBatch'
  | 'lastBatchAtMs'
  | 'settleUntilMs'
  | 'expiryDays'
  | 'matchedAtMs'
  | 'release'
  | 'releaseLog'
>;

const Release = z.object({
  seq: z.number().int().min(1),
  countedAtMs: z.number(),
  basis: z.number().int().min(0),
  lower: z.number().int(),
  upper: z.number().int(),
  targetable: z.boolean(),
});

const AudienceItem = z.object({
  pk: z.string().startsWith(BUSINESS),
  sk: z.string().startsWith(AUDIENCE),
  businessId: z.string(),
  audienceId: z.string(),
  name: z.string(),
  customerFileSource: z.enum(CUSTOMER_FILE_SOURCES),
  createdAt: z.string(),
  expiring: z.record(z.string(), z.number()).optional(),
  revision: z.number().optional(),
  chunksExpected: z.number().optional(),
  chunksMatched: z.number().optional(),
  pending: z.set(z.string()).optional(),
  leaseId: z.string().optional(),
  leaseUntil: z.number().optional(),
  deletedAt: z.string().optional(),
  batches: z.number().optional(),
  lastRemoveBatch: z.number().optional(),
  lastBatchAtMs: z.number().optional(),
  settleUntilMs: z.number().optional(),
  expiryDays: z.set(z.number()).optional(),
  matchedAtMs: z.number().optional(),
  release: Release.optional(),
  releaseLog: z.array(z.number()).optional(),
});

export function audienceOf(raw: Item): AudienceRecord {
  const item = AudienceItem.parse(raw);
  return {
    businessId: item.businessId,
    audienceId: item.audienceId,
    name: item.name,
    customerFileSource: item.customerFileSource,
    createdAt: item.createdAt,
    expiring: item.expiring ?? {},
    revision: item.revision ?? 0,
    chunksExpected: item.chunksExpected ?? 0,
    chunksMatched: item.chunksMatched ?? 0,
    pending: new Set(item.pending ?? []),
    ...(item.leaseId !== undefined ? { leaseId: item.leaseId } : {}),
    ...(item.leaseUntil !== undefined ? { leaseUntil: item.leaseUntil } : {}),
    ...(item.deletedAt ? { deletedAt: item.deletedAt } : {}),
    // An audience from before size releases with accepted chunks: one visible change, not yet shown.
    batches: item.batches ?? ((item.chunksExpected ?? 0) > 0 ? 1 : 0),
    lastRemoveBatch: item.lastRemoveBatch ?? 0,
    ...(item.lastBatchAtMs !== undefined ? { lastBatchAtMs: item.lastBatchAtMs } : {}),
    settleUntilMs: item.settleUntilMs ?? 0,
    expiryDays: [...(item.expiryDays ?? [])].sort((a, b) => a - b),
    matchedAtMs: item.matchedAtMs ?? 0,
    ...(item.release ? { release: item.release } : {}),
    releaseLog: item.releaseLog ?? [],
  };
}

/** The stored attributes of a new audience (the pending set is absent until a chunk writes). */
export const newAudienceItem = (record: NewAudience): Item => AudienceItem.parse({ ...audienceKey(record.businessId, record.audienceId), ...record });

/** A new audience as it reads once stored. */
export const newAudienceRecord = (record: NewAudience): AudienceRecord => audienceOf(newAudienceItem(record));

/**
 * Creates an audience if the business is within its quota, in one
 * transaction with the quota counter. Deleted audiences keep counting, so
 * deleting and re-creating cannot multiply how often the size of an
 * audience can be probed.
 */
export async function insertAudience(record: NewAudience, quota: number): Promise<void> {
  try {
    await transact([
      part('quota', {
        Update: {
          TableName: audiencesTable(),
          Key: quotaKey(record.businessId),
          UpdateExpression: 'SET created = if_not_exists(created, :zero) + :one, businessId = :b',
          ConditionExpression: 'attribute_not_exists(created) OR created < :quota',
          ExpressionAttributeValues: { ':zero': 0, ':one': 1, ':quota': quota, ':b': record.businessId },
        },
      }),
      part('audience', { Put: { TableName: audiencesTable(), Item: newAudienceItem(record), ConditionExpression: 'attribute_not_exists(pk)' } }),
    ]);
  } catch (error) {
    if (error instanceof TransactionCancelled && error.failedOn('quota')) {
      throw conflict('audience-quota-exceeded', `A business may create at most ${quota} audiences, deleted ones included.`);
    }
    throw error;
  }
}

/** The audience, deleted or not; undefined if it never existed (or its tombstone expired). */
export async function getAudienceRecord(businessId: string, audienceId: string): Promise<AudienceRecord | undefined> {
  const { Item } = await ddb.send(new GetCommand({ TableName: audiencesTable(), Key: audienceKey(businessId, audienceId), ConsistentRead: true }));
  return Item ? audienceOf(Item) : undefined;
}

/** The business's audiences that are not deleted, oldest first. At most the quota of them exist. */
export async function listAudienceRecords(businessId: string): Promise<AudienceRecord[]> {
  const items = await queryAll({
    TableName: audiencesTable(),
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :a)',
    FilterExpression: 'attribute_not_exists(deletedAt)',
    ExpressionAttributeValues: { ':pk': `${BUSINESS}${businessId}`, ':a': AUDIENCE },
  });
  return items.map(audienceOf).sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0));
}

/** Marks the audience deleted (a tombstone that expires); false if it is missing or already deleted. */
export async function markDeleted(businessId: string, audienceId: string, deletedAt: string, tombstoneExpiresAt: number): Promise<boolean> {
  try {
    await ddb.send(
      new UpdateCommand({
        TableName: audiencesTable(),
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
 * its first write an attempt joins `pending` (`markPending`), and its commit
 * takes it out, in the same transaction that marks the chunk done on its
 * batch. The lease (120 s) outlives the matcher's timeout (60 s), so a
 * holder's writes cannot still be landing once someone else may take it over.
 */
export const LEASE_MS = 120_000;

/**
 * The lease given straight to the next chunk of the same audience in the
 * same invocation, instead of released (services/matching.ts, `LeaseLine`):
 * its id (whose time is now) and until when it holds.
 */
export interface LeaseHandOver {
  readonly leaseId: string;
  readonly untilMs: number;
}

/** What a matcher attempt's commit does with the lease: keeps it (removals are left), releases it, or hands it over. */
export type LeaseAfterCommit = 'keep' | 'release' | LeaseHandOver;

/** The audience as it stands once the lease is taken, or why it was not. */
export type LeaseOutcome = { acquired: AudienceRecord } | 'busy' | 'gone';

export async function acquireLease(businessId: string, audienceId: string, leaseId: string, nowMs: number): Promise<LeaseOutcome> {
  try {
    const { Attributes } = await ddb.send(
      new UpdateCommand({
        TableName: audiencesTable(),
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

/** Adds an attempt to the audience's `pending` set while holding its lease. */
export async function markPending(businessId: string, audienceId: string, leaseId: string, attempt: string): Promise<void> {
  await ddb.send(
    new UpdateCommand({
      TableName: audiencesTable(),
      Key: audienceKey(businessId, audienceId),
      UpdateExpression: 'ADD pending :attempt',
      ConditionExpression: 'leaseId = :id',
      ExpressionAttributeValues: { ':id': leaseId, ':attempt': new Set([attempt]) },
    }),
  );
}

/** Takes attempts that were settled (core/audiences.ts, `settleAttempt`) out of `pending`, while holding the lease. */
export async function dropPending(businessId: string, audienceId: string, leaseId: string, attempts: readonly string[]): Promise<void> {
  if (attempts.length === 0) return;
  await ddb.send(
    new UpdateCommand({
      TableName: audiencesTable(),
      Key: audienceKey(businessId, audienceId),
      UpdateExpression: 'DELETE pending :attempts',
      ConditionExpression: 'leaseId = :id',
      ExpressionAttributeValues: { ':id': leaseId, ':attempts': new Set(attempts) },
    }),
  );
}

/** Releases the lease if this attempt still holds it, or hands it to `next` (the next chunk of the same invocation). */
export async function releaseLease(businessId: string, audienceId: string, leaseId: string, next?: LeaseHandOver): Promise<void> {
  try {
    await ddb.send(
      new UpdateCommand({
        TableName: audiencesTable(),
        Key: audienceKey(businessId, audienceId),
        ...(next
          ? {
              UpdateExpression: 'SET leaseId = :next, leaseUntil = :until',
              ExpressionAttributeValues: { ':id': leaseId, ':next': next.leaseId, ':until': next.untilMs },
            }
          : { UpdateExpression: 'REMOVE leaseId, leaseUntil', ExpressionAttributeValues: { ':id': leaseId } }),
        ConditionExpression: 'leaseId = :id',
      }),
    );
  } catch (error) {
    if (!isConditionFailure(error)) throw error; // expired and taken over: nothing of ours to release
  }
}

/**
 * The update of an audience's exact counts: `expiring.<day> += delta` for
 * each day, and the change counter up by one. No size release is touched:
 * only the release paths write those (core/size-release.ts).
 */
function countUpdate(deltas: ReadonlyMap<number, number>, extra: { sets?: string[]; adds?: string[]; removes?: string[]; deletes?: string[] } = {}) {
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

// ------------------------------------------------------------ transaction parts

/**
 * A matcher attempt's commit on the audience: the exact count change, one
 * more chunk matched (and when: `matchedAtMs`), the attempt out of `pending`
 * and the lease kept (removals are left to delete), released, or handed to
 * the next chunk of the same invocation; on condition
 * that the attempt still holds the lease and the audience is not deleted.
 */
export function chunkCommitPart(
  businessId: string,
  audienceId: string,
  leaseId: string,
  attempt: string,
  deltas: ReadonlyMap<number, number>,
  lease: LeaseAfterCommit,
  nowMs: number,
) {
  const handOver = typeof lease === 'object' ? lease : undefined;
  const update = countUpdate(deltas, {
    sets: ['matchedAtMs = :matchedAt', ...(handOver ? ['leaseId = :next', 'leaseUntil = :until'] : [])],
    adds: ['chunksMatched :one'],
    deletes: ['pending :attempt'],
    removes: lease === 'release' ? ['leaseId', 'leaseUntil'] : [],
  });
  return part('audience', {
    Update: {
      TableName: audiencesTable(),
      Key: audienceKey(businessId, audienceId),
      ...update,
      ConditionExpression: 'leaseId = :lease AND attribute_not_exists(deletedAt)',
      ExpressionAttributeValues: {
        ...update.ExpressionAttributeValues,
        ':lease': leaseId,
        ':attempt': new Set([attempt]),
        ':matchedAt': nowMs,
        ...(handOver ? { ':next': handOver.leaseId, ':until': handOver.untilMs } : {}),
      },
    },
  });
}

/**
 * One member fewer on `day` (or, with no day, only a new revision), on
 * condition that the audience exists, is not deleted, no matcher holds its
 * lease at `nowMs` and `attempt` is still (or still not) pending as the
 * count change was computed.
 */
export function memberLeftPart(businessId: string, audienceId: string, day: number | null, nowMs: number, attempt?: { id: string; pending: boolean }) {
  const update = countUpdate(day === null ? new Map() : new Map([[day, -1]]));
  return part('audience', {
    Update: {
      TableName: audiencesTable(),
      Key: audienceKey(businessId, audienceId),
      ...update,
      ConditionExpression: [
        'attribute_exists(pk)',
        'attribute_not_exists(deletedAt)',
        '(attribute_not_exists(leaseUntil) OR leaseUntil < :now)',
        ...(attempt ? [attempt.pending ? 'contains(pending, :lc)' : 'NOT contains(pending, :lc)'] : []),
      ].join(' AND '),
      ExpressionAttributeValues: { ...update.ExpressionAttributeValues, ':now': nowMs, ...(attempt ? { ':lc': attempt.id } : {}) },
    },
  });
}

/**
 * An accepted batch on its audience, on condition that the audience exists
 * and is not deleted: more chunks to match and, for a batch with chunks, what
 * the size-release rule records of it (core/size-release.ts, batchAccepted):
 * one more batch, when it was accepted, the day its memberships expire (an
 * add) or its ordinal (a removal), and its settle time. The settle time is
 * only ever raised: `settleUntilMs` is set on condition that the stored one is
 * `previousSettleUntilMs` (as read); when the stored one is later already,
 * pass `settleUntilMs` undefined and it is left alone.
 */
export function batchAcceptedPart(
  businessId: string,
  audienceId: string,
  batch: {
    readonly chunks: number;
    readonly operation: 'add' | 'remove';
    readonly atMs: number;
    readonly expiryDay: number;
    readonly ordinal: number;
    readonly settleUntilMs: number | undefined;
    readonly previousSettleUntilMs: number;
  },
) {
  const guard = 'attribute_exists(pk) AND attribute_not_exists(deletedAt)';
  if (batch.chunks === 0) {
    return part('audience', {
      Update: {
        TableName: audiencesTable(),
        Key: audienceKey(businessId, audienceId),
        UpdateExpression: 'ADD chunksExpected :n',
        ConditionExpression: guard,
        ExpressionAttributeValues: { ':n': 0 },
      },
    });
  }
  const sets = ['lastBatchAtMs = :at', ...(batch.operation === 'remove' ? ['lastRemoveBatch = :ordinal'] : [])];
  const adds = ['chunksExpected :n', 'batches :one', ...(batch.operation === 'add' ? ['expiryDays :day'] : [])];
  const values: Record<string, NativeAttributeValue> = {
    ':n': batch.chunks,
    ':one': 1,
    ':at': batch.atMs,
    ...(batch.operation === 'add' ? { ':day': new Set([batch.expiryDay]) } : { ':ordinal': batch.ordinal }),
  };
  let condition = guard;
  if (batch.settleUntilMs !== undefined) {
    sets.push('settleUntilMs = :settle');
    values[':settle'] = batch.settleUntilMs;
    values[':prevSettle'] = batch.previousSettleUntilMs;
    condition += ' AND (attribute_not_exists(settleUntilMs) OR settleUntilMs = :prevSettle)';
  }
  return part('audience', {
    Update: {
      TableName: audiencesTable(),
      Key: audienceKey(businessId, audienceId),
      UpdateExpression: `SET ${sets.join(', ')} ADD ${adds.join(', ')}`,
      ConditionExpression: condition,
      ExpressionAttributeValues: values,
    },
  });
}

// ------------------------------------------------------------------ size releases

export interface ReleaseBudget {
  /** Times of the business's fresh releases within the longest window, ascending. */
  readonly log: readonly number[];
  /** 0 before the first release; one more with every change. */
  readonly version: number;
}

const BudgetItem = z.object({ log: z.array(z.number()).optional(), version: z.number().optional() });

const budgetOf = (raw: Item | undefined): ReleaseBudget => {
  const item = raw ? BudgetItem.parse(raw) : {};
  return { log: [...(item.log ?? [])].sort((a, b) => a - b), version: item.version ?? 0 };
};

export async function getReleaseBudget(businessId: string): Promise<ReleaseBudget> {
  const { Item } = await ddb.send(new GetCommand({ TableName: audiencesTable(), Key: releaseBudgetKey(businessId), ConsistentRead: true }));
  return budgetOf(Item);
}

/** The audience and its business's release budget as of one moment (one TransactGetItems); the audience undefined if it never existed. */
export async function getAudienceWithBudget(businessId: string, audienceId: string): Promise<{ audience?: AudienceRecord; budget: ReleaseBudget }> {
  const { Responses = [] } = await ddb.send(
    new TransactGetCommand({
      TransactItems: [
        { Get: { TableName: audiencesTable(), Key: audienceKey(businessId, audienceId) } },
        { Get: { TableName: audiencesTable(), Key: releaseBudgetKey(businessId) } },
      ],
    }),
  );
  const audience = Responses[0]?.Item;
  return { ...(audience ? { audience: audienceOf(audience) } : {}), budget: budgetOf(Responses[1]?.Item) };
}

/**
 * A fresh release on its audience, with the audience's new log, on condition
 * that the audience is not deleted and still shows the release it was decided
 * against (`previousSeq`, 0 for none): two readers cannot both make one. The
 * expiry days the release shows leave `expiryDays`.
 */
export function releasePart(
  businessId: string,
  audienceId: string,
  release: SizeRelease,
  log: readonly number[],
  shownExpiryDays: readonly number[],
  previousSeq: number,
) {
  const values: Record<string, NativeAttributeValue> = { ':release': release, ':log': log };
  if (previousSeq > 0) values[':prev'] = previousSeq;
  if (shownExpiryDays.length > 0) values[':shown'] = new Set(shownExpiryDays);
  return part('audience', {
    Update: {
      TableName: audiencesTable(),
      Key: audienceKey(businessId, audienceId),
      UpdateExpression: `SET #release = :release, releaseLog = :log${shownExpiryDays.length > 0 ? ' DELETE expiryDays :shown' : ''}`,
      ConditionExpression: `attribute_exists(pk) AND attribute_not_exists(deletedAt) AND ${previousSeq > 0 ? '#release.seq = :prev' : 'attribute_not_exists(#release)'}`,
      ExpressionAttributeNames: { '#release': 'release' },
      ExpressionAttributeValues: values,
    },
  });
}

/** The business's budget after fresh releases, on condition that it is still the version they were decided against. */
export function budgetPart(businessId: string, log: readonly number[], previousVersion: number) {
  return part('budget', {
    Put: {
      TableName: audiencesTable(),
      Item: { ...releaseBudgetKey(businessId), businessId, log, version: previousVersion + 1 },
      ConditionExpression: previousVersion > 0 ? 'version = :prev' : 'attribute_not_exists(pk)',
      ...(previousVersion > 0 ? { ExpressionAttributeValues: { ':prev': previousVersion } } : {}),
    },
  });
}
