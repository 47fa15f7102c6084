import { publishLedgerRecords } from '../services/account-events';
import { topicArn } from '../shared/config';
import { streamBatchConsumer } from '../shared/consumers';

// Fails at cold start, not mid-batch, when the topic is not bound.
topicArn('accountEvents');

/**
 * The outbox publisher: every new ledger item becomes an event on the
 * account-events topic, a stream batch in PublishBatch calls of 10. A failure leaves the record to be retried from the
 * stream, and after the trigger's retries to `replayAccountEvents`, so no
 * change is lost between the write and the fan-out.
 */
export const handler = streamBatchConsumer(publishLedgerRecords);
