import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { removalStatus, secondsToIso } from '../core/messages';
import { clock, isoSeconds } from '../shared/clock';
import { logger, metrics } from '../shared/observability';
import { finish, statusOf } from '../tables/message-status';
import { announceMessageStatus } from './webhook-events';

/**
 * A removal from the messages table (a keys-only stream record) as a status:
 * a removal by DynamoDB's TTL process (`userIdentity.principalId` is
 * `dynamodb.amazonaws.com`) makes the message `expired`; any other removal
 * is an acknowledgement and makes it `delivered`. Only an `accepted` status
 * moves, so a status never goes back and a repeated record changes nothing.
 *
 * The sender's webhook hears of the status the sender can read: when the
 * record ends with this status (moved now, or by an earlier try of the same
 * record, so an event lost to a crash is announced again, with the same
 * id). A removal whose status was already final otherwise (the pending
 * messages of an erased account, marked expired first) announces nothing.
 */
export async function trackRemoval(record: DynamoDBRecord): Promise<void> {
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
  const now = await statusOf(messageId);
  if (now?.status === status) {
    await announceMessageStatus(now.businessId, messageId, status, status === 'expired' ? secondsToIso(now.messageExpiresAt) : now.updatedAt);
  }
}
