import { randomUUID } from 'node:crypto';
import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSRecord } from 'aws-lambda';
import { AUDIENCES, acquireLease, audienceKey, countUpdate, getAudienceRecord, markPending, releaseLease } from '../adapters/audiences';
import { sleep } from '../adapters/batch';
import { failedConditions } from '../adapters/dynamo';
import { lookup } from '../adapters/match-index';
import { consentOf } from '../adapters/consent-states';
import { deleteMemberships, membershipsIn, writeMemberships } from '../adapters/memberships';
import type { Membership } from '../adapters/memberships';
import { SESSIONS_TABLE, batchKey, getBatch, sessionKey } from '../adapters/upload-sessions';
import type { BatchRecord } from '../adapters/upload-sessions';
import {
  ChunkMessage,
  bucketDeltas,
  chunkId,
  decodeKeys,
  effectiveExpiry,
  expiresAtOf,
  expiryDay,
} from '../core/audiences';
import { ddb } from '../shared/aws';
import { clock } from '../shared/clock';
import { intSetting } from '../shared/config';
import { sqsConsumer } from '../shared/consumers';
import { logger, metrics } from '../shared/observability';

const TTL_DAYS = intSetting('membershipTtlDays');
/** How long to wait for the upload function to record the batch of a chunk that arrived first. */
const RECORD_WAIT_MS = 5_000;
/** A chunk whose batch is still unrecorded after this many receives (and a minute) was never accepted. */
const UNRECORDED_DROP_RECEIVES = 3;
const UNRECORDED_DROP_AGE_MS = 60_000;
/** How long to wait for another chunk of the same audience to finish before letting SQS retry. */
const LEASE_WAIT_MS = 20_000;

export type MatchOutcome = 'matched' | 'duplicate' | 'dropped-unrecorded' | 'dropped-stale' | 'dropped-deleted';

/**
 * Matches one chunk of an accepted batch.
 *
 * Outside the lease: the batch must be recorded (by the attempt whose digest
 * the chunk carries); the rows' match keys are looked up in the match index,
 * 100 keys a BatchGetItem, all in parallel. Under the audience's lease (the
 * chunk joins the audience's `pending` set): read the candidates'
 * memberships and their consent (batched, consistent), write memberships 25
 * a BatchWriteItem, read consent again, turn anyone who denied meanwhile into
 * a removal, and commit the exact count change, the chunk's mark on its batch
 * and the session's counter in one transaction. Never one call per row.
 *
 * Exactly once: each attempt marks what it writes with its own id
 * (`<chunk>/<lease>`) and joins the audience's `pending` set first; its commit
 * leaves the set. An attempt that dies stays pending, so everything it wrote
 * counts as the state before it, for the retry and for everyone else
 * (core/audiences.ts). A chunk already marked on its batch is not counted again.
 *
 * Consent race: a denial is committed to the accounts table before its event
 * is published. If it lands before the second consent read, this chunk
 * removes the user; if after, the membership carries the consent version read
 * before the write, which is older than the denial's, so the withdrawal
 * consumer (which runs after the commit) removes it.
 */
export async function matchChunk(message: ChunkMessage, receiveCount: number): Promise<MatchOutcome> {
  const id = chunkId(message.sessionId, message.batchSeq, message.chunk);
  const batch = await waitForBatch(message);
  if (!batch) {
    if (receiveCount >= UNRECORDED_DROP_RECEIVES && clock.nowMs() - message.sentAtMs >= UNRECORDED_DROP_AGE_MS) return 'dropped-unrecorded';
    throw new Error('The batch of this chunk is not recorded yet');
  }
  if (batch.batchDigest !== message.batchDigest || message.chunk >= batch.chunkCount || batch.operation !== message.operation) {
    return 'dropped-stale';
  }

  const { rows, keys } = decodeKeys(message.rows);
  const keyToUser = await lookup(keys);
  const candidates = [...new Set(keyToUser.values())];

  const leaseId = randomUUID();
  if ((await waitForLease(message, leaseId)) === 'gone') return 'dropped-deleted';
  let released = false;
  try {
    const [audience, current] = await Promise.all([
      getAudienceRecord(message.businessId, message.audienceId),
      getBatch(message.audienceId, message.sessionId, message.batchSeq),
    ]);
    if (!audience || audience.deletedAt) return 'dropped-deleted';
    const existing = await membershipsIn(message.audienceId, candidates);

    if (current?.chunksDone.includes(message.chunk)) {
      // Counted before; only physical deletes of its committed removals may be left.
      const leftovers = [...existing.values()]
        .filter((m) => m.removing && m.lastChunk?.startsWith(`${id}/`) && !audience.pending.has(m.lastChunk))
        .map((m) => m.userId);
      if (leftovers.length > 0) await deleteMemberships(message.audienceId, leftovers);
      return 'duplicate';
    }

    // This attempt's writes are marked with its own id: if it fails before committing, the id stays
    // pending for good and whatever it wrote keeps counting as the state before it, for everyone.
    const attempt = `${id}/${leaseId}`;
    await markPending(message.businessId, message.audienceId, leaseId, attempt);
    const pending = new Set([...audience.pending, attempt]);
    const before = (userId: string) => effectiveExpiry(existing.get(userId), pending);
    const base = (userId: string) => ({ userId, audienceId: message.audienceId, businessId: message.businessId, lastChunk: attempt, prevExpiresAt: before(userId) ?? 0 });
    const changes: { before: number | null; after: number | null }[] = [];
    let removals: string[] = [];

    if (message.operation === 'add') {
      const consent = await consentOf(candidates);
      const granted = candidates.filter((u) => consent.get(u)?.granted);
      const expiresAt = expiresAtOf(expiryDay(batch.uploadedAtMs, TTL_DAYS));
      const matchedAt = clock.now().toISOString();
      const written: Membership[] = granted.map((u) => ({ ...base(u), expiresAt, consentVersion: consent.get(u)!.version, matchedAt }));
      await writeMemberships(written);
      const after = await consentOf(granted);
      const denied = new Set(granted.filter((u) => !after.get(u)?.granted));
      if (denied.size > 0) await writeMemberships(written.filter((m) => denied.has(m.userId)).map((m) => ({ ...m, removing: true })));
      for (const u of granted) changes.push({ before: before(u), after: denied.has(u) ? null : expiresAt });
      removals = [...denied];
    } else {
      const present = candidates.filter((u) => before(u) !== null);
      const marked: Membership[] = present.map((u) => ({ ...existing.get(u)!, ...base(u), removing: true }));
      await writeMemberships(marked);
      for (const u of present) changes.push({ before: before(u), after: null });
      removals = present;
    }

    const outcome = await commit(message, leaseId, attempt, bucketDeltas(changes), removals.length === 0);
    if (outcome === 'deleted') {
      // Deleted while we held the lease: take back what this chunk wrote.
      await deleteMemberships(message.audienceId, changes.length > 0 ? candidates : []);
      return 'dropped-deleted';
    }
    if (outcome === 'lease-lost') throw new Error('The audience lease expired before the chunk was committed');
    released = removals.length === 0;
    if (removals.length > 0) await deleteMemberships(message.audienceId, removals);
    metrics.addMetric('AudienceChunkMatched', 'Count', 1);
    metrics.addMetric('AudienceRowsMatched', 'Count', rows);
    return 'matched';
  } finally {
    // On every path, including failures: a failed chunk stays in `pending`, so what it wrote counts as nothing.
    if (!released) {
      await releaseLease(message.businessId, message.audienceId, leaseId).catch((error: unknown) =>
        logger.warn('Lease release failed', { errorName: (error as Error).name }),
      );
    }
  }
}

type CommitOutcome = 'committed' | 'deleted' | 'lease-lost';

/**
 * One transaction: the audience's exact counts (per expiry day) and revision,
 * the chunk out of `pending` (and the lease released unless removals are
 * left to delete), the chunk's mark on its batch, the session's counter.
 */
async function commit(message: ChunkMessage, leaseId: string, attempt: string, deltas: Map<number, number>, releaseLease: boolean): Promise<CommitOutcome> {
  const update = countUpdate(deltas, {
    adds: ['chunksMatched :one'],
    deletes: ['pending :chunk'],
    removes: releaseLease ? ['leaseId', 'leaseUntil'] : [],
  });
  try {
    await ddb.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Update: {
              TableName: AUDIENCES,
              Key: audienceKey(message.businessId, message.audienceId),
              ...update,
              ConditionExpression: 'leaseId = :lease AND attribute_not_exists(deletedAt)',
              ExpressionAttributeValues: { ...update.ExpressionAttributeValues, ':lease': leaseId, ':chunk': new Set([attempt]) },
            },
          },
          {
            Update: {
              TableName: SESSIONS_TABLE,
              Key: batchKey(message.audienceId, message.sessionId, message.batchSeq),
              UpdateExpression: 'ADD chunksDone :done',
              ConditionExpression: 'attribute_exists(sk) AND NOT contains(chunksDone, :chunk)',
              ExpressionAttributeValues: { ':done': new Set([message.chunk]), ':chunk': message.chunk },
            },
          },
          {
            Update: {
              TableName: SESSIONS_TABLE,
              Key: sessionKey(message.audienceId, message.sessionId),
              UpdateExpression: 'ADD chunksMatched :one',
              ConditionExpression: 'attribute_exists(sk)',
              ExpressionAttributeValues: { ':one': 1 },
            },
          },
        ],
      }),
    );
    return 'committed';
  } catch (error) {
    const failed = failedConditions(error);
    if (!failed || failed.length === 0) throw error;
    if (failed.includes(0)) {
      const audience = await getAudienceRecord(message.businessId, message.audienceId);
      return !audience || audience.deletedAt ? 'deleted' : 'lease-lost';
    }
    throw new Error('The chunk was committed by another attempt while this one held the lease', { cause: error });
  }
}

async function waitForBatch(message: ChunkMessage): Promise<BatchRecord | undefined> {
  for (let waited = 0; ; waited += 250) {
    const batch = await getBatch(message.audienceId, message.sessionId, message.batchSeq);
    if (batch || waited >= RECORD_WAIT_MS) return batch;
    await sleep(250);
  }
}

async function waitForLease(message: ChunkMessage, leaseId: string): Promise<'acquired' | 'gone'> {
  for (let waited = 0; ; ) {
    const outcome = await acquireLease(message.businessId, message.audienceId, leaseId, clock.nowMs());
    if (outcome !== 'busy') return outcome;
    if (waited >= LEASE_WAIT_MS) throw new Error('Another chunk of this audience holds its lease');
    const pause = 100 + Math.floor(Math.random() * 200);
    await sleep(pause);
    waited += pause;
  }
}

const receives = (record: SQSRecord) => Number(record.attributes?.ApproximateReceiveCount ?? '1');

/** Chunks of one invocation are matched one after another: chunks of one audience would only wait for each other's lease. */
export const handler = sqsConsumer(
  async (record) => {
    const outcome = await matchChunk(ChunkMessage.parse(JSON.parse(record.body)), receives(record));
    if (outcome !== 'matched') {
      metrics.addMetric(`AudienceChunk_${outcome}`, 'Count', 1);
      logger.info('Audience chunk not matched', { outcome });
    }
  },
  { inParallel: false },
);
