import { randomUUID } from 'node:crypto';
import { bucketDeltas, chunkId, decodeKeys, expiresAtOf, expiryDay } from '../core/audiences';
import type { ChunkMessage, MatchKeyKind } from '../core/audiences';
import { afterCommit, attemptId, deadAttempts, effectiveMatchedBy, leaseIdAt, planAdd, planRemove } from '../core/matching';
import type { Candidate, Change } from '../core/matching';
import { acquireLease, chunkCommitPart, dropPending, getAudienceRecord, LEASE_MS, markPending, releaseLease } from '../tables/audiences';
import type { AudienceRecord, LeaseAfterCommit, LeaseHandOver, LeaseOutcome } from '../tables/audiences';
import { consentOf } from '../tables/consent-states';
import { transact, TransactionCancelled } from '../tables/dynamo';
import { lookup } from '../tables/match-index';
import type { IndexEntry } from '../tables/match-index';
import { deleteMemberships, membershipsIn, settleMembership, writeMemberships } from '../tables/memberships';
import type { Membership } from '../tables/memberships';
import { chunkDonePart, chunkMatchedPart, deleteWriteSet, getBatch, recordWriteSet, writeSetOf } from '../tables/upload-sessions';
import type { BatchRecord } from '../tables/upload-sessions';
import { clock } from '../shared/clock';
import { sleep } from '../shared/concurrency';
import { logger, metrics } from '../shared/observability';
import { jittered, optimistic, retry } from '../shared/retry';
import { withdrawMembership } from './memberships';

/** How long to wait for the upload function to record the batch of a chunk that arrived first. */
const RECORD_WAIT_MS = 5_000;
/** A chunk whose batch is still unrecorded after this many receives (and a minute) was never accepted. */
const UNRECORDED_DROP_RECEIVES = 3;
const UNRECORDED_DROP_AGE_MS = 60_000;
/** How long to wait for another chunk of the same audience to finish before letting SQS retry. */
const LEASE_WAIT_MS = 20_000;
/** Polls for a batch record or the lease start quickly, then back off to this. */
const POLL_FIRST_MS = 20;
const POLL_MAX_MS = 250;
/** Write sets outlive any attempt that could need them; TTL removes those nobody deleted. */
const WRITE_SET_TTL_SECONDS = 86_400;

export type MatchOutcome = 'matched' | 'duplicate' | 'dropped-unrecorded' | 'dropped-stale' | 'dropped-deleted';

/** What one chunk needs under the lease, gathered before it. */
interface Prepared {
  readonly message: ChunkMessage;
  readonly batch: BatchRecord;
  readonly chunk: string;
  /** Users whose match keys are in the chunk. */
  readonly candidates: readonly string[];
  /** The kinds of identifier each candidate was found through in this chunk. */
  readonly kinds: ReadonlyMap<string, ReadonlySet<MatchKeyKind>>;
  /** For an add, the consent version each candidate is matched under (candidates who do not grant are absent). */
  readonly versions?: ReadonlyMap<string, number>;
  readonly membershipTtlDays: number;
}

/** What the work under the lease leaves for after it. */
interface UnderLease {
  readonly outcome: MatchOutcome;
  /** Whether the commit released the lease (or handed it over) already. */
  readonly released: boolean;
  /** Memberships just made, whose users' consent is read again once the lease is released. */
  readonly recheck: readonly Membership[];
}

/**
 * The chunks of one invocation in line for their audiences' leases. The
 * first chunk of an audience to be ready polls for the lease as any chunk
 * does; the others wait here instead, and each is handed the lease by the
 * one before it: in the same write that commits (or releases), the lease
 * goes to a new lease id whose time is the hand-over's, and the next chunk
 * starts at once, after a consistent read that checks it holds that id. So
 * an invocation's chunks of one audience poll once, not once each, and leave
 * no gap between them. One line per invocation (a handler's batch), never
 * shared between invocations, as containers never share one deployed.
 */
export class LeaseLine {
  /** The audiences a chunk of this invocation holds (or is polling for), each with the chunks waiting behind it. */
  private readonly lines = new Map<string, { resolve: (handed: string | undefined) => void; reject: (error: unknown) => void }[]>();
  private readonly offered = new Map<string, LeaseHandOver>();
  private readonly failed = new Map<string, unknown>();

  /**
   * Waits for this chunk's turn at the audience; resolves to the lease id
   * handed over, or undefined (poll for the lease); rejects if a chunk
   * before it could not get the lease (`giveUp`).
   */
  turn(audience: string): Promise<string | undefined> {
    if (this.failed.has(audience)) return Promise.reject(this.failed.get(audience));
    const waiting = this.lines.get(audience);
    if (!waiting) {
      this.lines.set(audience, []);
      return Promise.resolve(undefined);
    }
    return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
  }

  /**
   * The lease could not be had (another invocation holds it past the wait):
   * the chunks in line, and any that come, fail the same way at once instead
   * of each waiting its own turn out, and SQS delivers them again.
   */
  giveUp(audience: string, error: unknown): void {
    this.failed.set(audience, error);
    for (const waiter of this.lines.get(audience)?.splice(0) ?? []) waiter.reject(error);
  }

  /** The hand-over to the next chunk in line for the audience, if one waits (the same one however often it is asked in one turn). */
  offer(audience: string, nowMs: number): LeaseHandOver | undefined {
    if (!this.lines.get(audience)?.length) return undefined;
    const offer = this.offered.get(audience) ?? { leaseId: leaseIdAt(nowMs, randomUUID()), untilMs: nowMs + LEASE_MS };
    this.offered.set(audience, offer);
    return offer;
  }

  /** Ends the turn at the audience: the next in line gets the lease id offered to it (to check), or nothing. */
  pass(audience: string): void {
    const offered = this.offered.get(audience);
    this.offered.delete(audience);
    const next = this.lines.get(audience)?.shift();
    if (next) return next.resolve(offered?.leaseId);
    this.lines.delete(audience);
  }
}

/**
 * Matches one chunk of an accepted batch.
 *
 * Before the lease: the batch must be recorded (by the attempt whose digest
 * the chunk carries); the rows' match keys are looked up in the match index,
 * 100 keys a BatchGetItem, which gives the candidates and the consent version
 * each was indexed under. Under the audience's lease: settle attempts that
 * died (core/matching.ts), read the candidates' memberships, join `pending`,
 * record the write set, write memberships 25 a BatchWriteItem, and commit
 * the exact count change, the chunk's mark on its batch and the session's
 * counter in one transaction. After the lease: the consent re-check. Never
 * one call per row. Only what must be exact holds the lease, because the
 * lease serialises the chunks of one audience.
 *
 * Chunks of one audience in the same invocation (`line`) take the lease in
 * turn, each handing it to the next (`LeaseLine`).
 *
 * Exactly once: a chunk already marked on its batch is not counted again;
 * its delivery repeats only the leftovers' deletes and the re-check.
 *
 * Consent race: a denial is committed to the consent state before its event
 * is published, and the match index drops the user's keys only after it. The
 * re-check reads consent after the memberships are written: if the denial
 * landed before that read, the re-check takes the user out; if after, the
 * membership carries the version the index recorded, which is older than the
 * denial's, so the withdrawal consumer (whose query of the user's memberships
 * comes after the denial, hence after the write) takes it out. If the attempt
 * dies between its commit and its re-check, SQS delivers the chunk again and
 * the re-check is done then.
 */
export async function matchChunk(
  message: ChunkMessage,
  receiveCount: number,
  membershipTtlDays: number,
  line: LeaseLine = new LeaseLine(),
): Promise<MatchOutcome> {
  const batch = await waitForBatch(message);
  if (!batch) {
    if (receiveCount >= UNRECORDED_DROP_RECEIVES && clock.nowMs() - message.sentAtMs >= UNRECORDED_DROP_AGE_MS) return 'dropped-unrecorded';
    throw new Error('The batch of this chunk is not recorded yet');
  }
  if (batch.batchDigest !== message.batchDigest || message.chunk >= batch.chunkCount || batch.operation !== message.operation) {
    return 'dropped-stale';
  }

  const decoded = decodeKeys(message.rows);
  const found = await lookup(decoded.keys);
  const prepared: Prepared = {
    message,
    batch,
    chunk: chunkId(message.sessionId, message.batchSeq, message.chunk),
    candidates: [...new Set(Array.from(found.values(), (entry) => entry.userId))],
    kinds: kindsOfCandidates(decoded, found),
    ...(message.operation === 'add' ? { versions: await matchedVersions(found) } : {}),
    membershipTtlDays,
  };

  const audienceKey = `${message.businessId}/${message.audienceId}`;
  const handedOver = await line.turn(audienceKey);
  let result: UnderLease | undefined;
  try {
    const lease = await takeLease(message, handedOver).catch((error: unknown) => {
      line.giveUp(audienceKey, error);
      throw error;
    });
    if (lease === 'gone') return 'dropped-deleted';
    const handOver = () => line.offer(audienceKey, clock.nowMs());
    try {
      result = await underLease(prepared, lease.acquired, lease.leaseId, handOver);
    } finally {
      // On every path but a commit that released or handed it, failures included: a failed attempt stays pending, so what it wrote counts as nothing.
      if (!result?.released) {
        await releaseLease(message.businessId, message.audienceId, lease.leaseId, handOver()).catch((error: unknown) =>
          logger.warn('Lease release failed', { errorName: (error as Error).name }),
        );
      }
    }
  } finally {
    line.pass(audienceKey);
  }
  if (result.recheck.length > 0) {
    const withdrawn = await withdrawDenied(result.recheck);
    if (withdrawn > 0) metrics.addMetric('AudienceMatchesWithdrawn', 'Count', withdrawn);
  }
  return result.outcome;
}

/**
 * The audience's lease for this chunk: the one handed over by the chunk
 * before it in line if the audience says this chunk holds it (whatever
 * became of the hand-over's write), or else polled for.
 */
async function takeLease(message: ChunkMessage, handedOver: string | undefined): Promise<{ leaseId: string; acquired: AudienceRecord } | 'gone'> {
  if (handedOver !== undefined) {
    const audience = await getAudienceRecord(message.businessId, message.audienceId);
    if (!audience || audience.deletedAt) return 'gone';
    if (audience.leaseId === handedOver) {
      metrics.addMetric('AudienceLeaseHandedOver', 'Count', 1);
      return { leaseId: handedOver, acquired: audience };
    }
  }
  const leaseId = leaseIdAt(clock.nowMs(), randomUUID());
  const lease = await waitForLease(message, leaseId);
  return lease === 'gone' ? 'gone' : { leaseId, acquired: lease.acquired };
}

/** The work under the lease: settle dead attempts, then apply the chunk unless it was applied before. */
async function underLease(prepared: Prepared, acquired: AudienceRecord, leaseId: string, handOver: () => LeaseHandOver | undefined): Promise<UnderLease> {
  const { message } = prepared;
  const audience = await settleDeadAttempts(acquired, leaseId);
  const [current, existing] = await Promise.all([
    getBatch(message.audienceId, message.sessionId, message.batchSeq),
    membershipsIn(message.audienceId, prepared.candidates),
  ]);
  if (current?.chunksDone.includes(message.chunk)) {
    // Counted before; only physical deletes of its committed removals, and the re-check of its additions, may be left.
    const { leftovers, recheck } = afterCommit(existing.values(), prepared.chunk, audience.pending);
    if (leftovers.length > 0)
      await deleteMemberships(
        message.audienceId,
        leftovers.map((m) => m.userId),
      );
    return { outcome: 'duplicate', released: false, recheck: message.operation === 'add' ? recheck : [] };
  }
  return applyChunk(prepared, audience, existing, leaseId, handOver);
}

/**
 * A chunk not applied before: join `pending`, record the write set, write
 * the memberships, then commit the exact count change. Whatever this attempt
 * wrote counts as the state before it until the commit, for everyone.
 */
async function applyChunk(
  prepared: Prepared,
  audience: AudienceRecord,
  existing: ReadonlyMap<string, Membership>,
  leaseId: string,
  handOver: () => LeaseHandOver | undefined,
): Promise<UnderLease> {
  const { message, batch } = prepared;
  const attempt = attemptId(prepared.chunk, leaseId);
  const candidates: Candidate<Membership>[] = prepared.candidates.map((userId) => ({ userId, existing: existing.get(userId) }));
  const base = { audienceId: message.audienceId, businessId: message.businessId, lastChunk: attempt };

  let writes: Membership[];
  let changes: Change[];
  let removals: string[] = [];
  if (prepared.versions) {
    const expiresAt = expiresAtOf(expiryDay(batch.uploadedAtMs, prepared.membershipTtlDays));
    const plan = planAdd(candidates, prepared.versions, audience.pending, attempt, expiresAt);
    const matchedAt = clock.now().toISOString();
    const withAttempt = new Set([...audience.pending, attempt]);
    writes = plan.writes.map((w) => {
      const committed = w.prevExpiresAt > 0 ? effectiveMatchedBy(existing.get(w.userId), withAttempt) : undefined;
      return {
        ...base,
        ...w,
        expiresAt,
        matchedAt,
        matchedBy: matchedBy(committed, prepared.kinds.get(w.userId)),
        // Restored if this attempt dies and is settled; empty for a member matched through what nobody recorded.
        ...(w.prevExpiresAt > 0 ? { prevMatchedBy: committed ?? [] } : {}),
      };
    });
    changes = plan.changes;
  } else {
    const plan = planRemove(candidates, audience.pending, attempt);
    const withAttempt = new Set([...audience.pending, attempt]);
    writes = plan.marks.map((m) => ({ ...m, prevMatchedBy: effectiveMatchedBy(existing.get(m.userId), withAttempt) ?? [] }));
    changes = plan.changes;
    removals = plan.marks.map((m) => m.userId);
  }

  await markPending(message.businessId, message.audienceId, leaseId, attempt);
  if (writes.length > 0) {
    await recordWriteSet(
      message.audienceId,
      attempt,
      writes.map((m) => m.userId),
      clock.nowSeconds() + WRITE_SET_TTL_SECONDS,
    );
    await writeMemberships(writes);
  }

  const releasesLease = removals.length === 0;
  const committedAtMs = clock.nowMs();
  const lease = releasesLease ? (handOver() ?? 'release') : 'keep';
  const committed = await commit(prepared, leaseId, attempt, bucketDeltas(changes), lease, committedAtMs);
  if (committed === 'deleted') {
    // Deleted while this attempt held the lease: take back what it wrote.
    await deleteMemberships(
      message.audienceId,
      writes.map((m) => m.userId),
    );
    return { outcome: 'dropped-deleted', released: false, recheck: [] };
  }
  if (committed === 'lease-lost') throw new Error('The audience lease expired before the chunk was committed');
  if (removals.length > 0) await deleteMemberships(message.audienceId, removals);
  if (writes.length > 0) await deleteWriteSet(message.audienceId, attempt);
  // Matching past the settle time shows (to the settle period) in when the session is done and the audience counted: operators watch it.
  if (audience.settleUntilMs > 0 && committedAtMs > audience.settleUntilMs) metrics.addMetric('UploadSettleOverrun', 'Count', 1);
  metrics.addMetric('AudienceChunkMatched', 'Count', 1);
  metrics.addMetric('AudienceRowsMatched', 'Count', decodeKeys(message.rows).rows);
  return { outcome: 'matched', released: releasesLease, recheck: prepared.versions ? writes : [] };
}

type CommitOutcome = 'committed' | 'deleted' | 'lease-lost';

/**
 * One transaction: the audience's exact counts (per expiry day) and revision,
 * the attempt out of `pending` (and the lease released, or handed to the
 * next chunk in line, unless removals are left to delete), the chunk's mark on its batch, the session's counter, and
 * on the audience and the session when this commit happened. No size release
 * is made here (services/size-releases.ts).
 */
async function commit(
  prepared: Prepared,
  leaseId: string,
  attempt: string,
  deltas: Map<number, number>,
  lease: LeaseAfterCommit,
  nowMs: number,
): Promise<CommitOutcome> {
  const { message } = prepared;
  try {
    await transact([
      chunkCommitPart(message.businessId, message.audienceId, leaseId, attempt, deltas, lease, nowMs),
      chunkDonePart(message.audienceId, message.sessionId, message.batchSeq, message.chunk),
      chunkMatchedPart(message.audienceId, message.sessionId, nowMs),
    ]);
    return 'committed';
  } catch (error) {
    if (!(error instanceof TransactionCancelled) || error.failed.size === 0) throw error;
    if (error.failedOn('audience')) {
      const audience = await getAudienceRecord(message.businessId, message.audienceId);
      return !audience || audience.deletedAt ? 'deleted' : 'lease-lost';
    }
    throw new Error('The chunk was committed by another attempt while this one held the lease', { cause: error });
  }
}

/**
 * Settles the pending attempts that can no longer write (core/matching.ts):
 * their items go back to their committed state, then they leave `pending`
 * and their write sets go. Returns the audience as it stands after.
 */
async function settleDeadAttempts(audience: AudienceRecord, leaseId: string): Promise<AudienceRecord> {
  const dead = deadAttempts(audience.pending, clock.nowMs(), LEASE_MS);
  if (dead.length === 0) return audience;
  let settled = 0;
  for (const attempt of dead) {
    const userIds = await writeSetOf(audience.audienceId, attempt);
    const items = await membershipsIn(audience.audienceId, userIds);
    for (const m of items.values()) if (m.lastChunk === attempt && (await settleMembership(m))) settled += 1;
  }
  await dropPending(audience.businessId, audience.audienceId, leaseId, dead);
  for (const attempt of dead) await deleteWriteSet(audience.audienceId, attempt);
  metrics.addMetric('AudienceAttemptsSettled', 'Count', dead.length);
  logger.info('Dead matcher attempts settled', { attempts: dead.length, items: settled });
  const remaining = new Set([...audience.pending].filter((a) => !dead.includes(a)));
  return { ...audience, pending: remaining };
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
  let removed = 0;
  for (const membership of memberships) {
    const consent = now.get(membership.userId);
    if (consent?.granted) continue;
    const version = consent?.version ?? 0;
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
 * versions fall back to the consent state, and candidates who do not grant
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

/** The kinds of identifier each candidate's keys in the chunk were made from. */
function kindsOfCandidates(
  decoded: { keys: readonly string[]; kinds: readonly MatchKeyKind[] },
  found: ReadonlyMap<string, IndexEntry>,
): Map<string, Set<MatchKeyKind>> {
  const kinds = new Map<string, Set<MatchKeyKind>>();
  decoded.keys.forEach((key, i) => {
    const entry = found.get(key);
    if (!entry) return;
    const set = kinds.get(entry.userId) ?? new Set<MatchKeyKind>();
    set.add(decoded.kinds[i]!);
    kinds.set(entry.userId, set);
  });
  return kinds;
}

/**
 * What a membership was matched through after this match: what it was
 * matched through before (when it is a member and that is known) and this
 * chunk's kinds, in a fixed order.
 */
function matchedBy(committed: readonly MatchKeyKind[] | undefined, now: ReadonlySet<MatchKeyKind> | undefined): MatchKeyKind[] {
  const all = new Set<MatchKeyKind>([...(committed ?? []), ...(now ?? [])]);
  return (['PHONE', 'EMAIL'] as const).filter((k) => all.has(k));
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
  return optimistic({ pausesWithinMs: LEASE_WAIT_MS, exhausted: () => new Error('Another chunk of this audience holds its lease') }, async (attempt) => {
    const outcome = await acquireLease(message.businessId, message.audienceId, leaseId, clock.nowMs());
    return outcome === 'busy' ? retry(jittered(Math.min(POLL_MAX_MS, POLL_FIRST_MS * 1.5 ** (attempt - 1)))) : outcome;
  });
}
