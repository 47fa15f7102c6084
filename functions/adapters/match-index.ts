import { BatchGetCommand, DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ddb } from '../shared/aws';
import { tableName } from '../shared/config';
import { isConditionFailure } from './dynamo';

/**
 * The match index: `k#<match key>` → the user it belongs to, present only
 * while that user grants `ads_targeting`; `u#<userId>` records the consent
 * version and keys applied for the user.
 */
const MATCH_INDEX = tableName('matchIndex');

export interface AppliedState {
  appliedVersion: number;
  keys: string[];
  rev: number;
}

export async function appliedState(userId: string): Promise<AppliedState | undefined> {
  const { Item } = await ddb.send(new GetCommand({ TableName: MATCH_INDEX, Key: { pk: `u#${userId}` }, ConsistentRead: true }));
  return Item ? { appliedVersion: Item.appliedVersion, keys: Item.keys ?? [], rev: Item.rev } : undefined;
}

/**
 * Makes the index hold exactly `desired` for the user. New keys first, then
 * stale ones go, then the applied state, guarded by its revision: a
 * concurrent reconcile makes this one fail and be retried on fresh state.
 */
export async function applyKeys(userId: string, previous: AppliedState | undefined, desired: string[], version: number, now: string) {
  const current = new Set(previous?.keys ?? []);
  const wanted = new Set(desired);
  for (const key of wanted) {
    if (current.has(key)) continue;
    try {
      await ddb.send(
        new PutCommand({
          TableName: MATCH_INDEX,
          Item: { pk: `k#${key}`, userId },
          ConditionExpression: 'attribute_not_exists(pk) OR userId = :u',
          ExpressionAttributeValues: { ':u': userId },
        }),
      );
    } catch (error) {
      // The identifier still belongs to another user whose release is not applied yet: retry later.
      if (isConditionFailure(error)) throw new Error('Match key held by another user', { cause: error });
      throw error;
    }
  }
  for (const key of current) {
    if (wanted.has(key)) continue;
    try {
      await ddb.send(
        new DeleteCommand({
          TableName: MATCH_INDEX,
          Key: { pk: `k#${key}` },
          ConditionExpression: 'userId = :u',
          ExpressionAttributeValues: { ':u': userId },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error; // already gone or re-bound to someone else
    }
  }
  await ddb.send(
    new PutCommand({
      TableName: MATCH_INDEX,
      Item: { pk: `u#${userId}`, appliedVersion: version, keys: [...wanted], rev: (previous?.rev ?? 0) + 1, updatedAt: now },
      ConditionExpression: previous ? 'rev = :rev' : 'attribute_not_exists(pk)',
      ...(previous ? { ExpressionAttributeValues: { ':rev': previous.rev } } : {}),
    }),
  );
}

/** BatchGetItem takes at most 100 keys a call. */
export const LOOKUP_BATCH = 100;

/**
 * Looks match keys up, 100 a call, retrying unprocessed keys with backoff.
 * Returns match key → user id for the keys that are in the index.
 */
export async function lookup(keys: string[]): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const unique = [...new Set(keys)];
  const chunks: string[][] = [];
  for (let i = 0; i < unique.length; i += LOOKUP_BATCH) chunks.push(unique.slice(i, i + LOOKUP_BATCH));
  await Promise.all(
    chunks.map(async (chunk) => {
      let pending: Record<string, unknown>[] = chunk.map((k) => ({ pk: `k#${k}` }));
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(1000, 25 * 2 ** attempt)));
        if (attempt > 8) throw new Error('Match index lookups kept coming back unprocessed');
        const out = await ddb.send(new BatchGetCommand({ RequestItems: { [MATCH_INDEX]: { Keys: pending } } }));
        for (const item of out.Responses?.[MATCH_INDEX] ?? []) found.set((item.pk as string).slice(2), item.userId as string);
        pending = (out.UnprocessedKeys?.[MATCH_INDEX]?.Keys as Record<string, unknown>[] | undefined) ?? [];
      }
    }),
  );
  return found;
}
