import { DeleteCommand, GetCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { NativeAttributeValue } from '@aws-sdk/util-dynamodb';
import { dayOf, effectiveExpiry } from '../core/audiences';
import type { MembershipItem } from '../core/audiences';
import { ddb } from '../shared/aws';
import { clock } from '../shared/clock';
import { sleep } from '../shared/concurrency';
import { tableName } from '../shared/config';
import { AUDIENCES, audienceKey, countUpdate, getAudienceRecord } from './audiences';
import type { AudienceRecord } from './audiences';
import { batchGetAll, batchWriteAll } from './batch';
import { failedConditions, isConditionFailure, queryAll } from './dynamo';

/**
 * Memberships: `u#<userId>` / `a#<audienceId>`, so the audiences a user is in
 * are one Query; the `byAudience` index enumerates an audience's members.
 * `expiresAt` (TTL) is the end of the UTC day 540 days after the upload that
 * last matched the user. Each item also remembers the chunk that last wrote
 * it and its expiry before that write (see core/audiences.ts).
 */
export const MEMBERSHIPS = tableName('audienceMemberships');

export const membershipKey = (userId: string, audienceId: string) => ({ pk: `u#${userId}`, sk: `a#${audienceId}` });

export interface Membership extends MembershipItem {
  readonly audienceId: string;
  readonly businessId: string;
  /** The user's consent version when the membership was written: a later denial removes it. */
  readonly consentVersion: number;
  readonly matchedAt: string;
}

type Item = Record<string, NativeAttributeValue>;

const membershipOf = (item: Item): Membership => ({
  userId: item.userId,
  audienceId: item.audienceId,
  businessId: item.businessId,
  expiresAt: item.expiresAt,
  consentVersion: item.consentVersion ?? 0,
  matchedAt: item.matchedAt,
  ...(item.lastChunk !== undefined ? { lastChunk: item.lastChunk } : {}),
  ...(item.prevExpiresAt !== undefined ? { prevExpiresAt: item.prevExpiresAt } : {}),
  ...(item.removing ? { removing: true } : {}),
});

export const membershipItem = (m: Membership): Item => ({ ...membershipKey(m.userId, m.audienceId), ...m });

/** The memberships of `userIds` in one audience (consistent reads, 100 keys a call). */
export async function membershipsIn(audienceId: string, userIds: readonly string[]): Promise<Map<string, Membership>> {
  const items = await batchGetAll(
    MEMBERSHIPS,
    userIds.map((u) => membershipKey(u, audienceId)),
    { consistent: true },
  );
  return new Map(items.map((item) => [item.userId as string, membershipOf(item)]));
}

export const writeMemberships = (memberships: readonly Membership[]) =>
  batchWriteAll(
    MEMBERSHIPS,
    memberships.map((m) => ({ put: membershipItem(m) })),
  );

export const deleteMemberships = (audienceId: string, userIds: readonly string[]) =>
  batchWriteAll(
    MEMBERSHIPS,
    userIds.map((u) => ({ delete: membershipKey(u, audienceId) })),
  );

/** Every membership item of a user: one Query (paged), strongly consistent. */
export async function membershipsOfUser(userId: string): Promise<Membership[]> {
  const items = await queryAll({
    TableName: MEMBERSHIPS,
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :a)',
    ExpressionAttributeValues: { ':pk': `u#${userId}`, ':a': 'a#' },
    ConsistentRead: true,
  });
  return items.map(membershipOf);
}

/** One page of an audience's membership keys, through the `byAudience` index. */
export async function membershipPage(audienceId: string, cursor: Item | undefined, limit: number): Promise<{ keys: Item[]; cursor?: Item }> {
  const page = await ddb.send(
    new QueryCommand({
      TableName: MEMBERSHIPS,
      IndexName: 'byAudience',
      KeyConditionExpression: 'audienceId = :a',
      ExpressionAttributeValues: { ':a': audienceId },
      ProjectionExpression: 'pk, sk, audienceId, userId',
      Limit: limit,
      ExclusiveStartKey: cursor,
    }),
  );
  return {
    keys: (page.Items ?? []).map((item) => ({ pk: item.pk, sk: item.sk })),
    ...(page.LastEvaluatedKey ? { cursor: page.LastEvaluatedKey } : {}),
  };
}

export type RemoveOutcome = 'removed' | 'changed' | 'busy';

/**
 * Removes one membership and takes its committed state off its audience's
 * exact count, in one transaction that holds only if the membership is
 * exactly as read (same writer, expiry and removal state), no matcher holds
 * the audience's lease, and its writer is still (or still not) pending, as in
 * the `audience` snapshot the count change was computed from. So a count is
 * never decremented twice or on the wrong day. A deleted audience's
 * membership is just deleted: its counts no longer matter.
 */
export async function removeCounted(m: Membership, audience: AudienceRecord | undefined, nowMs: number): Promise<RemoveOutcome> {
  const itemValues: Record<string, NativeAttributeValue> = { ':e': m.expiresAt, ...(m.lastChunk === undefined ? {} : { ':lc': m.lastChunk }) };
  const itemCondition = [
    'attribute_exists(pk)',
    'expiresAt = :e',
    m.removing ? 'removing = :yes' : 'attribute_not_exists(removing)',
    m.lastChunk === undefined ? 'attribute_not_exists(lastChunk)' : 'lastChunk = :lc',
  ].join(' AND ');
  const deleteItem = {
    TableName: MEMBERSHIPS,
    Key: membershipKey(m.userId, m.audienceId),
    ConditionExpression: itemCondition,
    ExpressionAttributeValues: { ...itemValues, ...(m.removing ? { ':yes': true } : {}) },
  };
  if (!audience || audience.deletedAt) {
    try {
      await ddb.send(new DeleteCommand(deleteItem));
      return 'removed';
    } catch (error) {
      if (isConditionFailure(error)) return 'changed';
      throw error;
    }
  }
  if (audience.leaseUntil !== undefined && audience.leaseUntil >= nowMs) return 'busy';
  const expiry = effectiveExpiry(m, audience.pending);
  const update = countUpdate(expiry === null ? new Map() : new Map([[dayOf(expiry), -1]]));
  const pendingCondition = m.lastChunk === undefined ? [] : [audience.pending.has(m.lastChunk) ? 'contains(pending, :lc)' : 'NOT contains(pending, :lc)'];
  try {
    await ddb.send(
      new TransactWriteCommand({
        TransactItems: [
          { Delete: deleteItem },
          {
            Update: {
              TableName: AUDIENCES,
              Key: audienceKey(m.businessId, m.audienceId),
              ...update,
              ConditionExpression: [
                'attribute_exists(pk)',
                'attribute_not_exists(deletedAt)',
                '(attribute_not_exists(leaseUntil) OR leaseUntil < :now)',
                ...pendingCondition,
              ].join(' AND '),
              ExpressionAttributeValues: { ...update.ExpressionAttributeValues, ':now': nowMs, ...(m.lastChunk === undefined ? {} : { ':lc': m.lastChunk }) },
            },
          },
        ],
      }),
    );
    return 'removed';
  } catch (error) {
    const failed = failedConditions(error);
    if (!failed) throw error;
    return failed.includes(0) ? 'changed' : 'busy';
  }
}

/** A membership as it is now (consistent), or undefined. */
export async function currentMembership(userId: string, audienceId: string): Promise<Membership | undefined> {
  const { Item } = await ddb.send(new GetCommand({ TableName: MEMBERSHIPS, Key: membershipKey(userId, audienceId), ConsistentRead: true }));
  return Item ? membershipOf(Item) : undefined;
}

/** How long a withdrawal waits for a matcher to release an audience before giving up (the caller's retry starts over). */
export const WITHDRAW_BUSY_WAIT_MS = 20_000;

/**
 * Removes a membership and takes it off its audience's count (removeCounted),
 * for as long as `shouldGo` holds for the membership as it is now: when the
 * item changed meanwhile it is read again, and while a matcher holds the
 * audience this waits. Returns whether it removed the membership.
 */
export async function withdrawMembership(first: Membership, shouldGo: (m: Membership) => boolean): Promise<boolean> {
  let membership: Membership | undefined = first;
  for (let waited = 0; membership && shouldGo(membership);) {
    const audience = await getAudienceRecord(membership.businessId, membership.audienceId);
    const outcome = await removeCounted(membership, audience, clock.nowMs());
    if (outcome === 'removed') return true;
    if (outcome === 'changed') {
      membership = await currentMembership(membership.userId, membership.audienceId);
      continue;
    }
    if (waited >= WITHDRAW_BUSY_WAIT_MS) throw new Error('A matcher held the audience for too long');
    const pause = 50 + Math.floor(Math.random() * 100);
    await sleep(pause);
    waited += pause;
  }
  return false;
}
