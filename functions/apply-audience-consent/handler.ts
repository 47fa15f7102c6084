import type { MatchKeyKind } from '../core/audiences';
import { AccountEvent } from '../core/events';
import { withdrawMembership } from '../services/memberships';
import { eachUser, sqsUserBatchConsumer } from '../shared/consumers';
import type { UserEvents, UserOutcome } from '../shared/consumers';
import { metrics } from '../shared/observability';
import { consentOf } from '../tables/consent-states';
import type { ConsentNow } from '../tables/consent-states';
import { matchedOnlyThrough, membershipsOfUser } from '../tables/memberships';
import type { Membership } from '../tables/memberships';

/**
 * The audience side's consumer of the account events: a user who denies
 * `ads_targeting`, or whose account is erased, leaves every audience; a user
 * who lost a phone number or email to another account that verified it
 * leaves every audience they were matched into only through that kind of
 * identifier (memberships record what they were matched through).
 *
 * The decision is read where it is made: the consent state, which has the
 * denial committed before its event is published. If the user does not grant
 * ads targeting now (or is erased), every membership goes. If they granted it
 * again since, only memberships matched under a consent version older than
 * the denial go (the denial still applies to what was matched before it);
 * memberships matched after the new grant stay. A grant changes nothing here
 * (later uploads match again): it costs no read at all. Repeated or
 * reordered events are harmless: each removal is one conditional transaction
 * that also takes the member off the audience's exact count, so nothing is
 * decremented twice.
 */

/** What a user's events in a batch ask to remove, taken together. */
interface Withdrawal {
  /** An erasure: everything goes, whatever the consent. */
  readonly erased: boolean;
  /** The newest denial's version (0: no denial). */
  readonly deniedAt: number;
  /** Kinds of identifier lost to other accounts. */
  readonly lost: ReadonlySet<MatchKeyKind>;
}

function withdrawalOf(events: readonly AccountEvent[]): Withdrawal | undefined {
  let erased = false;
  let deniedAt = 0;
  const lost = new Set<MatchKeyKind>();
  for (const e of events) {
    if (e.type === 'AccountErased') erased = true;
    else if (e.type === 'IdentifierLost') lost.add(e.identifier);
    else if (e.type === 'ConsentChanged' && e.purposes.ads_targeting === 'denied') deniedAt = Math.max(deniedAt, e.version);
  }
  return erased || deniedAt > 0 || lost.size > 0 ? { erased, deniedAt, lost } : undefined;
}

/**
 * Which memberships go. Each event on its own removes the memberships its
 * own rule selects (judged on the consent read now), so applying a user's
 * events one after another removes those that any of the rules selects:
 * the events of one user in a batch are coalesced into this one predicate
 * and one pass over their memberships, and an earlier event can never bring
 * back what a later one removed. Denials: everything when the user does not
 * grant now, else what was matched before the newest denial (m < v for some
 * denial v is m < the newest).
 */
function shouldGoFor(w: Withdrawal, consent: ConsentNow | undefined): (m: Membership) => boolean {
  const everything = w.erased || (w.deniedAt > 0 && !consent?.granted);
  return (m) => everything || m.consentVersion < w.deniedAt || [...w.lost].some((kind) => matchedOnlyThrough(m, kind));
}

/**
 * A batch: grants and identifier changes are dropped without a read; the
 * consent of the users who denied (or were erased) is read in one
 * BatchGetItem; then each user's memberships are read and withdrawn, users
 * in parallel.
 */
export async function withdrawUsers(users: readonly UserEvents<AccountEvent>[]): Promise<Map<string, UserOutcome>> {
  const work = users.flatMap((u) => {
    const w = withdrawalOf(u.events);
    return w ? [{ ...u, withdrawal: w }] : [];
  });
  const needConsent = work.filter((u) => u.withdrawal.deniedAt > 0 && !u.withdrawal.erased).map((u) => u.userId);
  const consent = needConsent.length > 0 ? await consentOf(needConsent) : new Map<string, ConsentNow>();
  const withdrawals = new Map(work.map((u) => [u.userId, u.withdrawal]));
  const outcomes = await eachUser(work, async ({ userId }) => {
    await removeWhere(userId, shouldGoFor(withdrawals.get(userId)!, consent.get(userId)));
    return true;
  });
  for (const u of users) if (!outcomes.has(u.userId)) outcomes.set(u.userId, { ok: true, applied: false });
  return outcomes;
}

/** One event, as a batch of one (tests and tools). */
export async function withdraw(event: AccountEvent): Promise<'skipped' | 'applied'> {
  const outcome = (await withdrawUsers([{ userId: event.userId, events: [event] }])).get(event.userId)!;
  if (!outcome.ok) throw outcome.error;
  return outcome.applied ? 'applied' : 'skipped';
}

/** Withdraws every membership of the user for which `shouldGo` holds (as it is when removed); memberships of different audiences in parallel. */
async function removeWhere(userId: string, shouldGo: (m: Membership) => boolean): Promise<void> {
  const memberships = (await membershipsOfUser(userId)).filter(shouldGo);
  const removed = (await Promise.all(memberships.map((m) => withdrawMembership(m, shouldGo)))).filter(Boolean).length;
  if (removed > 0) metrics.addMetric('AudienceMembershipsWithdrawn', 'Count', removed);
}

export const handler = sqsUserBatchConsumer({
  parse: (body) => AccountEvent.parse(JSON.parse(body)),
  reconcile: withdrawUsers,
  metrics: { applied: 'AudienceConsentEventApplied', skipped: 'AudienceConsentEventSkipped' },
});
