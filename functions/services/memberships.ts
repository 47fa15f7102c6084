import { dayOf, effectiveExpiry } from '../core/audiences';
import { effectiveConsentVersion, effectiveMatchedBy } from '../core/matching';
import { getAudienceRecord, memberLeftPart } from '../tables/audiences';
import type { AudienceRecord } from '../tables/audiences';
import { transact, TransactionCancelled } from '../tables/dynamo';
import { currentMembership, deleteIfUnchanged, membershipDeletePart } from '../tables/memberships';
import type { Membership } from '../tables/memberships';
import { clock } from '../shared/clock';
import { jittered, optimistic, retry } from '../shared/retry';

export type RemoveOutcome = 'removed' | 'changed' | 'busy';

/**
 * Removes one membership and takes its committed state off its audience's
 * exact count, in one transaction that holds only if the membership is
 * exactly as read (same writer, expiry and removal state), no matcher holds
 * the audience's lease, and its writer is still (or still not) pending, as in
 * the `audience` snapshot the count change was computed from. So a count is
 * never decremented twice or on the wrong day. A deleted audience's
 * membership is just deleted: its counts no longer matter.
 */
export async function removeCounted(m: Membership, audience: AudienceRecord | undefined, nowMs: number): Promise<RemoveOutcome> {
  if (!audience || audience.deletedAt) return (await deleteIfUnchanged(m)) ? 'removed' : 'changed';
  if (audience.leaseUntil !== undefined && audience.leaseUntil >= nowMs) return 'busy';
  const expiry = effectiveExpiry(m, audience.pending);
  try {
    await transact([
      membershipDeletePart(m),
      memberLeftPart(
        m.businessId,
        m.audienceId,
        expiry === null ? null : dayOf(expiry),
        nowMs,
        m.lastChunk === undefined ? undefined : { id: m.lastChunk, pending: audience.pending.has(m.lastChunk) },
      ),
    ]);
    return 'removed';
  } catch (error) {
    if (!(error instanceof TransactionCancelled)) throw error;
    return error.failedOn('membership') ? 'changed' : 'busy';
  }
}

/** How long a withdrawal waits for a matcher to release an audience before giving up (the caller's retry starts over). */
export const WITHDRAW_BUSY_WAIT_MS = 20_000;

/**
 * Removes a membership and takes it off its audience's count (removeCounted),
 * for as long as `shouldGo` holds for the membership as it is now: when the
 * item changed meanwhile it is read again, and while a matcher holds the
 * audience this waits. Returns whether it removed the membership.
 */
export async function withdrawMembership(first: Membership, shouldGo: (m: Membership) => boolean): Promise<boolean> {
  return optimistic({ pausesWithinMs: WITHDRAW_BUSY_WAIT_MS, exhausted: () => new Error('A matcher held the audience for too long') }, async (attempt) => {
    const membership = attempt === 1 ? first : await currentMembership(first.userId, first.audienceId);
    if (!membership) return false;
    const audience = await getAudienceRecord(membership.businessId, membership.audienceId);
    // Judged on its committed state: while a matcher attempt that wrote it is pending, as it was before that write.
    const pending = audience?.pending ?? new Set<string>();
    const { matchedBy: _written, ...rest } = membership;
    const committedBy = effectiveMatchedBy(membership, pending);
    const committed: Membership = {
      ...rest,
      consentVersion: effectiveConsentVersion(membership, pending) ?? membership.consentVersion,
      ...(committedBy ? { matchedBy: committedBy } : {}),
    };
    if (!shouldGo(committed)) return false;
    const outcome = await removeCounted(membership, audience, clock.nowMs());
    if (outcome === 'removed') return true;
    return outcome === 'changed' ? retry() : retry(jittered(100));
  });
}
