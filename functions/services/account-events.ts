import { PublishBatchCommand, PublishCommand } from '@aws-sdk/client-sns';
import type { PublishBatchRequestEntry } from '@aws-sdk/client-sns';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { AccountEvent } from '../core/events';
import { chunksOf, mapLimit } from '../shared/concurrency';
import { topicArn } from '../shared/config';
import { errorSummary, logger, metrics } from '../shared/observability';
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

/** SNS takes at most 10 messages a PublishBatch. */
const PUBLISH_BATCH = 10;
/** PublishBatch calls in flight for one stream batch. */
const PUBLISHES_IN_FLIGHT = 4;

/**
 * New ledger items (stream records) published as their events on the
 * account-events topic, 10 a PublishBatch call, a few calls in parallel.
 * Returns the records that were not published (a record that does not read
 * as an event, or whose entry or call failed): the stream retries from the
 * first of them. Publishing again is harmless, and so is publishing out of
 * order: consumers reconcile against the current state and ignore repeated
 * and older events. Removals and other changes are not published.
 */
export async function publishLedgerRecords(records: readonly DynamoDBRecord[]): Promise<Set<DynamoDBRecord>> {
  const failed = new Set<DynamoDBRecord>();
  const entries: { record: DynamoDBRecord; event: AccountEvent }[] = [];
  for (const record of records) {
    const image = record.dynamodb?.NewImage;
    if (record.eventName !== 'INSERT' || !image) continue;
    try {
      entries.push({ record, event: eventOf(unmarshall(image as Record<string, AttributeValue>)) });
    } catch (error) {
      logger.warn('Ledger record is not an event', { recordId: record.dynamodb?.SequenceNumber ?? '?', ...errorSummary(error) });
      failed.add(record);
    }
  }
  await mapLimit(chunksOf(entries, PUBLISH_BATCH), PUBLISHES_IN_FLIGHT, async (chunk) => {
    const request: PublishBatchRequestEntry[] = chunk.map(({ event }, i) => ({
      Id: String(i),
      Message: JSON.stringify(event),
      MessageAttributes: { type: { DataType: 'String', StringValue: event.type } },
    }));
    try {
      const out = await sns.send(new PublishBatchCommand({ TopicArn: topicArn('accountEvents'), PublishBatchRequestEntries: request }));
      const notPublished = new Set((out.Failed ?? []).map((f) => f.Id));
      chunk.forEach(({ record, event }, i) => {
        if (notPublished.has(String(i))) failed.add(record);
        else metrics.addMetric(`${event.type}Published`, 'Count', 1);
      });
      if (notPublished.size > 0) logger.warn('Events not published', { count: notPublished.size, codes: [...new Set((out.Failed ?? []).map((f) => f.Code))] });
    } catch (error) {
      logger.warn('PublishBatch failed', { count: chunk.length, ...errorSummary(error) });
      for (const { record } of chunk) failed.add(record);
    }
  });
  return failed;
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
