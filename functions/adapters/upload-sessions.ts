import { GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { NativeAttributeValue } from '@aws-sdk/util-dynamodb';
import type { Operation, SessionState } from '../core/audiences';
import { ddb } from '../shared/aws';
import { tableName } from '../shared/config';
import { AUDIENCES, audienceKey } from './audiences';
import { failedConditions, padVersion } from './dynamo';

/**
 * Upload sessions: `a#<audienceId>` / `s#<sessionId>` holds a session's
 * counters, `a#<audienceId>` / `b#<sessionId>#<batchSeq>` one accepted batch
 * (its receipt, its chunk count and digest, the chunks already matched).
 * Counts and row indexes only: no identifier, hash or key.
 */
export const SESSIONS_TABLE = tableName('uploadSessions');

export const sessionKey = (audienceId: string, sessionId: number) => ({ pk: `a#${audienceId}`, sk: `s#${sessionId}` });
export const batchKey = (audienceId: string, sessionId: number, batchSeq: number) => ({
  pk: `a#${audienceId}`,
  sk: `b#${sessionId}#${padVersion(batchSeq)}`,
});

export interface BatchRecord {
  readonly sessionId: number;
  readonly batchSeq: number;
  readonly operation: Operation;
  readonly numReceived: number;
  readonly numInvalid: number;
  readonly invalidSamples: number[];
  readonly chunkCount: number;
  readonly batchDigest: string;
  readonly uploadedAtMs: number;
  readonly chunksDone: number[];
}

type Item = Record<string, NativeAttributeValue>;

const sessionOf = (item: Item): SessionState => ({
  operation: item.operation,
  firstBatchAtMs: item.firstBatchAtMs,
  deadlineAtMs: item.deadlineAtMs,
  maxSeq: item.maxSeq,
  ...(item.lastBatchSeq !== undefined ? { lastBatchSeq: item.lastBatchSeq } : {}),
  batchesReceived: item.batchesReceived,
  numReceived: item.numReceived,
  numInvalid: item.numInvalid,
  chunksExpected: item.chunksExpected,
  chunksMatched: item.chunksMatched ?? 0,
  rev: item.rev,
  ...(item.estimatedTotal !== undefined ? { estimatedTotal: item.estimatedTotal } : {}),
});

const batchOf = (item: Item): BatchRecord => ({
  sessionId: item.sessionId,
  batchSeq: item.batchSeq,
  operation: item.operation,
  numReceived: item.numReceived,
  numInvalid: item.numInvalid,
  invalidSamples: item.invalidSamples ?? [],
  chunkCount: item.chunkCount,
  batchDigest: item.batchDigest,
  uploadedAtMs: item.uploadedAtMs,
  chunksDone: item.chunksDone ? [...(item.chunksDone as Set<number>)] : [],
});

export async function getSession(audienceId: string, sessionId: number): Promise<SessionState | undefined> {
  const { Item } = await ddb.send(new GetCommand({ TableName: SESSIONS_TABLE, Key: sessionKey(audienceId, sessionId), ConsistentRead: true }));
  return Item ? sessionOf(Item) : undefined;
}

export async function getBatch(audienceId: string, sessionId: number, batchSeq: number): Promise<BatchRecord | undefined> {
  const { Item } = await ddb.send(new GetCommand({ TableName: SESSIONS_TABLE, Key: batchKey(audienceId, sessionId, batchSeq), ConsistentRead: true }));
  return Item ? batchOf(Item) : undefined;
}

export type RecordOutcome = 'recorded' | 'batch-exists' | 'session-changed' | 'audience-gone';

/**
 * Records an accepted batch in one transaction: the batch (once per
 * batchSeq), the session's counters (guarded by the revision read before)
 * and the audience's count of chunks to match (only if it is not deleted).
 */
export async function recordBatch(input: {
  businessId: string;
  audienceId: string;
  batch: Omit<BatchRecord, 'chunksDone'>;
  session: SessionState;
  previousRev: number;
  expiresAt: number;
}): Promise<RecordOutcome> {
  const { businessId, audienceId, batch, session, previousRev, expiresAt } = input;
  const values: Record<string, NativeAttributeValue> = {
    ':op': session.operation,
    ':first': session.firstBatchAtMs,
    ':deadline': session.deadlineAtMs,
    ':maxSeq': session.maxSeq,
    ':batches': session.batchesReceived,
    ':received': session.numReceived,
    ':invalid': session.numInvalid,
    ':expected': session.chunksExpected,
    ':rev': session.rev,
    ':zero': 0,
    ':aid': audienceId,
    ':bid': businessId,
    ':sid': batch.sessionId,
    ':exp': expiresAt,
    ...(session.lastBatchSeq !== undefined ? { ':last': session.lastBatchSeq } : {}),
    ...(session.estimatedTotal !== undefined ? { ':estimated': session.estimatedTotal } : {}),
    ...(previousRev > 0 ? { ':prev': previousRev } : {}),
  };
  const sets = [
    'operation = :op',
    'firstBatchAtMs = :first',
    'deadlineAtMs = :deadline',
    'maxSeq = :maxSeq',
    'batchesReceived = :batches',
    'numReceived = :received',
    'numInvalid = :invalid',
    'chunksExpected = :expected',
    'chunksMatched = if_not_exists(chunksMatched, :zero)',
    '#rev = :rev',
    'audienceId = :aid',
    'businessId = :bid',
    'sessionId = :sid',
    'expiresAt = :exp',
    ...(session.lastBatchSeq !== undefined ? ['lastBatchSeq = :last'] : []),
    ...(session.estimatedTotal !== undefined ? ['estimatedTotal = :estimated'] : []),
  ];
  try {
    await ddb.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: SESSIONS_TABLE,
              Item: { ...batchKey(audienceId, batch.sessionId, batch.batchSeq), ...batch, audienceId, businessId, expiresAt },
              ConditionExpression: 'attribute_not_exists(sk)',
            },
          },
          {
            Update: {
              TableName: SESSIONS_TABLE,
              Key: sessionKey(audienceId, batch.sessionId),
              UpdateExpression: `SET ${sets.join(', ')}`,
              ConditionExpression: previousRev > 0 ? '#rev = :prev' : 'attribute_not_exists(sk)',
              ExpressionAttributeNames: { '#rev': 'rev' },
              ExpressionAttributeValues: values,
            },
          },
          {
            Update: {
              TableName: AUDIENCES,
              Key: audienceKey(businessId, audienceId),
              UpdateExpression: 'ADD chunksExpected :n',
              ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(deletedAt)',
              ExpressionAttributeValues: { ':n': batch.chunkCount },
            },
          },
        ],
      }),
    );
    return 'recorded';
  } catch (error) {
    const failed = failedConditions(error);
    if (!failed) throw error;
    if (failed.includes(0)) return 'batch-exists';
    if (failed.includes(2)) return 'audience-gone';
    return 'session-changed';
  }
}
