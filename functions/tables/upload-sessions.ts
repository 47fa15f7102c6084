/**
 * Upload sessions, counts and row indexes only (no identifier, hash or key):
 * - `a#<audienceId>` / `s#<sessionId>`: a session's counters and stage;
 * - `a#<audienceId>` / `b#<sessionId>#<batchSeq>`: one accepted batch (its
 *   receipt, its chunk count and digest, the chunks already matched);
 * - `a#<audienceId>` / `w#<attempt>#<page>`: the users a matcher attempt is
 *   about to write memberships for, so that the attempt can be settled if it
 *   dies (core/audiences.ts); removed once it commits or is settled, and
 *   expiring in any case.
 */
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { NativeAttributeValue } from '@aws-sdk/util-dynamodb';
import * as z from 'zod';
import type { Operation, SessionState } from '../core/audiences';
import { ddb } from '../shared/aws';
import { tableName } from '../shared/config';
import { chunksOf } from '../shared/concurrency';
import { batchWriteAll } from './batch';
import { padNumber, part, queryAll } from './dynamo';

const table = () => tableName('uploadSessions');

const AUDIENCE = 'a#';
export const sessionKey = (audienceId: string, sessionId: number) => ({ pk: `${AUDIENCE}${audienceId}`, sk: `s#${sessionId}` });
export const batchKey = (audienceId: string, sessionId: number, batchSeq: number) => ({
  pk: `${AUDIENCE}${audienceId}`,
  sk: `b#${sessionId}#${padNumber(batchSeq)}`,
});
const WRITE_SET = 'w#';
export const writeSetKey = (audienceId: string, attempt: string, page: number) => ({
  pk: `${AUDIENCE}${audienceId}`,
  sk: `${WRITE_SET}${attempt}#${padNumber(page)}`,
});
/** User ids a write-set item holds at most: 1,000 ids of up to 128 characters stay far below DynamoDB's 400 KB item limit. */
const WRITE_SET_PAGE = 1_000;

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

const Op = z.enum(['add', 'remove']);

const SessionItem = z.object({
  operation: Op,
  firstBatchAtMs: z.number(),
  deadlineAtMs: z.number(),
  maxSeq: z.number(),
  lastBatchSeq: z.number().optional(),
  batchesReceived: z.number(),
  numReceived: z.number(),
  numInvalid: z.number(),
  chunksExpected: z.number(),
  chunksMatched: z.number().optional(),
  rev: z.number(),
  estimatedTotal: z.number().optional(),
  settleUntilMs: z.number().optional(),
  matchedAtMs: z.number().optional(),
});

const BatchItem = z.object({
  sessionId: z.number(),
  batchSeq: z.number(),
  operation: Op,
  numReceived: z.number(),
  numInvalid: z.number(),
  invalidSamples: z.array(z.number()).optional(),
  chunkCount: z.number(),
  batchDigest: z.string(),
  uploadedAtMs: z.number(),
  chunksDone: z.set(z.number()).optional(),
});

const WriteSetItem = z.object({ userIds: z.array(z.string()) });

/** A session as stored: its counters, and when its matching visibly ends (core/size-release.ts, visibleSessionStage). */
export interface StoredSession extends SessionState {
  /** The latest settle time of its batches (epoch ms; 0 if none). */
  readonly settleUntilMs: number;
  /** When the matcher last committed one of its chunks (epoch ms; 0 if never). */
  readonly matchedAtMs: number;
}

function sessionOf(raw: Record<string, NativeAttributeValue>): StoredSession {
  const { chunksMatched, lastBatchSeq, estimatedTotal, settleUntilMs, matchedAtMs, ...rest } = SessionItem.parse(raw);
  return {
    ...rest,
    chunksMatched: chunksMatched ?? 0,
    ...(lastBatchSeq !== undefined ? { lastBatchSeq } : {}),
    ...(estimatedTotal !== undefined ? { estimatedTotal } : {}),
    settleUntilMs: settleUntilMs ?? 0,
    matchedAtMs: matchedAtMs ?? 0,
  };
}

function batchOf(raw: Record<string, NativeAttributeValue>): BatchRecord {
  const item = BatchItem.parse(raw);
  return { ...item, invalidSamples: item.invalidSamples ?? [], chunksDone: item.chunksDone ? [...item.chunksDone] : [] };
}

export async function getSession(audienceId: string, sessionId: number): Promise<StoredSession | undefined> {
  const { Item } = await ddb.send(new GetCommand({ TableName: table(), Key: sessionKey(audienceId, sessionId), ConsistentRead: true }));
  return Item ? sessionOf(Item) : undefined;
}

export async function getBatch(audienceId: string, sessionId: number, batchSeq: number): Promise<BatchRecord | undefined> {
  const { Item } = await ddb.send(new GetCommand({ TableName: table(), Key: batchKey(audienceId, sessionId, batchSeq), ConsistentRead: true }));
  return Item ? batchOf(Item) : undefined;
}

/** Records the users an attempt is about to write memberships for (before it writes any): one item a page of 1,000, written in parallel. */
export async function recordWriteSet(audienceId: string, attempt: string, userIds: readonly string[], expiresAt: number): Promise<void> {
  await Promise.all(
    chunksOf(userIds, WRITE_SET_PAGE).map((ids, page) =>
      ddb.send(new PutCommand({ TableName: table(), Item: { ...writeSetKey(audienceId, attempt, page), userIds: ids, expiresAt } })),
    ),
  );
}

async function writeSetItems(audienceId: string, attempt: string) {
  const items = await queryAll({
    TableName: table(),
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :w)',
    ExpressionAttributeValues: { ':pk': `${AUDIENCE}${audienceId}`, ':w': `${WRITE_SET}${attempt}#` },
    ConsistentRead: true,
  });
  return items.map((item) => ({ key: { pk: item.pk, sk: item.sk }, userIds: WriteSetItem.parse(item).userIds }));
}

/** The users an attempt wrote (or was about to write) memberships for; empty when it recorded none. */
export async function writeSetOf(audienceId: string, attempt: string): Promise<string[]> {
  return (await writeSetItems(audienceId, attempt)).flatMap((item) => item.userIds);
}

export async function deleteWriteSet(audienceId: string, attempt: string): Promise<void> {
  const items = await writeSetItems(audienceId, attempt);
  await batchWriteAll(
    table(),
    items.map((item) => ({ delete: item.key })),
  );
}

// ------------------------------------------------------------ transaction parts

/** A newly accepted batch; its condition fails when the batchSeq was recorded already. */
export const batchPart = (businessId: string, audienceId: string, batch: Omit<BatchRecord, 'chunksDone'>, expiresAt: number) =>
  part('batch', {
    Put: {
      TableName: table(),
      Item: { ...batchKey(audienceId, batch.sessionId, batch.batchSeq), ...batch, audienceId, businessId, expiresAt },
      ConditionExpression: 'attribute_not_exists(sk)',
    },
  });

/** The session's counters and settle time after a batch joined it, guarded by the revision read before. */
export function sessionPart(
  businessId: string,
  audienceId: string,
  sessionId: number,
  session: SessionState & { readonly settleUntilMs: number },
  previousRev: number,
  expiresAt: number,
) {
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
    ':settle': session.settleUntilMs,
    ':zero': 0,
    ':aid': audienceId,
    ':bid': businessId,
    ':sid': sessionId,
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
    'settleUntilMs = :settle',
    'chunksMatched = if_not_exists(chunksMatched, :zero)',
    '#rev = :rev',
    'audienceId = :aid',
    'businessId = :bid',
    'sessionId = :sid',
    'expiresAt = :exp',
    ...(session.lastBatchSeq !== undefined ? ['lastBatchSeq = :last'] : []),
    ...(session.estimatedTotal !== undefined ? ['estimatedTotal = :estimated'] : []),
  ];
  return part('session', {
    Update: {
      TableName: table(),
      Key: sessionKey(audienceId, sessionId),
      UpdateExpression: `SET ${sets.join(', ')}`,
      ConditionExpression: previousRev > 0 ? '#rev = :prev' : 'attribute_not_exists(sk)',
      ExpressionAttributeNames: { '#rev': 'rev' },
      ExpressionAttributeValues: values,
    },
  });
}

/** The chunk marked done on its batch; its condition fails when it was marked already. */
export const chunkDonePart = (audienceId: string, sessionId: number, batchSeq: number, chunk: number) =>
  part('batch', {
    Update: {
      TableName: table(),
      Key: batchKey(audienceId, sessionId, batchSeq),
      UpdateExpression: 'ADD chunksDone :done',
      ConditionExpression: 'attribute_exists(sk) AND NOT contains(chunksDone, :chunk)',
      ExpressionAttributeValues: { ':done': new Set([chunk]), ':chunk': chunk },
    },
  });

/** One more chunk of the session matched, at `nowMs`. */
export const chunkMatchedPart = (audienceId: string, sessionId: number, nowMs: number) =>
  part('session', {
    Update: {
      TableName: table(),
      Key: sessionKey(audienceId, sessionId),
      UpdateExpression: 'SET matchedAtMs = :now ADD chunksMatched :one',
      ConditionExpression: 'attribute_exists(sk)',
      ExpressionAttributeValues: { ':one': 1, ':now': nowMs },
    },
  });
