import { BatchGetCommand, BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { NativeAttributeValue } from '@aws-sdk/util-dynamodb';
import { ddb } from '../shared/aws';
import { chunksOf, mapLimit, sleep } from '../shared/concurrency';

/**
 * Batched reads and writes, the only way the matching path talks to
 * DynamoDB about rows: BatchGetItem takes 100 keys a call, BatchWriteItem 25
 * items a call. Calls run a few at a time in parallel; unprocessed keys and
 * items (throttling) are retried with backoff.
 */
export const GET_BATCH = 100;
export const WRITE_BATCH = 25;
/** BatchGetItem or BatchWriteItem calls in flight for one caller. */
export const PARALLEL = 8;
const MAX_ATTEMPTS = 10;

type Item = Record<string, NativeAttributeValue>;

const backoff = (attempt: number) => sleep(Math.min(1000, 25 * 2 ** attempt) * (0.5 + Math.random() / 2));

/** Reads the items of `keys` (missing ones are left out), 100 keys a call. */
export async function batchGetAll(
  table: string,
  keys: readonly Item[],
  options: { consistent?: boolean; projection?: string; names?: Record<string, string> } = {},
): Promise<Item[]> {
  const found: Item[] = [];
  await mapLimit(chunksOf(keys, GET_BATCH), PARALLEL, async (chunk) => {
    let pending: Item[] = chunk;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt >= MAX_ATTEMPTS) throw new Error('BatchGetItem kept returning unprocessed keys');
      if (attempt > 0) await backoff(attempt);
      const out = await ddb.send(
        new BatchGetCommand({
          RequestItems: {
            [table]: {
              Keys: pending,
              ConsistentRead: options.consistent ?? false,
              ...(options.projection ? { ProjectionExpression: options.projection } : {}),
              ...(options.names ? { ExpressionAttributeNames: options.names } : {}),
            },
          },
        }),
      );
      found.push(...(out.Responses?.[table] ?? []));
      pending = (out.UnprocessedKeys?.[table]?.Keys as Item[] | undefined) ?? [];
    }
  });
  return found;
}

export type WriteRequest = { put: Item } | { delete: Item };

/** Puts and deletes, 25 a call. Each key must appear at most once. */
export async function batchWriteAll(table: string, requests: readonly WriteRequest[]): Promise<void> {
  await mapLimit(chunksOf(requests, WRITE_BATCH), PARALLEL, async (chunk) => {
    let pending = chunk.map((r) => ('put' in r ? { PutRequest: { Item: r.put } } : { DeleteRequest: { Key: r.delete } }));
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt >= MAX_ATTEMPTS) throw new Error('BatchWriteItem kept returning unprocessed items');
      if (attempt > 0) await backoff(attempt);
      const out = await ddb.send(new BatchWriteCommand({ RequestItems: { [table]: pending } }));
      pending = (out.UnprocessedItems?.[table] as typeof pending | undefined) ?? [];
    }
  });
}
