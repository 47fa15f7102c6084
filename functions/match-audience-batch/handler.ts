import { randomUUID } from 'node:crypto';
import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSRecord } from 'aws-lambda';
import { AUDIENCES, acquireLease, audienceKey, countUpdate, getAudienceRecord, markPending, releaseLease } from '../adapters/audiences';
import type { AudienceRecord, LeaseOutcome } from '../adapters/audiences';
import { failedConditions } from '../adapters/dynamo';
import { lookup } from '../adapters/match-index';
import type { IndexEntry } from '../adapters/match-index';
import { consentOf } from '../adapters/consent-states';
import { deleteMemberships, membershipsIn, withdrawMembership, writeMemberships } from '../adapters/memberships';
import type { Membership } from '../adapters/memberships';
import { SESSIONS_TABLE, batchKey, getBatch, sessionKey } from '../adapters/upload-sessions';
import type { BatchRecord } from '../adapters/upload-sessions';
import { ChunkMessage, bucketDeltas, chunkId, decodeKeys, effectiveExpiry, expiresAtOf, expiryDay } from '../core/audiences';
import { ddb } from '../shared/aws';
import { clock } from '../shared/clock';
import { sleep } from '../shared/concurrency';
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
/** Waits for a batch record or a lease poll quickly at first, then back off to this. */
const POLL_FIRST_MS = 20;
const POLL_MAX_MS = 250;

export type MatchOutcome = 'matched' | 'duplicate' | 'dropped-unrecorded' | 'dropped-stale' | 'dropped-deleted';

/**
 * Matches one chunk of an accepted batch.
 *
 * Before the lease: the batch must be recorded (by the attempt whose digest
 * the chunk carries); the rows' match keys are looked up in the match index,
 * 100 keys a BatchGetItem, which gives the candidates and the consent version
 * each was indexed under. Under the audience's lease (the chunk joins the
 * audience's `pending` set): read the candidates' memberships, write
 * memberships 25 a BatchWriteItem, and commit the exact count change, the
 * chunk's mark on its batch and the session's counter in one transaction.
 * After the lease: the consent re-check (withdrawDenied). Never one call per
 * row. Only what must be exact holds the lease, because the lease serialises
 * the chunks of one audience.
 *
 * Exactly once: each attempt marks what it writes with its own id
 * (`<chunk>/<lease>`) and joins the audience's `pending` set first; its commit
 * leaves the set. An attempt that dies stays pending, so everything it wrote
 * counts as the state before it, for the retry and for everyone else
 * (core/audiences.ts). A chunk already marked on its batch is not counted
 * again; its delivery repeats only the re-check.
 *
 * Consent race: a denial is committed to the accounts table before its event
 * is published, and the match index drops the user's keys only after it. The
 * re-check reads consent after the memberships are written: if the denial
 * landed before that read, the re-check takes the user out; if after, the
 * membership carries the version the index recorded, which is older than the
 * denial's, so the withdrawal consumer (whose query of the user's memberships
 * comes after the denial, hence after the write) takes it out. If the attempt
 * dies between its commit and its re-check, SQS delivers the chunk again and
 * the re-check is done then.
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
  const found = await lookup(keys);
  const candidates = [...new Set(Array.from(found.values(), (entry) => entry.userId))];
  const versions = message.operation === 'add' ? await matchedVersions(found) : undefined;

  const leaseId = randomUUID();
  const lease = await waitForLease(message, leaseId);
  if (lease === 'gone') return 'dropped-deleted';
  let released = false;
  /** Memberships this chunk made, whose users' consent is read again once the lease is released. */
  let recheck: Membership[] = [];
  let outcome: MatchOutcome;
  try {
    const audience = lease.acquired;
    const [current, existing] = await Promise.all([
      getBatch(message.audienceId, message.sessionId, message.batchSeq),
      membershipsIn(message.audienceId, candidates),
    ]);

    if (current?.chunksDone.includes(message.chunk)) {
      // Counted before; only physical deletes of its committed removals may be left.
      const leftovers = [...existing.values()]
        .filter((m) => m.removing && m.lastChunk?.startsWith(`${id}/`) && !audience.pending.has(m.lastChunk))
        .map((m) => m.userId);
      if (leftovers.length > 0) await deleteMemberships(message.audienceId, leftovers);
      // The attempt that committed may have died before its consent re-check: do it again.
      if (message.operation === 'add') {
        recheck = [...existing.values()].filter((m) => !m.removing && m.lastChunk?.startsWith(`${id}/`) && !audience.pending.has(m.lastChunk));
      }
      outcome = 'duplicate';
    } else {
      outcome = await applyChunk(audience, existing, batch);
    }
  } finally {
    // On every path, including failures: a failed chunk stays in `pending`, so what it wrote counts as nothing.
    if (!released) {
      await releaseLease(message.businessId, message.audienceId, leaseId).catch((error: unknown) =>
        logger.warn('Lease release failed', { errorName: (error as Error).name }),
      );
    }
  }
  if (recheck.length > 0) {
    const withdrawn = await withdrawDenied(recheck);
    if (withdrawn > 0) metrics.addMetric('AudienceMatchesWithdrawn', 'Count', withdrawn);
  }
  return outcome;

  /** Under the lease, a chunk not applied before: memberships written and the exact count change committed. */
  async function applyChunk(audience: AudienceRecord, existing: Map<string, Membership>, batch: BatchRecord): Promise<MatchOutcome> {
    // This attempt's writes are marked with its own id: if it fails before committing, the id stays
    // pending for good and whatever it wrote keeps counting as the state before it, for everyone.
    const attempt = `${id}/${leaseId}`;
    await markPending(message.businessId, message.audienceId, leaseId, attempt);
    const pending = new Set([...audience.pending, attempt]);
    const before = (userId: string) => effectiveExpiry(existing.get(userId), pending);
    const base = (userId: string) => ({
      userId,
      audienceId: message.audienceId,
      businessId: message.businessId,
      lastChunk: attempt,
      prevExpiresAt: before(userId) ?? 0,
    });
    const changes: { before: number | null; after: number | null }[] = [];
    let removals: string[] = [];

    let written: Membership[] = [];
    if (versions) {
      const granted = candidates.filter((u) => versions.has(u));
      const expiresAt = expiresAtOf(expiryDay(batch.uploadedAtMs, TTL_DAYS));
      const matchedAt = clock.now().toISOString();
      written = granted.map((u) => ({ ...base(u), expiresAt, consentVersion: versions.get(u)!, matchedAt }));
      await writeMemberships(written);
      for (const u of granted) changes.push({ before: before(u), after: expiresAt });
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
    recheck = written;
    metrics.addMetric('AudienceChunkMatched', 'Count', 1);
    metrics.addMetric('AudienceRowsMatched', 'Count', rows);
    return 'matched';
  }
}

/**
 * The consent re-check of memberships just made (and counted): their users'
 * consent is read again (consistent, 100 users a call) now that the
 * memberships are written, and anyone who does not grant ads targeting now
 * is taken out again as the withdrawal consumer does it (one conditional
 * transaction each, off the exact count, waiting while another chunk holds
 * the audience). This read is what catches a denial whose withdrawal looked
 * for the user's memberships before these were written. Returns how many
 * memberships it removed.
 */
async function withdrawDenied(memberships: readonly Membership[]): Promise<number> {
  const now = await consentOf(memberships.map((m) => m.userId));
  const denied: { membership: Membership; version: number }[] = [];
  for (const membership of memberships) {
    const consent = now.get(membership.userId);
    if (!consent?.granted) denied.push({ membership, version: consent?.version ?? 0 });
  }
  let removed = 0;
  for (const { membership, version } of denied) {
    // Only what was matched under a consent no newer than the one that denies goes: a grant and match since then stays.
    if (await withdrawMembership(membership, (m) => m.consentVersion <= version)) removed += 1;
  }
  return removed;
}

/**
 * The consent version each candidate of an add is matched under: the version
 * the match index recorded when it added the user's key (the user granted
 * ads targeting then; the consistent read after the write catches a denial
 * since), the highest of their keys'. Keys added before the index recorded
 * versions fall back to the accounts table, and candidates who do not grant
 * there are left out.
 */
async function matchedVersions(found: ReadonlyMap<string, IndexEntry>): Promise<Map<string, number>> {
  const versions = new Map<string, number>();
  const unversioned = new Set<string>();
  for (const { userId, consentVersion } of found.values()) {
    if (consentVersion === undefined) unversioned.add(userId);
    else versions.set(userId, Math.max(consentVersion, versions.get(userId) ?? 0));
  }
  const legacy = [...unversioned].filter((u) => !versions.has(u));
  if (legacy.length > 0) {
    for (const [userId, consent] of await consentOf(legacy)) if (consent.granted) versions.set(userId, consent.version);
  }
  return versions;
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

/** Polls for the chunk's batch record: the upload function records a batch just after sending its chunks. */
async function waitForBatch(message: ChunkMessage): Promise<BatchRecord | undefined> {
  for (let waited = 0, interval = POLL_FIRST_MS; ; interval = Math.min(POLL_MAX_MS, interval * 1.5)) {
    const batch = await getBatch(message.audienceId, message.sessionId, message.batchSeq);
    if (batch || waited >= RECORD_WAIT_MS) return batch;
    await sleep(interval);
    waited += interval;
  }
}

/** Polls for the audience's lease: quickly at first (a chunk's turn under the lease is short), then backing off. */
async function waitForLease(message: ChunkMessage, leaseId: string): Promise<Exclude<LeaseOutcome, 'busy'>> {
  for (let waited = 0, interval = POLL_FIRST_MS; ; interval = Math.min(POLL_MAX_MS, interval * 1.5)) {
    const outcome = await acquireLease(message.businessId, message.audienceId, leaseId, clock.nowMs());
    if (outcome !== 'busy') return outcome;
    if (waited >= LEASE_WAIT_MS) throw new Error('Another chunk of this audience holds its lease');
    const pause = Math.round(interval * (0.5 + Math.random()));
    await sleep(pause);
    waited += pause;
  }
}

const receives = (record: SQSRecord) => Number(record.attributes?.ApproximateReceiveCount ?? '1');

/** Chunks of one invocation are matched in parallel: one holds its audience's lease while the others look their keys up. */
export const handler = sqsConsumer(
  async (record) => {
    const outcome = await matchChunk(ChunkMessage.parse(JSON.parse(record.body)), receives(record));
    if (outcome !== 'matched') {
      metrics.addMetric(`AudienceChunk_${outcome}`, 'Count', 1);
      logger.info('Audience chunk not matched', { outcome });
    }
  },
  { inParallel: true },
);
