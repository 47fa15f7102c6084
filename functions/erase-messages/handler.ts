import { AccountEvent } from '../core/events';
import { erasePendingMessages } from '../services/messages';
import { sqsConsumer } from '../shared/consumers';
import { logger, metrics } from '../shared/observability';

/** An erased account's pending messages are deleted; their senders see them expired (services/messages.ts). */
export const handler = sqsConsumer(async (record) => {
  const event = AccountEvent.parse(JSON.parse(record.body));
  if (event.type !== 'AccountErased') return;
  const erased = await erasePendingMessages(event.userId);
  metrics.addMetric('ErasedPendingMessages', 'Count', erased);
  logger.info('Pending messages of an erased account deleted', { count: erased });
});
