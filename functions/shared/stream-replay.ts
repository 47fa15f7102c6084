/**
 * Replaying stream records a consumer gave up on. When a stream trigger's
 * function keeps failing, Lambda moves on and sends an on-failure record to
 * the trigger's failure queue: where the records are (shard, first and last
 * sequence number), never the records themselves. A replayer consumes that
 * queue, reads the range back from the stream (kept 24 hours) and handles
 * each record with the same code the trigger runs. A failure leaves the
 * on-failure record to SQS's retries, then to the queue's dead-letter queue
 * and `npm run redrive`; nothing waits for the user's next change.
 */
import { GetRecordsCommand, GetShardIteratorCommand } from '@aws-sdk/client-dynamodb-streams';
import type { _Record as StreamRecord } from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBRecord } from 'aws-lambda';
import * as z from 'zod';
import { sqsConsumer } from './consumers';
import { logger, metrics } from './observability';
import { streams } from './streams';

/** Lambda's on-failure record for a DynamoDB stream batch (only what a replay needs). */
export const StreamFailure = z.object({
  DDBStreamBatchInfo: z.object({
    shardId: z.string().min(1).max(1024),
    startSequenceNumber: z.string().regex(/^\d{1,64}$/),
    endSequenceNumber: z.string().regex(/^\d{1,64}$/),
    streamArn: z.string().min(1).max(2048),
    batchSize: z.number().int().nonnegative(),
  }),
});
export type StreamFailure = z.infer<typeof StreamFailure>;

/** GetRecords pages read for one range at most; a range is one failed batch (at most the trigger's batch size). */
const MAX_PAGES = 50;

/** The records of the range, read back from the stream in order. Empty when the stream no longer holds them. */
export async function recordsOf(failure: StreamFailure): Promise<DynamoDBRecord[]> {
  const { shardId, startSequenceNumber, endSequenceNumber, streamArn } = failure.DDBStreamBatchInfo;
  const end = BigInt(endSequenceNumber);
  let iterator: string | undefined;
  try {
    iterator = (
      await streams.send(
        new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: shardId, ShardIteratorType: 'AT_SEQUENCE_NUMBER', SequenceNumber: startSequenceNumber }),
      )
    ).ShardIterator;
  } catch (error) {
    if (isGone(error)) return [];
    throw error;
  }
  const records: DynamoDBRecord[] = [];
  for (let page = 0; iterator && page < MAX_PAGES; page++) {
    const out = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 100 }));
    for (const record of out.Records ?? []) {
      const sequence = record.dynamodb?.SequenceNumber;
      if (sequence === undefined) continue;
      if (BigInt(sequence) > end) return records;
      records.push(asLambdaRecord(record, streamArn));
      if (BigInt(sequence) === end) return records;
    }
    // A page may be empty while later ones hold records: go on until the range's last record or the shard's end.
    iterator = out.NextShardIterator;
  }
  return records;
}

/** The records the streams API returns, in the shape Lambda hands a stream trigger. */
function asLambdaRecord(record: StreamRecord, streamArn: string): DynamoDBRecord {
  return { ...(record as unknown as DynamoDBRecord), eventSourceARN: streamArn };
}

const isGone = (error: unknown): boolean => ['TrimmedDataAccessException', 'ResourceNotFoundException'].includes((error as Error | undefined)?.name ?? '');

/**
 * The consumer of a failure queue: each on-failure record's range is read
 * back and its records of `eventNames` handled in order, by `handle`.
 */
export function replayer(eventNames: readonly string[], handle: (record: DynamoDBRecord) => Promise<void>) {
  return sqsConsumer(
    async (message) => {
      const failure = StreamFailure.parse(JSON.parse(message.body));
      const records = await recordsOf(failure);
      if (records.length === 0) {
        // The stream no longer holds them (24 hours passed): nothing left to replay.
        metrics.addMetric('StreamRecordsGone', 'Count', failure.DDBStreamBatchInfo.batchSize);
        logger.error('Stream records of an on-failure record are gone', { batchSize: failure.DDBStreamBatchInfo.batchSize });
        return;
      }
      let replayed = 0;
      for (const record of records) {
        if (!record.eventName || !eventNames.includes(record.eventName)) continue;
        await handle(record);
        replayed += 1;
      }
      metrics.addMetric('StreamRecordsReplayed', 'Count', replayed);
      logger.info('Stream records replayed', { replayed });
    },
    { inParallel: false },
  );
}
