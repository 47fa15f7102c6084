/**
 * One audience of one business for one matcher test, with users known by
 * short labels ('a', 'b') that map to user ids and match keys no other test
 * uses, and the matcher service run as the handler runs it.
 */
import { expiresAtOf, expiryDay } from '../../../functions/core/audiences';
import type { ChunkMessage, Operation } from '../../../functions/core/audiences';
import { matchChunk } from '../../../functions/services/matching';
import type { MatchOutcome } from '../../../functions/services/matching';
import { intSetting } from '../../../functions/shared/config';
import type { Item } from '../../../functions/tables/dynamo';
import { indexKey } from '../../../functions/tables/match-index';
import { writeSetKey } from '../../../functions/tables/upload-sessions';
import {
  audienceNow,
  givenAudience,
  givenBatch,
  givenConsent,
  givenFirstConsents,
  givenIndexed,
  givenMembership,
  membershipNow,
  membershipsOfAudience,
  sha256Hex,
} from './audiences';
import type { MembershipFixture } from './audiences';
import { newAudienceId, store, uniqueId } from './db';

export const TTL_DAYS = intSetting('membershipTtlDays');
/** When the batches of these tests were uploaded; memberships they make expire at EXPIRY (epoch seconds), day EXPIRY_DAY. */
export const UPLOADED_AT = Date.UTC(2026, 10, 25, 10);
export const EXPIRY = expiresAtOf(expiryDay(UPLOADED_AT, TTL_DAYS));
export const EXPIRY_DAY = String(EXPIRY / 86_400);
/** An expiry `days` before EXPIRY, and its day as `expiring` keys it. */
export const expiryBefore = (days: number) => ({ expiresAt: EXPIRY - days * 86_400, day: String(EXPIRY / 86_400 - days) });

export interface UserOptions {
  granted?: boolean;
  /** The consent version, which the index records with the keys. */
  version?: number;
  /** In the index with both keys (under the version, or without one), or not at all. */
  indexed?: boolean | 'unversioned';
}

export function matcherWorld() {
  const businessId = uniqueId('b');
  const audienceId = newAudienceId();
  const run = uniqueId('u');
  const user = (label: string) => `${run}-${label}`;
  const phoneOf = (label: string) => sha256Hex(`phone:${user(label)}`);
  const emailOf = (label: string) => sha256Hex(`email:${user(label)}`);

  return {
    businessId,
    audienceId,
    user,
    phoneOf,
    emailOf,
    /** A match key nobody has. */
    stranger: (label: string) => sha256Hex(`stranger:${run}:${label}`),

    /** A user with consent (granted unless said otherwise) and, unless said otherwise, both keys in the index. */
    async givenUser(label: string, options: UserOptions = {}): Promise<void> {
      const indexed = options.indexed ?? true;
      if (indexed) await givenIndexed(user(label), [phoneOf(label), emailOf(label)], indexed === 'unversioned' ? 'unversioned' : (options.version ?? 1));
      await givenConsent(user(label), { granted: options.granted ?? true, version: options.version ?? 1 });
    },
    /** Many new users alike, in bulk: their keys in a few batched writes, their consent a few decisions at a time. */
    async givenUsers(labels: readonly string[], options: Omit<UserOptions, 'indexed'> & { indexed: boolean }): Promise<void> {
      const version = options.version ?? 1;
      if (options.indexed) {
        await store.putAll(
          'matchIndex',
          labels.flatMap((label) => [phoneOf(label), emailOf(label)].map((key) => ({ ...indexKey(key), userId: user(label), consentVersion: version }))),
        );
      }
      await givenFirstConsents(labels.map(user), { granted: options.granted ?? true, version });
    },
    givenAudience: (extra: Item = {}) => givenAudience(businessId, audienceId, extra),
    audience: () => audienceNow(businessId, audienceId),
    givenMember: (label: string, m: Omit<MembershipFixture, 'userId' | 'audienceId' | 'businessId'>) =>
      givenMembership({ userId: user(label), audienceId, businessId, ...m }),
    givenBatch: (
      rows: readonly { phone?: string; email?: string }[],
      options: { operation?: Operation; sessionId?: number; batchSeq?: number; chunksDone?: number[] } = {},
    ) => givenBatch({ businessId, audienceId, rows, uploadedAtMs: UPLOADED_AT, ...options }),
    /** The user's membership item as stored, or undefined. */
    membership: (label: string) => membershipNow(user(label), audienceId),
    /** Every membership item of the audience (members, and items being removed or written by pending attempts). */
    items: () => membershipsOfAudience(audienceId),
    /** The items that are not being removed. */
    members: async () => (await membershipsOfAudience(audienceId)).filter((m) => !m.removing),
    /** The first page of an attempt's write set, or undefined once it is gone. */
    writeSet: (attempt: string) => store.get('uploadSessions', writeSetKey(audienceId, attempt, 0)),
    match: (message: ChunkMessage, receiveCount: number): Promise<MatchOutcome> => matchChunk(message, receiveCount, TTL_DAYS),
  };
}

export type MatcherWorld = ReturnType<typeof matcherWorld>;
