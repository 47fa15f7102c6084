import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { queryAll } from '../adapters/dynamo';
import { finish } from '../adapters/message-status';
import { AccountEvent } from '../core/events';
import { ddb } from '../shared/aws';
import { clock, isoSeconds } from '../shared/clock';
import { tableName } from '../shared/config';
import { sqsConsumer } from '../shared/consumers';
import { logger, metrics } from '../shared/observability';

const MESSAGES = tableName('messages');

/**
 * An erased account's pending messages are deleted. Each is first marked
 * `expired` for its sender (it will never be delivered), then deleted; the
 * status function's later "removed, so delivered" finds the status final and
 * leaves it. Repeating the event finds nothing left to do.
 */
export async function erasePendingMessages(userId: string): Promise<number> {
  const pending = await queryAll({
    TableName: MESSAGES,
    KeyConditionExpression: 'recipientId = :r',
    ProjectionExpression: 'messageId',
    ExpressionAttributeValues: { ':r': userId },
    ConsistentRead: true,
  });
  for (const { messageId } of pending) {
    await finish(messageId, 'expired', isoSeconds(clock.now()));
    await ddb.send(new DeleteCommand({ TableName: MESSAGES, Key: { recipientId: userId, messageId } }));
  }
  return pending.length;
}

export const handler = sqsConsumer(async (record) => {
  const event = AccountEvent.parse(JSON.parse(record.body));
  if (event.type !== 'AccountErased') return;
  const erased = await erasePendingMessages(event.userId);
  metrics.addMetric('ErasedPendingMessages', 'Count', erased);
  logger.info('Pending messages of an erased account deleted', { count: erased });
});
