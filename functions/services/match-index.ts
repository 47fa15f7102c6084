import type { AccountEvent } from '../core/events';
import { accountMatchKeys } from '../core/identifiers';
import { adsGranted, getAccountState } from '../tables/consent-states';
import { isConditionFailure } from '../tables/dynamo';
import { getIdentity } from '../tables/identities';
import { addKey, appliedState, recordApplied, removeKey } from '../tables/match-index';
import type { AppliedState } from '../tables/match-index';
import { clock } from '../shared/clock';
import { jittered, optimistic, retry } from '../shared/retry';
import { pepper } from '../shared/secrets';

const ATTEMPTS = 5;

/**
 * Makes the index hold exactly `desired` for the user: new keys first, then
 * stale ones go, then the applied state, guarded by its revision, so a
 * concurrent reconcile makes this one fail and start over on fresh state.
 */
async function applyKeys(userId: string, previous: AppliedState | undefined, desired: readonly string[], version: number): Promise<void> {
  const current = new Set(previous?.keys ?? []);
  const wanted = new Set(desired);
  for (const key of wanted) if (!current.has(key)) await addKey(key, userId, version);
  for (const key of current) if (!wanted.has(key)) await removeKey(key, userId);
  await recordApplied(userId, previous, [...wanted], version, clock.now().toISOString());
}

/**
 * Keeps the match index to the users who grant `ads_targeting`. Every event
 * reconciles the user against the source of truth (the consent state and the
 * identities), so a repeated or late event changes nothing; a consent event
 * older than the version already applied is skipped outright. This is the
 * one function that reads identifiers and holds the pepper to key them.
 */
export async function reconcileMatchIndex(event: AccountEvent): Promise<'skipped' | 'applied'> {
  return optimistic({ attempts: ATTEMPTS, exhausted: () => new Error('Concurrent reconciles of the same user kept winning') }, async (attempt) => {
    const previous = await appliedState(event.userId);
    if (event.type === 'ConsentChanged' && previous && event.version <= previous.appliedVersion) return 'skipped' as const;
    const [state, identity] = await Promise.all([getAccountState(event.userId), getIdentity(event.userId)]);
    const desired = adsGranted(state.consent, state.erasedAt) ? accountMatchKeys(await pepper(), identity) : [];
    try {
      await applyKeys(event.userId, previous, desired, Math.max(state.consent.version, previous?.appliedVersion ?? 0));
      return 'applied' as const;
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      return retry(jittered(20 * attempt + 15));
    }
  });
}
