import { AccountEvent } from '../core/events';
import { clock } from '../shared/clock';
import { eachUser, sqsUserBatchConsumer } from '../shared/consumers';
import type { UserEvents, UserOutcome } from '../shared/consumers';
import { accountStates, purposeGranted } from '../tables/consent-states';
import { putSuggestion, suggestionsOf } from '../tables/suggestions';
import type { Suggestion } from '../tables/suggestions';

/** Whether every event is a consent change at or below the version already applied: nothing to do. */
const allApplied = (events: readonly AccountEvent[], current: Suggestion | undefined): boolean =>
  current !== undefined && events.every((e) => e.type === 'ConsentChanged' && e.version <= current.appliedVersion);

/**
 * Keeps the set of users who allow friend suggestions: one item a user with
 * `allowed` and the consent version it reflects. Reads the consent state, the
 * source of truth; never moves backwards in version (each put is conditional
 * on the stored version). A batch is three calls for everyone in it (the
 * applied items, then the consent states of those with anything to do, in
 * BatchGetItems) plus one conditional put a user, in parallel. The events of
 * one user in a batch are reconciled once: the item is set from the consent
 * state read now, which is what applying each event in turn would end with,
 * so a later decision is never undone by an earlier event.
 */
export async function reconcileSuggestions(users: readonly UserEvents<AccountEvent>[]): Promise<Map<string, UserOutcome>> {
  const current = await suggestionsOf(users.map((u) => u.userId));
  const todo = users.filter((u) => !allApplied(u.events, current.get(u.userId)));
  const states = todo.length > 0 ? await accountStates(todo.map((u) => u.userId)) : new Map();
  const now = clock.now().toISOString();
  const outcomes = await eachUser(todo, async ({ userId }) => {
    const state = states.get(userId)!;
    return putSuggestion({
      userId,
      allowed: purposeGranted(state.consent, state.erasedAt, 'friend_suggestions'),
      appliedVersion: Math.max(state.consent.version, current.get(userId)?.appliedVersion ?? 0),
      updatedAt: now,
    });
  });
  for (const u of users) if (!outcomes.has(u.userId)) outcomes.set(u.userId, { ok: true, applied: false });
  return outcomes;
}

/** One event, as a batch of one (tests and tools). */
export async function reconcile(event: AccountEvent): Promise<'skipped' | 'applied'> {
  const outcome = (await reconcileSuggestions([{ userId: event.userId, events: [event] }])).get(event.userId)!;
  if (!outcome.ok) throw outcome.error;
  return outcome.applied ? 'applied' : 'skipped';
}

export const handler = sqsUserBatchConsumer({
  parse: (body) => AccountEvent.parse(JSON.parse(body)),
  reconcile: reconcileSuggestions,
  metrics: { applied: 'SuggestionsEventApplied', skipped: 'SuggestionsEventSkipped' },
});
