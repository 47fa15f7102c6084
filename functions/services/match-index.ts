import type { AccountEvent } from '../core/events';
import { accountMatchKeys } from '../core/identifiers';
import { accountStates, adsGranted, getAccountState } from '../tables/consent-states';
import type { AccountState } from '../tables/consent-states';
import { isConditionFailure } from '../tables/dynamo';
import { getIdentity, identitiesOf } from '../tables/identities';
import type { Identity } from '../tables/identities';
import { addKey, appliedState, appliedStates, recordApplied, removeKey } from '../tables/match-index';
import type { AppliedState } from '../tables/match-index';
import { clock } from '../shared/clock';
import { eachUser } from '../shared/consumers';
import type { UserEvents, UserOutcome } from '../shared/consumers';
import { jittered, optimistic, retry } from '../shared/retry';
import { pepper } from '../shared/secrets';

const ATTEMPTS = 5;

/**
 * Makes the index hold exactly `desired` for the user: new keys first, then
 * stale ones go, then the applied state, guarded by its revision, so a
 * concurrent reconcile makes this one fail and start over on fresh state.
 * Keys are independent items, so the adds (and then the removals) run in parallel.
 */
async function applyKeys(userId: string, previous: AppliedState | undefined, desired: readonly string[], version: number): Promise<void> {
  const current = new Set(previous?.keys ?? []);
  const wanted = new Set(desired);
  await Promise.all([...wanted].filter((key) => !current.has(key)).map((key) => addKey(key, userId, version)));
  await Promise.all([...current].filter((key) => !wanted.has(key)).map((key) => removeKey(key, userId)));
  await recordApplied(userId, previous, [...wanted], version, clock.now().toISOString());
}

/** Whether every event is a consent change at or below the version already applied: nothing to do. */
const allApplied = (events: readonly AccountEvent[], previous: AppliedState | undefined): boolean =>
  previous !== undefined && events.every((e) => e.type === 'ConsentChanged' && e.version <= previous.appliedVersion);

interface Snapshot {
  readonly previous: AppliedState | undefined;
  readonly state: AccountState;
  readonly identity: Identity;
}

/**
 * Keeps the match index to the users who grant `ads_targeting`. Every
 * reconcile sets the user's keys from the source of truth (the consent state
 * and the identities), so a repeated or late event changes nothing; events
 * that are all consent changes at or below the version already applied are
 * skipped outright. Hence the events of one user in a batch are reconciled
 * once, together: whatever their order, one reconcile from the state read
 * now is what reconciling after each of them would end with, and a later
 * decision is never undone by an earlier event. This is the one function
 * that reads identifiers and holds the pepper to key them.
 *
 * The first attempt works from `first` (read for the whole batch); when a
 * concurrent reconcile of the same user won, it starts over on fresh state.
 */
export async function reconcileMatchIndex(userId: string, events: readonly AccountEvent[], first?: Snapshot): Promise<'skipped' | 'applied'> {
  return optimistic({ attempts: ATTEMPTS, exhausted: () => new Error('Concurrent reconciles of the same user kept winning') }, async (attempt) => {
    const previous = attempt === 1 && first ? first.previous : await appliedState(userId);
    if (allApplied(events, previous)) return 'skipped' as const;
    const [state, identity] = attempt === 1 && first ? [first.state, first.identity] : await Promise.all([getAccountState(userId), getIdentity(userId)]);
    const desired = adsGranted(state.consent, state.erasedAt) ? accountMatchKeys(await pepper(), identity) : [];
    try {
      await applyKeys(userId, previous, desired, Math.max(state.consent.version, previous?.appliedVersion ?? 0));
      return 'applied' as const;
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      return retry(jittered(20 * attempt + 15));
    }
  });
}

/**
 * A batch of users: what was applied for all of them in one BatchGetItem,
 * then the consent states and identities of those with anything to do in
 * two more, then each user's writes (in parallel across users).
 */
export async function reconcileMatchIndexBatch(users: readonly UserEvents<AccountEvent>[]): Promise<Map<string, UserOutcome>> {
  const applied = await appliedStates(users.map((u) => u.userId));
  const skipped = users.filter((u) => allApplied(u.events, applied.get(u.userId)));
  const todo = users.filter((u) => !allApplied(u.events, applied.get(u.userId)));
  const [states, identities] = todo.length > 0 ? await Promise.all([accountStates(todo.map((u) => u.userId)), identitiesOf(todo.map((u) => u.userId))]) : [];
  const outcomes = await eachUser(todo, async ({ userId, events }) => {
    const first = { previous: applied.get(userId), state: states!.get(userId)!, identity: identities!.get(userId)! };
    return (await reconcileMatchIndex(userId, events, first)) === 'applied';
  });
  for (const u of skipped) outcomes.set(u.userId, { ok: true, applied: false });
  return outcomes;
}
