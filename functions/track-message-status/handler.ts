import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { removalStatus } from '../core/messages';
import { clock, isoSeconds } from '../shared/clock';
import { streamConsumer } from '../shared/consumers';
import { logger, metrics } from '../shared/observability';
import { finish } from '../tables/message-status';

/**
 * The messages table's stream (keys only): a removal by DynamoDB's TTL
 * process (`userIdentity.principalId` is `dynamodb.amazonaws.com`) makes the
 * message `expired`; any other removal is an acknowledgement and makes it
 * `delivered`. Only an `accepted` status moves, so a status never goes back
 * and a repeated record changes nothing. Inserts are filtered out by the
 * trigger (and ignored here): `accepted` is written when the message is sent.
 */
export const handler = streamConsumer(async (record) => {
  if (record.eventName !== 'REMOVE') return;
  const keys = record.dynamodb?.Keys ? unmarshall(record.dynamodb.Keys as Record<string, AttributeValue>) : {};
  const messageId = keys.messageId;
  if (typeof messageId !== 'string' || messageId.length === 0) {
    logger.warn('Removal without a message id skipped', { recordId: record.eventID });
    return;
  }
  const status = removalStatus(record.userIdentity as { type?: string; principalId?: string } | undefined);
  const moved = await finish(messageId, status, isoSeconds(clock.now()));
  metrics.addMetric(moved ? (status === 'expired' ? 'MessageExpired' : 'MessageDelivered') : 'MessageStatusUnchanged', 'Count', 1);
  logger.info(moved ? 'Message status recorded' : 'Message status already final', { messageId, status });
});
