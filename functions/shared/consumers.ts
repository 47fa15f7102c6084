import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, DynamoDBRecord, DynamoDBStreamEvent, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { mapLimit } from './concurrency';
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

/**
 * An SQS consumer. `perBatch` makes what the records of one invocation
 * share (made anew for each batch, never kept between invocations).
 */
export function sqsConsumer<S = undefined>(fn: (record: SQSRecord, batch: S) => Promise<void>, options: { inParallel?: boolean; perBatch?: () => S } = {}) {
  const processor = new BatchProcessor(EventType.SQS);
  return middy<SQSEvent, SQSBatchResponse>()
    .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
    .use(publishMetrics())
    .handler(async (event: SQSEvent, context: Context) => {
      const shared = options.perBatch?.() as S;
      const handle = guarded<SQSRecord>(
        (r) => r.messageId,
        (r) => fn(r, shared),
      );
      return processPartialResponse(event, handle, processor, { context, processInParallel: options.inParallel ?? true });
    });
}

export function streamConsumer(fn: (record: DynamoDBRecord) => Promise<void>) {
  const processor = new BatchProcessor(EventType.DynamoDBStreams);
  const handle = guarded<DynamoDBRecord>((r) => r.dynamodb?.SequenceNumber ?? r.eventID ?? '?', fn);
  return middy<DynamoDBStreamEvent, SQSBatchResponse>()
    .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
    .use(publishMetrics())
    .handler(async (event: DynamoDBStreamEvent, context: Context) => processPartialResponse(event, handle, processor, { context, processInParallel: false }));
}

/** The events of one user in a batch, in the order the batch holds them. */
export interface UserEvents<E> {
  readonly userId: string;
  readonly events: readonly E[];
}

/** What a batch reconcile says of each user: done (applied or skipped), or the error that failed them. */
export type UserOutcome = { readonly ok: true; readonly applied: boolean } | { readonly ok: false; readonly error: unknown };

/** Users reconciled at once within one batch (their DynamoDB calls run in parallel). */
export const USERS_IN_FLIGHT = 16;

/**
 * Runs `fn` for each user, at most USERS_IN_FLIGHT at a time, and settles
 * each on its own: one user's failure fails only that user.
 */
export async function eachUser<E>(users: readonly UserEvents<E>[], fn: (user: UserEvents<E>) => Promise<boolean>): Promise<Map<string, UserOutcome>> {
  const outcomes = new Map<string, UserOutcome>();
  await mapLimit(users, USERS_IN_FLIGHT, async (user) => {
    try {
      outcomes.set(user.userId, { ok: true, applied: await fn(user) });
    } catch (error) {
      outcomes.set(user.userId, { ok: false, error });
    }
  });
  return outcomes;
}

/** Thrown when every record of a batch failed, so that the whole batch comes back (as Powertools' batch processor does). */
export class BatchFailed extends Error {
  override readonly name = 'BatchFailed';
}

/**
 * A queue consumer of per-user events that works a batch at a time: records
 * are parsed, grouped by user (a user's events in batch order), and
 * `reconcile` gets every user of the batch at once, so it can read and write
 * for all of them in a few batched calls and reconcile each user once.
 *
 * Failures are reported per record as `batchItemFailures`: a record that does
 * not parse fails alone; a user whose reconcile fails fails with all of their
 * records in the batch (their events were coalesced into that one
 * reconcile, so none of them is done). When every record fails the batch is
 * thrown, so it all comes back. Errors are logged by name only.
 */
export function sqsUserBatchConsumer<E extends { readonly userId: string }>(options: {
  readonly parse: (body: string) => E;
  readonly reconcile: (users: readonly UserEvents<E>[]) => Promise<ReadonlyMap<string, UserOutcome>>;
  /** Metric names counted per record. */
  readonly metrics: { readonly applied: string; readonly skipped: string };
}) {
  return middy<SQSEvent, SQSBatchResponse>()
    .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
    .use(publishMetrics())
    .handler(async (event: SQSEvent) => {
      const failed: string[] = [];
      const fail = (recordIds: readonly string[], error: unknown) => {
        logger.warn('Record failed', { recordIds, ...errorSummary(error) });
        metrics.addMetric('RecordFailed', 'Count', recordIds.length);
        failed.push(...recordIds);
      };
      const byUser = new Map<string, { events: E[]; recordIds: string[] }>();
      for (const record of event.Records) {
        let parsed: E;
        try {
          parsed = options.parse(record.body);
        } catch (error) {
          fail([record.messageId], error);
          continue;
        }
        const entry = byUser.get(parsed.userId) ?? { events: [], recordIds: [] };
        entry.events.push(parsed);
        entry.recordIds.push(record.messageId);
        byUser.set(parsed.userId, entry);
      }
      if (byUser.size > 0) {
        const outcomes = await options.reconcile([...byUser].map(([userId, { events }]) => ({ userId, events })));
        let applied = 0;
        let skipped = 0;
        for (const [userId, { recordIds }] of byUser) {
          const outcome = outcomes.get(userId) ?? { ok: false, error: new Error('No outcome for a user of the batch') };
          if (!outcome.ok) fail(recordIds, outcome.error);
          else if (outcome.applied) applied += recordIds.length;
          else skipped += recordIds.length;
        }
        if (applied > 0) metrics.addMetric(options.metrics.applied, 'Count', applied);
        if (skipped > 0) metrics.addMetric(options.metrics.skipped, 'Count', skipped);
      }
      if (event.Records.length > 0 && failed.length === event.Records.length) throw new BatchFailed(`All ${failed.length} records of the batch failed`);
      // Record order, as Lambda reads the list.
      const failedSet = new Set(failed);
      return { batchItemFailures: event.Records.filter((r) => failedSet.has(r.messageId)).map((r) => ({ itemIdentifier: r.messageId })) };
    });
}

/**
 * A stream consumer that handles a whole batch at once: `fn` returns the
 * records it did not process, reported as `batchItemFailures` (the stream
 * retries from the first of them). When every record failed the batch is
 * thrown, so it all comes back.
 */
export function streamBatchConsumer(fn: (records: readonly DynamoDBRecord[]) => Promise<ReadonlySet<DynamoDBRecord>>) {
  return middy<DynamoDBStreamEvent, SQSBatchResponse>()
    .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
    .use(publishMetrics())
    .handler(async (event: DynamoDBStreamEvent) => {
      const failed = await fn(event.Records);
      if (failed.size > 0) metrics.addMetric('RecordFailed', 'Count', failed.size);
      if (event.Records.length > 0 && failed.size === event.Records.length) throw new BatchFailed(`All ${failed.size} records of the batch failed`);
      return {
        batchItemFailures: event.Records.filter((r) => failed.has(r)).map((r) => ({ itemIdentifier: r.dynamodb?.SequenceNumber ?? r.eventID ?? '?' })),
      };
    });
}
