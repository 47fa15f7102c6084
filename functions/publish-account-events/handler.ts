import { PublishCommand } from '@aws-sdk/client-sns';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { AccountEvent } from '../core/events';
import { sns } from '../shared/sns';
import { topicArn } from '../shared/config';
import { streamConsumer } from '../shared/consumers';
import { metrics } from '../shared/observability';
import { LedgerItem, receiptOf } from '../tables/ledger';

const TOPIC = topicArn('accountEvents');

/** The ledger item as the event it stands for. */
export function eventOf(raw: Record<string, unknown>): AccountEvent {
  const item = LedgerItem.parse(raw);
  if (item.kind === 'receipt') {
    const receipt = receiptOf(item);
    return AccountEvent.parse({
      type: 'ConsentChanged',
      eventId: receipt.receiptId,
      userId: item.userId,
      version: receipt.version,
      policyVersion: receipt.policyVersion,
      purposes: receipt.purposes,
      occurredAt: receipt.recordedAt,
    });
  }
  return AccountEvent.parse({ type: item.eventType, eventId: item.eventId, userId: item.userId, occurredAt: item.occurredAt });
}

/**
 * The outbox publisher: every new ledger item becomes an event on the
 * account-events topic. A failure leaves the record to be retried from the
 * stream, so no change is lost between the write and the fan-out.
 */
export const handler = streamConsumer(async (record) => {
  const image = record.dynamodb?.NewImage;
  if (record.eventName !== 'INSERT' || !image) return;
  const event = eventOf(unmarshall(image as Record<string, AttributeValue>));
  await sns.send(
    new PublishCommand({
      TopicArn: TOPIC,
      Message: JSON.stringify(event),
      MessageAttributes: { type: { DataType: 'String', StringValue: event.type } },
    }),
  );
  metrics.addMetric(`${event.type}Published`, 'Count', 1);
});
