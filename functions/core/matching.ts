/**
 * Matching a chunk of keyed rows against an audience: pure rules, no I/O
 * (the service that runs them is services/matching.ts).
 *
 * Attempts. Each attempt to match a chunk holds the audience's lease and has
 * its own id, `<chunk id>/<lease id>`, where the lease id starts with the
 * time the lease was taken. It joins the audience's `pending` set before it
 * writes and leaves it in the transaction that commits its count change.
 * While it is pending, what it wrote counts as the state before it
 * (`effectiveExpiry` in core/audiences.ts).
 *
 * Dead attempts. An attempt that dies after joining `pending` would stay
 * there for good. Before it writes, an attempt records the users it is about
 * to write (its write set). Once its lease started longer ago than the lease
 * lasts, it cannot be writing any more (the lease outlives the matcher's
 * timeout), so the next lease holder settles it: each item it left goes back
 * to its committed state (deleted, or its previous expiry with no writer),
 * and only then does the attempt leave `pending`. Nothing anyone sees or
 * counts changes, and `pending` holds only attempts that may still commit.
 */
import { effectiveExpiry } from './audiences';
import type { MembershipItem } from './audiences';

/** A lease id: the epoch ms it was taken, then a random part. */
export const leaseIdAt = (startMs: number, random: string): string => `${startMs.toString(36)}.${random}`;

export const attemptId = (chunkId: string, leaseId: string): string => `${chunkId}/${leaseId}`;

/** Whether `attempt` is an attempt of the chunk `chunkId`. */
export const isAttemptOf = (attempt: string | undefined, chunkId: string): boolean => attempt !== undefined && attempt.startsWith(`${chunkId}/`);

/** When an attempt's lease was taken (epoch ms), or undefined for ids without a time. */
export function attemptStartMs(attempt: string): number | undefined {
  const leaseId = attempt.slice(attempt.lastIndexOf('/') + 1);
  const dot = leaseId.indexOf('.');
  if (dot <= 0) return undefined;
  const ms = parseInt(leaseId.slice(0, dot), 36);
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/**
 * The pending attempts that can no longer write and can be settled: their
 * lease started more than `leaseMs` before `nowMs`. An id without a time was
 * written before attempts recorded write sets: nothing says which items it
 * left, so it stays pending as it always did (what it wrote keeps counting as
 * nothing).
 */
export function deadAttempts(pending: ReadonlySet<string>, nowMs: number, leaseMs: number): string[] {
  return [...pending].filter((attempt) => {
    const start = attemptStartMs(attempt);
    return start !== undefined && start + leaseMs < nowMs;
  });
}

export interface Candidate<M extends MembershipItem> {
  readonly userId: string;
  readonly existing: M | undefined;
}

/** One membership's count change: its effective expiry before and after (null: not a member). */
export interface Change {
  readonly before: number | null;
  readonly after: number | null;
}

/**
 * An add: every candidate matched under a consent version becomes a member
 * until `expiresAt`, recording the attempt and the expiry it had before.
 */
export function planAdd<M extends MembershipItem & { readonly consentVersion?: number; readonly prevConsentVersion?: number }>(
  candidates: readonly Candidate<M>[],
  versions: ReadonlyMap<string, number>,
  pending: ReadonlySet<string>,
  attempt: string,
  expiresAt: number,
): { writes: { userId: string; consentVersion: number; prevExpiresAt: number; prevConsentVersion?: number }[]; changes: Change[] } {
  const writes: { userId: string; consentVersion: number; prevExpiresAt: number; prevConsentVersion?: number }[] = [];
  const changes: Change[] = [];
  const withAttempt = new Set([...pending, attempt]);
  for (const { userId, existing } of candidates) {
    const version = versions.get(userId);
    if (version === undefined) continue;
    const before = effectiveExpiry(existing, withAttempt);
    // A member before this write keeps the consent version it was matched under, for its committed state.
    const previousVersion = before === null ? undefined : effectiveConsentVersion(existing!, withAttempt);
    writes.push({
      userId,
      consentVersion: version,
      prevExpiresAt: before ?? 0,
      ...(previousVersion !== undefined ? { prevConsentVersion: previousVersion } : {}),
    });
    changes.push({ before, after: expiresAt });
  }
  return { writes, changes };
}

/**
 * What the committed state of a membership item was matched through: while
 * the attempt that last wrote it is pending, what it was before that write
 * (undefined: unknown, which counts as matched through any identifier).
 */
export function effectiveMatchedBy<K extends string>(
  item: (MembershipItem & { readonly matchedBy?: readonly K[]; readonly prevMatchedBy?: readonly K[] }) | undefined,
  pending: ReadonlySet<string>,
): readonly K[] | undefined {
  if (!item) return undefined;
  if (item.lastChunk !== undefined && pending.has(item.lastChunk)) return item.prevMatchedBy && item.prevMatchedBy.length > 0 ? item.prevMatchedBy : undefined;
  return item.matchedBy;
}

/**
 * The consent version the committed state of a membership item was matched
 * under: while the attempt that last wrote it is pending, the version it had
 * before that write.
 */
export function effectiveConsentVersion(
  item: MembershipItem & { readonly consentVersion?: number; readonly prevConsentVersion?: number },
  pending: ReadonlySet<string>,
): number | undefined {
  if (item.lastChunk !== undefined && pending.has(item.lastChunk) && item.prevConsentVersion !== undefined) return item.prevConsentVersion;
  return item.consentVersion;
}

/** A remove: every candidate who is a member now is marked `removing` (its count goes with the commit, its item after). */
export function planRemove<M extends MembershipItem & { readonly consentVersion?: number; readonly prevConsentVersion?: number }>(
  candidates: readonly Candidate<M>[],
  pending: ReadonlySet<string>,
  attempt: string,
): { marks: (M & { lastChunk: string; prevExpiresAt: number; removing: true })[]; changes: Change[] } {
  const marks: (M & { lastChunk: string; prevExpiresAt: number; removing: true })[] = [];
  const changes: Change[] = [];
  const withAttempt = new Set([...pending, attempt]);
  for (const { existing } of candidates) {
    const before = effectiveExpiry(existing, withAttempt);
    if (existing === undefined || before === null) continue;
    const previousVersion = effectiveConsentVersion(existing, withAttempt);
    marks.push({
      ...existing,
      lastChunk: attempt,
      prevExpiresAt: before,
      ...(previousVersion !== undefined ? { prevConsentVersion: previousVersion } : {}),
      removing: true,
    });
    changes.push({ before, after: null });
  }
  return { marks, changes };
}

/**
 * A chunk delivered again after one of its attempts committed: the items
 * that committed attempt wrote, split into removals whose physical delete
 * may be left (`leftovers`) and additions whose consent re-check may not
 * have run (`recheck`).
 */
export function afterCommit<M extends MembershipItem>(existing: Iterable<M>, chunkId: string, pending: ReadonlySet<string>): { leftovers: M[]; recheck: M[] } {
  const leftovers: M[] = [];
  const recheck: M[] = [];
  for (const m of existing) {
    if (!isAttemptOf(m.lastChunk, chunkId) || pending.has(m.lastChunk!)) continue;
    (m.removing ? leftovers : recheck).push(m);
  }
  return { leftovers, recheck };
}
