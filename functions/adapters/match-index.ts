import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ddb } from '../shared/aws';
import { tableName } from '../shared/config';
import { batchGetAll } from './batch';
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

/**
 * Looks match keys up (deduplicated, 100 a BatchGetItem, a few calls in
 * flight, unprocessed keys retried with backoff: adapters/batch.ts).
 * Returns match key → user id for the keys that are in the index.
 */
export async function lookup(keys: readonly string[]): Promise<Map<string, string>> {
  const requests: Record<string, string>[] = [];
  for (const key of new Set(keys)) requests.push({ pk: `k#${key}` });
  const found = new Map<string, string>();
  for (const item of await batchGetAll(MATCH_INDEX, requests, { projection: 'pk, userId' })) {
    found.set((item.pk as string).slice(2), item.userId as string);
  }
  return found;
}
