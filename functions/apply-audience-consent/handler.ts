import { AccountEvent } from '../core/events';
import { withdrawMembership } from '../services/memberships';
import { sqsConsumer } from '../shared/consumers';
import { metrics } from '../shared/observability';
import { consentOf } from '../tables/consent-states';
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
 * (later uploads match again). Repeated or reordered events are harmless:
 * each removal is one conditional transaction that also takes the member off
 * the audience's exact count, so nothing is decremented twice.
 */
export async function withdraw(event: AccountEvent): Promise<'skipped' | 'applied'> {
  if (event.type === 'IdentifiersChanged') return 'skipped';
  if (event.type === 'IdentifierLost') {
    const lost = event.identifier;
    return removeWhere(event.userId, (m) => matchedOnlyThrough(m, lost));
  }
  if (event.type === 'ConsentChanged' && event.purposes.ads_targeting === 'granted') return 'skipped';
  const consent = (await consentOf([event.userId])).get(event.userId);
  const everything = event.type === 'AccountErased' || !consent?.granted;
  const denialVersion = event.type === 'ConsentChanged' ? event.version : Number.POSITIVE_INFINITY;
  return removeWhere(event.userId, (m: Membership) => everything || m.consentVersion < denialVersion);
}

/** Withdraws every membership of the user for which `shouldGo` holds (as it is when removed). */
async function removeWhere(userId: string, shouldGo: (m: Membership) => boolean): Promise<'applied'> {
  let removed = 0;
  for (const membership of await membershipsOfUser(userId)) {
    if (shouldGo(membership) && (await withdrawMembership(membership, shouldGo))) removed += 1;
  }
  if (removed > 0) metrics.addMetric('AudienceMembershipsWithdrawn', 'Count', removed);
  return 'applied';
}

export const handler = sqsConsumer(async (record) => {
  const outcome = await withdraw(AccountEvent.parse(JSON.parse(record.body)));
  metrics.addMetric(outcome === 'skipped' ? 'AudienceConsentEventSkipped' : 'AudienceConsentEventApplied', 'Count', 1);
});
