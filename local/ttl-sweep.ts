/**
 * DynamoDB's TTL process, by the local stack's clock: delete every item whose
 * TTL attribute (epoch seconds) has passed, each with a condition that it is
 * still expired, and make the stream records of those deletions carry the
 * TTL service's `userIdentity`. DynamoDB Local has no such process: it only
 * hides, within seconds, items whose TTL has passed by the machine's clock
 * (reads and conditions no longer see them), writing no stream record; the
 * local stack's clock is the machine's moved forward, so what this sweep
 * deletes is still visible to it.
 */
import { DeleteItemCommand, paginateScan, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { AttributeValue as LambdaAttributeValue } from 'aws-lambda';

/** DynamoDB's TTL process ignores values more than five years in the past. */
const FIVE_YEARS_SECONDS = 5 * 365 * 24 * 3600;
const DELETE_CONCURRENCY = 8;

export interface SweepTable {
  /** Physical table name. */
  readonly name: string;
  readonly ttlAttribute: string;
  readonly keyNames: readonly string[];
}

type AnyAttribute = AttributeValue | LambdaAttributeValue;

/** One canonical string per item key, the same for the SDK's and Lambda's DynamoDB JSON of it. */
export function keyIdentity(keyNames: readonly string[], item: Readonly<Record<string, AnyAttribute>>): string {
  return JSON.stringify(
    [...keyNames].sort().map((name) => {
      const value = item[name] as Record<string, unknown> | undefined;
      if (!value) return [name, null];
      const [type, raw] = Object.entries(value).find(([, v]) => v !== undefined) ?? ['?', null];
      const text = raw instanceof Uint8Array ? Buffer.from(raw).toString('base64') : raw;
      return [name, type, text];
    }),
  );
}

/**
 * Which stream records are TTL deletions. A sweep registers each key it
 * deleted; the first stream poller that sees that key's REMOVE record claims
 * the mark for the record's sequence number, so every poller of the table
 * (each function's event source mapping) sees the same answer. Pollers wait
 * for a running sweep of their table before building events, so a record of
 * a sweep's deletion is never read before the sweep has registered it.
 */
export class TtlRemovals {
  private readonly pendingKeys = new Map<string, Map<string, number>>();
  private readonly claimedSequences = new Map<string, Set<string>>();
  private readonly running = new Map<string, Set<Promise<void>>>();

  /** Marks the start of a sweep of `table`; call the returned function when it is done. */
  begin(table: string): () => void {
    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    const set = this.running.get(table) ?? new Set();
    set.add(done);
    this.running.set(table, set);
    return () => {
      set.delete(done);
      finish();
    };
  }

  /** Resolves once no sweep of `table` is running. */
  async settled(table: string): Promise<void> {
    for (;;) {
      const set = this.running.get(table);
      if (!set || set.size === 0) return;
      await Promise.all([...set]);
    }
  }

  markDeleted(table: string, key: string): void {
    const keys = this.pendingKeys.get(table) ?? new Map<string, number>();
    keys.set(key, (keys.get(key) ?? 0) + 1);
    this.pendingKeys.set(table, keys);
  }

  /** Whether the REMOVE record with this key and sequence number came from a TTL deletion. */
  isTtlRemoval(table: string, key: string, sequenceNumber: string): boolean {
    const claimed = this.claimedSequences.get(table) ?? new Set<string>();
    this.claimedSequences.set(table, claimed);
    if (claimed.has(sequenceNumber)) return true;
    const keys = this.pendingKeys.get(table);
    const count = keys?.get(key) ?? 0;
    if (!keys || count === 0) return false;
    if (count === 1) keys.delete(key);
    else keys.set(key, count - 1);
    claimed.add(sequenceNumber);
    return true;
  }
}

/** Deletes the expired items of every table; returns how many it deleted. */
export async function sweepExpiredItems(ddb: DynamoDBClient, tables: readonly SweepTable[], nowSeconds: number, removals: TtlRemovals): Promise<number> {
  let deleted = 0;
  for (const table of tables) {
    const finish = removals.begin(table.name);
    try {
      deleted += await sweepTable(ddb, table, nowSeconds, removals);
    } finally {
      finish();
    }
  }
  return deleted;
}

async function sweepTable(ddb: DynamoDBClient, table: SweepTable, nowSeconds: number, removals: TtlRemovals): Promise<number> {
  const names: Record<string, string> = { '#ttl': table.ttlAttribute };
  table.keyNames.forEach((name, i) => (names[`#k${i}`] = name));
  const values: Record<string, AttributeValue> = {
    ':now': { N: String(nowSeconds) },
    ':oldest': { N: String(nowSeconds - FIVE_YEARS_SECONDS) },
    ':number': { S: 'N' },
  };
  const expired = 'attribute_type(#ttl, :number) AND #ttl <= :now AND #ttl >= :oldest';
  let deleted = 0;
  const pages = paginateScan(
    { client: ddb },
    {
      TableName: table.name,
      ConsistentRead: true,
      FilterExpression: expired,
      ProjectionExpression: table.keyNames.map((_, i) => `#k${i}`).join(', '),
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    },
  );
  for await (const page of pages) {
    const items = page.Items ?? [];
    for (let i = 0; i < items.length; i += DELETE_CONCURRENCY) {
      const results = await Promise.all(
        items.slice(i, i + DELETE_CONCURRENCY).map(async (item) => {
          const key = Object.fromEntries(table.keyNames.map((name) => [name, item[name] as AttributeValue]));
          try {
            await ddb.send(
              new DeleteItemCommand({
                TableName: table.name,
                Key: key,
                ConditionExpression: expired,
                ExpressionAttributeNames: { '#ttl': table.ttlAttribute },
                ExpressionAttributeValues: values,
              }),
            );
          } catch (error) {
            // Changed or deleted since the scan: no longer expired, not ours to delete.
            if ((error as Error).name === 'ConditionalCheckFailedException') return 0;
            throw error;
          }
          removals.markDeleted(table.name, keyIdentity(table.keyNames, key));
          return 1;
        }),
      );
      deleted += results.reduce<number>((a, b) => a + b, 0);
    }
  }
  return deleted;
}
