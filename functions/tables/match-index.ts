/**
 * The match index, keyed identifiers of the users who grant `ads_targeting`:
 * - `k#<match key>`: the user it belongs to and `consentVersion`, the user's
 *   consent version when the key was added;
 * - `u#<userId>`: the consent version and the keys applied for the user, with
 *   a revision that guards concurrent reconciles.
 * Match keys are HMACs under the pepper (core/identifiers.ts): no phone
 * number, email or uploaded hash is stored here.
 */
import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { ddb } from '../shared/aws';
import { tableName } from '../shared/config';
import { batchGetAll } from './batch';
import { isConditionFailure } from './dynamo';

const table = () => tableName('matchIndex');

const KEY = 'k#';
const APPLIED = 'u#';
export const indexKey = (matchKey: string) => ({ pk: `${KEY}${matchKey}` });
export const appliedKey = (userId: string) => ({ pk: `${APPLIED}${userId}` });

const AppliedItem = z.object({
  pk: z.string().startsWith(APPLIED),
  appliedVersion: z.number().int().nonnegative(),
  keys: z.array(z.string()).optional(),
  rev: z.number().int(),
});

export interface AppliedState {
  readonly appliedVersion: number;
  readonly keys: readonly string[];
  readonly rev: number;
}

const appliedOf = (raw: Record<string, unknown>): AppliedState => {
  const item = AppliedItem.parse(raw);
  return { appliedVersion: item.appliedVersion, keys: item.keys ?? [], rev: item.rev };
};

export async function appliedState(userId: string): Promise<AppliedState | undefined> {
  const { Item } = await ddb.send(new GetCommand({ TableName: table(), Key: appliedKey(userId), ConsistentRead: true }));
  return Item ? appliedOf(Item) : undefined;
}

/** What was applied for each of `userIds` (each at most once; users with nothing applied are left out), consistent, 100 a BatchGetItem. */
export async function appliedStates(userIds: readonly string[]): Promise<Map<string, AppliedState>> {
  const items = await batchGetAll(
    table(),
    userIds.map((u) => appliedKey(u)),
    { consistent: true },
  );
  return new Map(items.map((item) => [String(item.pk).slice(APPLIED.length), appliedOf(item)]));
}

/** A key held by another user whose release is not applied yet. */
export class MatchKeyHeld extends Error {
  override readonly name = 'MatchKeyHeld';
}

/** Adds a key for the user; throws MatchKeyHeld while another user holds it. */
export async function addKey(matchKey: string, userId: string, consentVersion: number): Promise<void> {
  try {
    await ddb.send(
      new PutCommand({
        TableName: table(),
        Item: { ...indexKey(matchKey), userId, consentVersion },
        ConditionExpression: 'attribute_not_exists(pk) OR userId = :u',
        ExpressionAttributeValues: { ':u': userId },
      }),
    );
  } catch (error) {
    if (isConditionFailure(error)) throw new MatchKeyHeld('Match key held by another user', { cause: error });
    throw error;
  }
}

/** Removes the user's key; a key that is gone or bound to someone else is left alone. */
export async function removeKey(matchKey: string, userId: string): Promise<void> {
  try {
    await ddb.send(
      new DeleteCommand({
        TableName: table(),
        Key: indexKey(matchKey),
        ConditionExpression: 'userId = :u',
        ExpressionAttributeValues: { ':u': userId },
      }),
    );
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
  }
}

/** Records what was applied for the user, guarded by the revision read before (a ConditionalCheckFailedException when another reconcile won). */
export async function recordApplied(userId: string, previous: AppliedState | undefined, keys: readonly string[], version: number, now: string): Promise<void> {
  await ddb.send(
    new PutCommand({
      TableName: table(),
      Item: { ...appliedKey(userId), appliedVersion: version, keys: [...keys], rev: (previous?.rev ?? 0) + 1, updatedAt: now },
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
 * flight: tables/batch.ts). Returns match key → entry for the keys that are
 * in the index. Hot path of matching: items are read field by field.
 */
export async function lookup(keys: readonly string[]): Promise<Map<string, IndexEntry>> {
  const requests: Record<string, string>[] = [];
  for (const key of new Set(keys)) requests.push(indexKey(key));
  const found = new Map<string, IndexEntry>();
  for (const item of await batchGetAll(table(), requests)) {
    const userId = item.userId;
    const version = item.consentVersion;
    if (typeof item.pk !== 'string' || typeof userId !== 'string') throw new Error('Malformed match index item');
    found.set(item.pk.slice(KEY.length), typeof version === 'number' ? { userId, consentVersion: version } : { userId });
  }
  return found;
}
