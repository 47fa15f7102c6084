import { AccountEvent } from '../core/events';
import { clock } from '../shared/clock';
import { sqsConsumer } from '../shared/consumers';
import { metrics } from '../shared/observability';
import { getAccountState, purposeGranted } from '../tables/consent-states';
import { getSuggestion, putSuggestion } from '../tables/suggestions';

/**
 * Keeps the set of users who allow friend suggestions: one item a user with
 * `allowed` and the consent version it reflects. Reads the consent state, the
 * source of truth; never moves backwards in version.
 */
export async function reconcile(event: AccountEvent): Promise<'skipped' | 'applied'> {
  const current = await getSuggestion(event.userId);
  const applied = current?.appliedVersion ?? 0;
  if (event.type === 'ConsentChanged' && current && event.version <= applied) return 'skipped';
  const state = await getAccountState(event.userId);
  const stored = await putSuggestion({
    userId: event.userId,
    allowed: purposeGranted(state.consent, state.erasedAt, 'friend_suggestions'),
    appliedVersion: Math.max(state.consent.version, applied),
    updatedAt: clock.now().toISOString(),
  });
  return stored ? 'applied' : 'skipped';
}

export const handler = sqsConsumer(async (record) => {
  const outcome = await reconcile(AccountEvent.parse(JSON.parse(record.body)));
  metrics.addMetric(outcome === 'skipped' ? 'SuggestionsEventSkipped' : 'SuggestionsEventApplied', 'Count', 1);
});
