/**
 * What Lambda's DynamoDB stream event source mapping does for one function:
 * read every shard from TRIM_HORIZON (parents before children), keep the
 * records the trigger's filter wants, hand them to the function in batches,
 * retry from the first failed record, and after the trigger's retry attempts
 * send an on-failure record to its failure queue and move past the batch.
 * DynamoDB Local's records lack `eventSourceARN` and `userIdentity`; this adds
 * both, the latter for the deletions of the TTL sweep.
 */
import {
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as StreamRecord,
  type DynamoDBStreamsClient,
  type Shard,
} from '@aws-sdk/client-dynamodb-streams';
import { randomUUID } from 'node:crypto';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { batchItemFailures, streamFailureRecord, toDynamoDbRecord, TTL_USER_IDENTITY, type StreamFailureRecord } from './events';
import type { LocalFunction } from './functions';
import { describeError, sleep, type StackLog } from './log';
import { keyIdentity, type TtlRemovals } from './ttl-sweep';

export type StreamEventName = 'INSERT' | 'MODIFY' | 'REMOVE';

export interface StreamPollerOptions {
  readonly fn: LocalFunction;
  /** A client with an explicit endpoint. */
  readonly streams: DynamoDBStreamsClient;
  readonly streamArn: string;
  /** Physical table name, to recognize the TTL sweep's deletions. */
  readonly tableName: string;
  readonly region: string;
  readonly batchSize: number;
  readonly retryAttempts: number;
  readonly eventNames?: readonly StreamEventName[];
  /** Sends an on-failure record to the trigger's failure queue. */
  readonly onFailure: (record: StreamFailureRecord) => Promise<void>;
  readonly ttlRemovals?: TtlRemovals;
  /** Pause when no shard had records. */
  readonly idleMs?: number;
  /** Pause before the n-th retry of a failed batch is min(retryBaseMs * 2^(n-1), retryMaxMs). */
  readonly retryBaseMs?: number;
  readonly retryMaxMs?: number;
  readonly log: StackLog;
}

interface ShardState {
  readonly id: string;
  readonly parentId: string | undefined;
  /** undefined: not acquired yet; null: the shard is closed and fully read. */
  iterator: string | null | undefined;
  lastSequenceNumber: string | undefined;
}

/** How often the shard list is refreshed while polling. */
const DESCRIBE_INTERVAL_MS = 1_000;
const GET_RECORDS_LIMIT = 1_000;

export class StreamPoller {
  private readonly abort = new AbortController();
  private readonly shards = new Map<string, ShardState>();
  private loopPromise: Promise<void> | undefined;
  private nextDescribe = 0;
  /** Batches invoked (attempts included), for tests and the health route. */
  invocations = 0;

  private held = false;

  constructor(private readonly options: StreamPollerOptions) {}

  get running(): boolean {
    return this.loopPromise !== undefined && !this.abort.signal.aborted;
  }

  /**
   * Stops reading the stream until `release()`: a batch in hand finishes,
   * new records wait in the stream (it keeps them 24 hours, as DynamoDB
   * Streams does). For benchmarks that measure the API alone.
   */
  hold(): void {
    this.held = true;
  }

  release(): void {
    this.held = false;
  }

  start(): void {
    this.loopPromise ??= this.loop();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loopPromise;
  }

  private async loop(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      if (this.held) {
        await sleep(50, signal);
        continue;
      }
      try {
        if (Date.now() >= this.nextDescribe) await this.refreshShards(signal);
        const hadRecords = await this.pollShards(signal);
        if (!hadRecords) await sleep(this.options.idleMs ?? 100, signal);
      } catch (error) {
        if (signal.aborted) break;
        this.options.log.warn(`stream poller of ${this.options.fn.functionName}: ${describeError(error)}`);
        await sleep(1_000, signal);
      }
    }
  }

  private async refreshShards(signal: AbortSignal): Promise<void> {
    const listed: Shard[] = [];
    let start: string | undefined;
    do {
      const page = await this.options.streams.send(
        new DescribeStreamCommand({ StreamArn: this.options.streamArn, ...(start ? { ExclusiveStartShardId: start } : {}) }),
        { abortSignal: signal },
      );
      listed.push(...(page.StreamDescription?.Shards ?? []));
      start = page.StreamDescription?.LastEvaluatedShardId;
    } while (start);
    for (const shard of listed) {
      if (!shard.ShardId || this.shards.has(shard.ShardId)) continue;
      this.shards.set(shard.ShardId, { id: shard.ShardId, parentId: shard.ParentShardId, iterator: undefined, lastSequenceNumber: undefined });
    }
    this.nextDescribe = Date.now() + DESCRIBE_INTERVAL_MS;
  }

  /** Open shards whose parent is fully read (or unknown, i.e. trimmed), parents first. */
  private readyShards(): ShardState[] {
    return [...this.shards.values()].filter((shard) => {
      if (shard.iterator === null) return false;
      const parent = shard.parentId ? this.shards.get(shard.parentId) : undefined;
      return !parent || parent.iterator === null;
    });
  }

  private async pollShards(signal: AbortSignal): Promise<boolean> {
    let hadRecords = false;
    for (const shard of this.readyShards()) {
      if (signal.aborted) break;
      shard.iterator ??= await this.acquireIterator(shard, signal);
      if (!shard.iterator) continue;
      let page;
      try {
        page = await this.options.streams.send(new GetRecordsCommand({ ShardIterator: shard.iterator, Limit: GET_RECORDS_LIMIT }), {
          abortSignal: signal,
        });
      } catch (error) {
        const name = (error as Error).name;
        if (name === 'ExpiredIteratorException' || name === 'TrimmedDataAccessException') {
          shard.iterator = undefined; // re-acquire after the last record handled
          if (name === 'TrimmedDataAccessException') shard.lastSequenceNumber = undefined;
          continue;
        }
        throw error;
      }
      const records = page.Records ?? [];
      if (records.length > 0) {
        hadRecords = true;
        await this.handleRecords(shard, records, signal);
      }
      if (signal.aborted) break;
      shard.iterator = page.NextShardIterator ?? null;
      if (shard.iterator === null) this.nextDescribe = 0; // children may be ready now
    }
    return hadRecords;
  }

  private async acquireIterator(shard: ShardState, signal: AbortSignal): Promise<string | null> {
    const result = await this.options.streams.send(
      new GetShardIteratorCommand({
        StreamArn: this.options.streamArn,
        ShardId: shard.id,
        ...(shard.lastSequenceNumber
          ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: shard.lastSequenceNumber }
          : { ShardIteratorType: 'TRIM_HORIZON' }),
      }),
      { abortSignal: signal },
    );
    return result.ShardIterator ?? null;
  }

  private async handleRecords(shard: ShardState, records: StreamRecord[], signal: AbortSignal): Promise<void> {
    const { ttlRemovals, tableName, streamArn, region, eventNames, batchSize } = this.options;
    // A sweep in progress may still be registering the deletions these records show.
    if (ttlRemovals) await ttlRemovals.settled(tableName);
    const events = records.map((record) => {
      const keys = record.dynamodb?.Keys;
      const sequence = record.dynamodb?.SequenceNumber;
      const byTtl =
        ttlRemovals !== undefined &&
        record.eventName === 'REMOVE' &&
        keys !== undefined &&
        sequence !== undefined &&
        ttlRemovals.isTtlRemoval(tableName, keyIdentity(Object.keys(keys), keys), sequence);
      return toDynamoDbRecord(record, streamArn, region, byTtl ? TTL_USER_IDENTITY : undefined);
    });
    // Records the filter drops count as handled, as with Lambda's filter criteria.
    const wanted = eventNames ? events.filter((e) => e.eventName !== undefined && eventNames.includes(e.eventName)) : events;
    for (let i = 0; i < wanted.length && !signal.aborted; i += batchSize) {
      await this.processBatch(shard, wanted.slice(i, i + batchSize), signal);
    }
    const last = records[records.length - 1]?.dynamodb?.SequenceNumber;
    if (last && !signal.aborted) shard.lastSequenceNumber = last;
  }

  private async processBatch(shard: ShardState, batch: DynamoDBRecord[], signal: AbortSignal): Promise<void> {
    const { fn, retryAttempts } = this.options;
    let pending = batch;
    for (let attempt = 0; !signal.aborted; attempt++) {
      const event: DynamoDBStreamEvent = { Records: pending };
      const outcome = await fn.invoke(event);
      this.invocations += 1;
      let firstFailed = 0;
      if (outcome.ok) {
        const sequenceNumbers = pending.map((r) => r.dynamodb?.SequenceNumber ?? '');
        const failed = batchItemFailures(outcome.result, sequenceNumbers);
        if (failed !== 'all') {
          if (failed.size === 0) return;
          firstFailed = sequenceNumbers.findIndex((s) => failed.has(s));
        }
      }
      // Retry from the first failed record (a thrown error fails them all).
      pending = pending.slice(firstFailed);
      if (attempt >= retryAttempts) {
        await this.giveUp(shard, pending, attempt + 1, !outcome.ok);
        return;
      }
      const base = this.options.retryBaseMs ?? 100;
      await sleep(Math.min(base * 2 ** attempt, this.options.retryMaxMs ?? 1_000), signal);
    }
  }

  private async giveUp(shard: ShardState, records: DynamoDBRecord[], invokeCount: number, functionError: boolean): Promise<void> {
    const record = streamFailureRecord({
      functionArn: this.options.fn.functionArn,
      streamArn: this.options.streamArn,
      shardId: shard.id,
      records,
      invokeCount,
      functionError,
      requestId: randomUUID(),
    });
    this.options.log.warn(
      `stream poller of ${this.options.fn.functionName}: ${records.length} record(s) failed ${invokeCount} time(s); sent to the on-failure queue`,
    );
    try {
      await this.options.onFailure(record);
    } catch (error) {
      this.options.log.error(`stream poller of ${this.options.fn.functionName}: on-failure record not sent (${describeError(error)})`);
    }
  }
}
