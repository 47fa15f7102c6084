import { deliver } from '../services/webhooks';
import { sqsConsumer } from '../shared/consumers';

/**
 * `webhookDeliveries`: each event is POSTed to its business's registered
 * endpoint, signed (services/webhooks.ts). A failed attempt is sent again
 * for the next one, with backoff, for 24 hours, then dead-lettered; only a
 * crash of this function leaves a message to come back by itself.
 */
export const handler = sqsConsumer(async (record) => {
  await deliver(record.body);
});
