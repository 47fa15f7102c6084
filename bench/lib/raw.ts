/**
 * Raw DynamoDB Local limits, straight through the SDK, measured in the same
 * run as the figures they stand beside: the same calls a function makes,
 * with the function and everything around it taken away.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceNotFoundException,
  type AttributeDefinition,
  type GlobalSecondaryIndex,
} from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, BatchWriteCommand, GetCommand, TransactWriteCommand, type BatchGetCommandOutput } from '@aws-sdk/lib-dynamodb';
import type { NativeAttributeValue } from '@aws-sdk/util-dynamodb';
import { chunksOf, mapLimit } from '../../functions/shared/concurrency';
import { decisionPart, stateKey } from '../../functions/tables/consent-states';
import type { Part, TransactItem } from '../../functions/tables/dynamo';
import { receiptPart } from '../../functions/tables/ledger';
import { CURRENT_POLICY_KEY } from '../../functions/tables/policies';
import type { BenchStack } from './stack';

/** A stand-in receipt hash: the raw replay measures the route's DynamoDB calls, not its signing. */
const RAW_HASH = '0'.repeat(64);

type Item = Record<string, NativeAttributeValue>;

/** A scratch table with the key schema and global indexes of a stack table, without its stream. */
export async function scratchTableLike(s: BenchStack, logical: string, name: string): Promise<string> {
  const source = s.stack.resources.tables[logical];
  if (!source) throw new Error(`no table ${logical} in the stack`);
  try {
    await s.dynamodb.send(new DescribeTableCommand({ TableName: name }));
    return name;
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException) && (error as Error).name !== 'ResourceNotFoundException') throw error;
  }
  const { Table } = await s.dynamodb.send(new DescribeTableCommand({ TableName: source.name }));
  if (!Table?.KeySchema || !Table.AttributeDefinitions) throw new Error(`DescribeTable ${source.name} returned no key schema`);
  const indexes: GlobalSecondaryIndex[] = (Table.GlobalSecondaryIndexes ?? []).map((g) => ({
    IndexName: g.IndexName!,
    KeySchema: g.KeySchema!,
    Projection: g.Projection!,
  }));
  await s.dynamodb.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: Table.AttributeDefinitions as AttributeDefinition[],
      KeySchema: Table.KeySchema,
      ...(indexes.length > 0 ? { GlobalSecondaryIndexes: indexes } : {}),
    }),
  );
  return name;
}

/** BatchGetItem of `keys`, 100 a call, `concurrency` calls in flight, unprocessed keys retried. Returns the items found. */
export async function rawBatchGet(s: BenchStack, table: string, keys: readonly Item[], concurrency: number, consistent = false): Promise<number> {
  let found = 0;
  await mapLimit(chunksOf(keys, 100), concurrency, async (chunk) => {
    let pending: Item[] = chunk;
    while (pending.length > 0) {
      const out: BatchGetCommandOutput = await s.ddb.send(new BatchGetCommand({ RequestItems: { [table]: { Keys: pending, ConsistentRead: consistent } } }));
      found += out.Responses?.[table]?.length ?? 0;
      pending = (out.UnprocessedKeys?.[table]?.Keys as Item[] | undefined) ?? [];
    }
  });
  return found;
}

/** BatchWriteItem puts, 25 a call, `concurrency` calls in flight, unprocessed items retried. */
export async function rawBatchPut(s: BenchStack, table: string, items: readonly Item[], concurrency: number): Promise<void> {
  await mapLimit(chunksOf(items, 25), concurrency, async (chunk) => {
    let pending: { PutRequest: { Item: Item } }[] = chunk.map((Item) => ({ PutRequest: { Item } }));
    while (pending.length > 0) {
      const out = await s.ddb.send(new BatchWriteCommand({ RequestItems: { [table]: pending } }));
      pending = (out.UnprocessedItems?.[table] as typeof pending | undefined) ?? [];
    }
  });
}

/** A transaction part of a table module, aimed at another table (a scratch copy). */
function onTable(part: Part, table: string): TransactItem {
  const [[kind, body]] = Object.entries(part.item) as unknown as [[string, Record<string, unknown>]];
  return { [kind]: { ...body, TableName: table } } as TransactItem;
}

/**
 * The DynamoDB calls of one `PUT /v1/me/consent`, replayed on scratch
 * tables shaped like the consent state and the ledger (no stream, so no
 * consumer runs), built by the same table modules the function uses: a
 * consistent GetItem of the state and of the current policy in parallel,
 * then one TransactWriteItems (the state's conditional update and the
 * receipt's conditional put). `connections` workers, each with its own
 * users, for `seconds`. Returns decisions a second.
 */
export async function rawConsentDecisions(
  s: BenchStack,
  options: { connections: number; usersPerConnection: number; seconds: number; run: number },
): Promise<number> {
  const states = await scratchTableLike(s, 'consentStates', 'bench-raw-consent-states');
  const ledger = await scratchTableLike(s, 'ledger', 'bench-raw-ledger');
  const policies = s.stack.resources.tables.policies!.name;
  const deadline = performance.now() + options.seconds * 1000;
  const started = performance.now();
  let done = 0;
  await Promise.all(
    Array.from({ length: options.connections }, async (_, c) => {
      const versions = new Array<number>(options.usersPerConnection).fill(0);
      for (let n = 0; performance.now() < deadline; n++) {
        const u = n % options.usersPerConnection;
        const userId = `raw-${options.run}-${c}-${u}`;
        const [state] = await Promise.all([
          s.ddb.send(new GetCommand({ TableName: states, Key: stateKey(userId), ConsistentRead: true })),
          s.ddb.send(new GetCommand({ TableName: policies, Key: CURRENT_POLICY_KEY, ConsistentRead: true })),
        ]);
        const previous = (state.Item?.consentVersion as number | undefined) ?? versions[u]!;
        const version = previous + 1;
        const choice = Math.floor(n / options.usersPerConnection) % 2 === 0 ? 'granted' : 'denied';
        const now = new Date().toISOString();
        const purposes = { ads_targeting: choice, friend_suggestions: choice } as const;
        const receiptId = `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
        await s.ddb.send(
          new TransactWriteCommand({
            TransactItems: [
              onTable(decisionPart(userId, previous, { version, policyVersion: '2016-08-25', purposes, updatedAt: now }, RAW_HASH), states),
              onTable(
                receiptPart({
                  userId,
                  receiptId,
                  version,
                  policyVersion: '2016-08-25',
                  purposes,
                  source: 'settings',
                  recordedAt: now,
                  prevHash: null,
                  hash: RAW_HASH,
                  signature: null,
                }),
                ledger,
              ),
            ],
          }),
        );
        versions[u] = version;
        done += 1;
      }
    }),
  );
  return done / ((performance.now() - started) / 1000);
}
