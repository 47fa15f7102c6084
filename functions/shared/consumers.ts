import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, DynamoDBRecord, DynamoDBStreamEvent, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { errorSummary, logger, metrics, publishMetrics } from './observability';

/**
 * Queue and stream consumers: each record is handled on its own, failures are
 * reported as `batchItemFailures` so only they are retried (and, after the
 * queue's maxReceiveCount, dead-lettered). Errors are logged by name only.
 */
function guarded<R>(idOf: (r: R) => string, fn: (record: R) => Promise<void>) {
  return async (record: R) => {
    try {
      await fn(record);
    } catch (error) {
      logger.warn('Record failed', { recordId: idOf(record), ...errorSummary(error) });
      metrics.addMetric('RecordFailed', 'Count', 1);
      throw error;
    }
  };
}

export function sqsConsumer(fn: (record: SQSRecord) => Promise<void>, options: { inParallel?: boolean } = {}) {
  const processor = new BatchProcessor(EventType.SQS);
  const handle = guarded<SQSRecord>((r) => r.messageId, fn);
  return middy<SQSEvent, SQSBatchResponse>()
    .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
    .use(publishMetrics())
    .handler(async (event: SQSEvent, context: Context) =>
      processPartialResponse(event, handle, processor, { context, processInParallel: options.inParallel ?? true }),
    );
}

export function streamConsumer(fn: (record: DynamoDBRecord) => Promise<void>) {
  const processor = new BatchProcessor(EventType.DynamoDBStreams);
  const handle = guarded<DynamoDBRecord>((r) => r.dynamodb?.SequenceNumber ?? r.eventID ?? '?', fn);
  return middy<DynamoDBStreamEvent, SQSBatchResponse>()
    .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
    .use(publishMetrics())
    .handler(async (event: DynamoDBStreamEvent, context: Context) => processPartialResponse(event, handle, processor, { context, processInParallel: false }));
}
