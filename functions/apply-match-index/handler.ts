import { AccountEvent } from '../core/events';
import { reconcileMatchIndex } from '../services/match-index';
import { sqsConsumer } from '../shared/consumers';
import { metrics } from '../shared/observability';

/** Keeps the match index to the users who grant `ads_targeting` (services/match-index.ts). */
export const handler = sqsConsumer(async (record) => {
  const outcome = await reconcileMatchIndex(AccountEvent.parse(JSON.parse(record.body)));
  metrics.addMetric(outcome === 'skipped' ? 'MatchIndexEventSkipped' : 'MatchIndexEventApplied', 'Count', 1);
});
