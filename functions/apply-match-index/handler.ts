import { getAccount } from '../adapters/accounts';
import { isConditionFailure } from '../adapters/dynamo';
import { appliedState, applyKeys } from '../adapters/match-index';
import { AccountEvent } from '../core/events';
import { accountMatchKeys } from '../core/identifiers';
import { clock } from '../shared/clock';
import { sqsConsumer } from '../shared/consumers';
import { metrics } from '../shared/observability';
import { pepper } from '../shared/secrets';

/**
 * Keeps the match index to the users who grant `ads_targeting`. Every event
 * reconciles the user against the accounts table, the source of truth, so a
 * repeated or late event changes nothing; a consent event older than the
 * version already applied is skipped outright.
 */
async function reconcileOnce(event: AccountEvent): Promise<'skipped' | 'applied'> {
  const previous = await appliedState(event.userId);
  if (event.type === 'ConsentChanged' && previous && event.version <= previous.appliedVersion) return 'skipped';
  const account = await getAccount(event.userId);
  const granted = !account.erasedAt && account.consent.purposes.ads_targeting === 'granted';
  const desired = granted ? accountMatchKeys(await pepper(), account) : [];
  await applyKeys(event.userId, previous, desired, Math.max(account.consent.version, previous?.appliedVersion ?? 0), clock.now().toISOString());
  return 'applied';
}

const CONFLICT_ATTEMPTS = 5;

/** Reconciles, starting over on fresh state when a concurrent reconcile of the same user won. */
export async function reconcile(event: AccountEvent): Promise<'skipped' | 'applied'> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await reconcileOnce(event);
    } catch (error) {
      if (!isConditionFailure(error) || attempt >= CONFLICT_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20 * attempt + Math.random() * 30));
    }
  }
}

export const handler = sqsConsumer(async (record) => {
  const event = AccountEvent.parse(JSON.parse(record.body));
  const outcome = await reconcile(event);
  metrics.addMetric(outcome === 'skipped' ? 'MatchIndexEventSkipped' : 'MatchIndexEventApplied', 'Count', 1);
});
