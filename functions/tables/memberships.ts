/**
 * Audience memberships: `u#<userId>` / `a#<audienceId>`, so the audiences a
 * user is in are one Query; the `byAudience` index (audienceId, userId)
 * enumerates an audience's members. `expiresAt` (TTL) is the end of the UTC
 * day 540 days after the upload that last matched the user. Each item also
 * remembers the matcher attempt that last wrote it and its expiry before that
 * write (see core/audiences.ts), and the kinds of identifier (`PHONE`,
 * `EMAIL`) it was matched through. User ids only: no identifier or key.
 */
import { DeleteCommand, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { effectiveExpiry } from '../core/audiences';
import type { MatchKeyKind, MembershipItem } from '../core/audiences';
import { ddb } from '../shared/aws';
import { tableName } from '../shared/config';
import { batchGetAll, batchWriteAll } from './batch';
import { isConditionFailure, part, queryAll } from './dynamo';
import type { Item } from './dynamo';

const table = () => tableName('audienceMemberships');

const USER = 'u#';
const AUDIENCE = 'a#';
export const membershipKey = (userId: string, audienceId: string) => ({ pk: `${USER}${userId}`, sk: `${AUDIENCE}${audienceId}` });
export const BY_AUDIENCE_INDEX = 'byAudience';

export interface Membership extends MembershipItem {
  readonly audienceId: string;
  readonly businessId: string;
  /** The user's consent version the membership was matched under: a later denial removes it. */
  readonly consentVersion: number;
  /** The consent version of the item's state before the matcher attempt that last wrote it (core/matching.ts). */
  readonly prevConsentVersion?: number;
  readonly matchedAt: string;
  /**
   * The kinds of identifier the user was matched through, across the
   * uploads that matched them; absent on items written before memberships
   * recorded it (unknown: treated as matched through any).
   */
  readonly matchedBy?: readonly MatchKeyKind[];
  /** `matchedBy` of the item's state before the matcher attempt that last wrote it; empty for unknown (core/matching.ts). */
  readonly prevMatchedBy?: readonly MatchKeyKind[];
}

const isKind = (value: unknown): value is MatchKeyKind => value === 'PHONE' || value === 'EMAIL';

/** Hot path of matching (thousands of items a chunk): read field by field rather than through a schema. */
export function membershipOf(item: Item): Membership {
  const { userId, audienceId, businessId, expiresAt, matchedAt } = item;
  if (typeof userId !== 'string' || typeof audienceId !== 'string' || typeof businessId !== 'string' || typeof expiresAt !== 'number') {
    throw new Error('Malformed membership item');
  }
  return {
    userId,
    audienceId,
    businessId,
    expiresAt,
    consentVersion: typeof item.consentVersion === 'number' ? item.consentVersion : 0,
    matchedAt: typeof matchedAt === 'string' ? matchedAt : '',
    ...(typeof item.lastChunk === 'string' ? { lastChunk: item.lastChunk } : {}),
    ...(typeof item.prevExpiresAt === 'number' ? { prevExpiresAt: item.prevExpiresAt } : {}),
    ...(typeof item.prevConsentVersion === 'number' ? { prevConsentVersion: item.prevConsentVersion } : {}),
    ...(item.removing ? { removing: true } : {}),
    ...(Array.isArray(item.matchedBy) && item.matchedBy.every(isKind) ? { matchedBy: item.matchedBy } : {}),
    ...(Array.isArray(item.prevMatchedBy) && item.prevMatchedBy.every(isKind) ? { prevMatchedBy: item.prevMatchedBy } : {}),
  };
}

/** Whether the membership was matched through no other kind of identifier than `kind` (unknown counts as only). */
export const matchedOnlyThrough = (m: Membership, kind: MatchKeyKind): boolean => m.matchedBy === undefined || m.matchedBy.every((k) => k === kind);

export const membershipItem = (m: Membership): Item => ({ ...membershipKey(m.userId, m.audienceId), ...m });

/** The memberships of `userIds` in one audience (consistent reads, 100 keys a call). */
export async function membershipsIn(audienceId: string, userIds: readonly string[]): Promise<Map<string, Membership>> {
  const items = await batchGetAll(
    table(),
    userIds.map((u) => membershipKey(u, audienceId)),
    { consistent: true },
  );
  return new Map(items.map((item) => [item.userId as string, membershipOf(item)]));
}

export const writeMemberships = (memberships: readonly Membership[]) =>
  batchWriteAll(
    table(),
    memberships.map((m) => ({ put: membershipItem(m) })),
  );

export const deleteMemberships = (audienceId: string, userIds: readonly string[]) =>
  batchWriteAll(
    table(),
    userIds.map((u) => ({ delete: membershipKey(u, audienceId) })),
  );

/** Deletes membership items by key (a page of a deleted audience's members). */
export const deleteMembershipKeys = (keys: readonly Item[]) =>
  batchWriteAll(
    table(),
    keys.map((key) => ({ delete: key })),
  );

/** Every membership item of a user: one Query (paged), strongly consistent. */
export async function membershipsOfUser(userId: string): Promise<Membership[]> {
  const items = await queryAll({
    TableName: table(),
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :a)',
    ExpressionAttributeValues: { ':pk': `${USER}${userId}`, ':a': AUDIENCE },
    ConsistentRead: true,
  });
  return items.map(membershipOf);
}

/** One page of an audience's membership keys, through the `byAudience` index. */
export async function membershipPage(audienceId: string, cursor: Item | undefined, limit: number): Promise<{ keys: Item[]; cursor?: Item }> {
  const page = await ddb.send(
    new QueryCommand({
      TableName: table(),
      IndexName: BY_AUDIENCE_INDEX,
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

/** A membership as it is now (consistent), or undefined. */
export async function currentMembership(userId: string, audienceId: string): Promise<Membership | undefined> {
  const { Item } = await ddb.send(new GetCommand({ TableName: table(), Key: membershipKey(userId, audienceId), ConsistentRead: true }));
  return Item ? membershipOf(Item) : undefined;
}

/** The condition that a membership item is exactly as read: same writer, expiry and removal state. */
function unchanged(m: Membership) {
  return {
    ConditionExpression: [
      'attribute_exists(pk)',
      'expiresAt = :e',
      m.removing ? 'removing = :yes' : 'attribute_not_exists(removing)',
      m.lastChunk === undefined ? 'attribute_not_exists(lastChunk)' : 'lastChunk = :lc',
    ].join(' AND '),
    ExpressionAttributeValues: { ':e': m.expiresAt, ...(m.lastChunk === undefined ? {} : { ':lc': m.lastChunk }), ...(m.removing ? { ':yes': true } : {}) },
  };
}

/** Deletes the membership if it is exactly as read; false when it changed meanwhile. */
export async function deleteIfUnchanged(m: Membership): Promise<boolean> {
  try {
    await ddb.send(new DeleteCommand({ TableName: table(), Key: membershipKey(m.userId, m.audienceId), ...unchanged(m) }));
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}

/** The delete of a membership exactly as read, for a transaction. */
export const membershipDeletePart = (m: Membership) =>
  part('membership', { Delete: { TableName: table(), Key: membershipKey(m.userId, m.audienceId), ...unchanged(m) } });

/**
 * Puts an item a dead matcher attempt left back into its committed state
 * (core/audiences.ts, `settledItem`): deleted when its user was no member,
 * otherwise its expiry before the attempt, with no writer recorded. Only if
 * the item is still the attempt's; returns whether it changed anything.
 */
export async function settleMembership(m: Membership): Promise<boolean> {
  const before = effectiveExpiry(m, new Set(m.lastChunk === undefined ? [] : [m.lastChunk]));
  const guard = { ConditionExpression: 'lastChunk = :lc', ExpressionAttributeValues: { ':lc': m.lastChunk } };
  try {
    if (before === null) {
      await ddb.send(new DeleteCommand({ TableName: table(), Key: membershipKey(m.userId, m.audienceId), ...guard }));
    } else {
      const { lastChunk: _writer, prevExpiresAt: _previous, prevConsentVersion, prevMatchedBy, removing: _removing, matchedBy, ...settled } = m;
      const consentVersion = prevConsentVersion ?? settled.consentVersion;
      // What it was matched through before the attempt; empty means unknown, stored as no field.
      const restored = prevMatchedBy === undefined ? matchedBy : prevMatchedBy.length > 0 ? prevMatchedBy : undefined;
      const item = membershipItem({ ...settled, expiresAt: before, consentVersion, ...(restored ? { matchedBy: restored } : {}) });
      await ddb.send(new PutCommand({ TableName: table(), Item: item, ...guard }));
    }
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}
