import { PublishCommand } from '@aws-sdk/client-sns';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { AccountEvent } from '../core/events';
import { topicArn } from '../shared/config';
import { metrics } from '../shared/observability';
import { sns } from '../shared/sns';
import { LedgerItem, receiptOf } from '../tables/ledger';

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
  return AccountEvent.parse({
    type: item.eventType,
    eventId: item.eventId,
    userId: item.userId,
    ...(item.identifier ? { identifier: item.identifier } : {}),
    occurredAt: item.occurredAt,
  });
}

/**
 * A new ledger item (a stream record) published as its event on the
 * account-events topic. Publishing it again is harmless: consumers ignore
 * repeated and older events.
 */
export async function publishLedgerRecord(record: DynamoDBRecord): Promise<void> {
  const image = record.dynamodb?.NewImage;
  if (record.eventName !== 'INSERT' || !image) return;
  const event = eventOf(unmarshall(image as Record<string, AttributeValue>));
  await sns.send(
    new PublishCommand({
      TopicArn: topicArn('accountEvents'),
      Message: JSON.stringify(event),
      MessageAttributes: { type: { DataType: 'String', StringValue: event.type } },
    }),
  );
  metrics.addMetric(`${event.type}Published`, 'Count', 1);
}
