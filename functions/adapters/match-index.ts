import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ddb } from '../shared/aws';
import { tableName } from '../shared/config';
import { batchGetAll } from './batch';
import { isConditionFailure } from './dynamo';

/**
 * The match index: `k#<match key>` → the user it belongs to and
 * `consentVersion`, the user's consent version when the key was added (the
 * user granted `ads_targeting` then); present only while that user grants
 * it. `u#<userId>` records the consent version and keys applied for the user.
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
          Item: { pk: `k#${key}`, userId, consentVersion: version },
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

export interface IndexEntry {
  readonly userId: string;
  /** The user's consent version when the key was added; absent on keys added before the index recorded it. */
  readonly consentVersion?: number;
}

/**
 * Looks match keys up (deduplicated, 100 a BatchGetItem, a few calls in
 * flight, unprocessed keys retried with backoff: adapters/batch.ts).
 * Returns match key → entry for the keys that are in the index.
 */
export async function lookup(keys: readonly string[]): Promise<Map<string, IndexEntry>> {
  const requests: Record<string, string>[] = [];
  for (const key of new Set(keys)) requests.push({ pk: `k#${key}` });
  const found = new Map<string, IndexEntry>();
  for (const item of await batchGetAll(MATCH_INDEX, requests)) {
    const version = item.consentVersion as number | undefined;
    found.set(
      (item.pk as string).slice(2),
      version === undefined ? { userId: item.userId as string } : { userId: item.userId as string, consentVersion: version },
    );
  }
  return found;
}
