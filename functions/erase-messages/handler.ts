import { AccountEvent } from '../core/events';
import { withholdErasedMessages } from '../services/messages';
import { sqsConsumer } from '../shared/consumers';
import { logger, metrics } from '../shared/observability';
import { deleteBlocksMadeBy, deleteKeyPublishedBy } from '../tables/recipients';

/**
 * AccountErased: the erased user's pending messages are withheld (their
 * content deleted; their senders see them `accepted` until their expiry, as
 * for a recipient who stays offline: services/messages.ts), and the message
 * key and blocks they made before the erasure are deleted.
 */
export const handler = sqsConsumer(async (record) => {
  const event = AccountEvent.parse(JSON.parse(record.body));
  if (event.type !== 'AccountErased') return;
  const erasedAt = new Date(event.occurredAt);
  const withheld = await withholdErasedMessages(event.userId, erasedAt);
  const keyDeleted = await deleteKeyPublishedBy(event.userId, event.occurredAt);
  const blocks = await deleteBlocksMadeBy(event.userId, event.occurredAt);
  metrics.addMetric('ErasedPendingMessages', 'Count', withheld);
  logger.info('Messages of an erased account withheld, key and blocks deleted', { messages: withheld, keyDeleted, blocks });
});
