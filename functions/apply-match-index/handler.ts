import { AccountEvent } from '../core/events';
import { reconcileMatchIndexBatch } from '../services/match-index';
import { sqsUserBatchConsumer } from '../shared/consumers';

/** Keeps the match index to the users who grant `ads_targeting`, a batch at a time (services/match-index.ts). */
export const handler = sqsUserBatchConsumer({
  parse: (body) => AccountEvent.parse(JSON.parse(body)),
  reconcile: reconcileMatchIndexBatch,
  metrics: { applied: 'MatchIndexEventApplied', skipped: 'MatchIndexEventSkipped' },
});
