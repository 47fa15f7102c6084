/**
 * Audience-side fixtures in DynamoDB Local, written with the table modules'
 * own key builders, item codecs and transaction parts (no key spelled here),
 * and read back as the items are stored.
 */
import { createHash } from 'node:crypto';
import { batchDigest, encodeRows } from '../../../functions/core/audiences';
import type { ChunkMessage, Operation } from '../../../functions/core/audiences';
import { audienceKey, newAudienceItem } from '../../../functions/tables/audiences';
import { decisionPart, erasedPart, stateKey } from '../../../functions/tables/consent-states';
import type { Item } from '../../../functions/tables/dynamo';
import { indexKey } from '../../../functions/tables/match-index';
import { BY_AUDIENCE_INDEX, membershipItem, membershipKey } from '../../../functions/tables/memberships';
import type { Membership } from '../../../functions/tables/memberships';
import { batchKey, batchPart, sessionKey, sessionPart } from '../../../functions/tables/upload-sessions';
import { store } from './db';

export const sha256Hex = (label: string): string => createHash('sha256').update(label).digest('hex');

// ------------------------------------------------------------------ audiences

/**
 * An audience as the create route stores it (nothing matched yet, one chunk
 * expected), with `extra` attributes over it: counts, pending attempts, a
 * lease, a deletion. Puts the whole item, so it also overwrites.
 */
export async function givenAudience(businessId: string, audienceId: string, extra: Item = {}): Promise<void> {
  const item = newAudienceItem({
    businessId,
    audienceId,
    name: 'n',
    customerFileSource: 'USER_PROVIDED_ONLY',
    createdAt: new Date().toISOString(),
    expiring: {},
    revision: 0,
    chunksExpected: 1,
    chunksMatched: 0,
  });
  await store.put('audiences', { ...item, ...extra });
}

/** The audience item as stored now. */
export async function audienceNow(businessId: string, audienceId: string): Promise<Item> {
  const item = await store.get('audiences', audienceKey(businessId, audienceId));
  if (!item) throw new Error('No such audience item');
  return item;
}

/** Sets attributes of a stored audience (read, merged, put back). */
export async function updateAudience(businessId: string, audienceId: string, fields: Item): Promise<void> {
  await store.put('audiences', { ...(await audienceNow(businessId, audienceId)), ...fields });
}

// ------------------------------------------------------------------ consent and the match index

export interface ConsentFixture {
  granted?: boolean;
  version?: number;
  erased?: boolean;
}

/**
 * The user's consent state, decided now as the consent route decides it
 * (tables/consent-states.ts `decisionPart`), then erased if asked.
 */
export async function givenConsent(userId: string, options: ConsentFixture = {}): Promise<void> {
  const previous = await store.get('consentStates', stateKey(userId));
  const decidedAt = new Date();
  await store.apply(
    decisionPart(
      userId,
      typeof previous?.consentVersion === 'number' ? previous.consentVersion : 0,
      {
        version: options.version ?? 1,
        policyVersion: 'p1',
        purposes: { ads_targeting: (options.granted ?? true) ? 'granted' : 'denied', friend_suggestions: 'denied' },
        updatedAt: decidedAt.toISOString(),
      },
      createHash('sha256')
        .update(`${userId}:${options.version ?? 1}`)
        .digest('hex'),
    ),
  );
  if (options.erased) await store.apply(erasedPart(userId, new Date(decidedAt.getTime() + 1_000).toISOString()));
}

/**
 * Many first decisions at once (25 a BatchWriteItem), for tests that need
 * hundreds of users: the items as `decisionPart` leaves them on a state that
 * had none. A test using them fails if they drift from the codec: the
 * matcher's consent re-check reads them back.
 */
export async function givenFirstConsents(userIds: readonly string[], options: { granted: boolean; version: number }): Promise<void> {
  const decidedAt = new Date().toISOString();
  await store.putAll(
    'consentStates',
    userIds.map((userId) => ({
      ...stateKey(userId),
      consentVersion: options.version,
      consentPolicyVersion: 'p1',
      purposes: { ads_targeting: options.granted ? 'granted' : 'denied', friend_suggestions: 'denied' },
      consentUpdatedAt: decidedAt,
      createdAt: decidedAt,
    })),
  );
}

/** Match keys in the index for the user, under a consent version, or without one (keys added before the index recorded it). */
export async function givenIndexed(userId: string, keys: readonly string[], version: number | 'unversioned'): Promise<void> {
  await store.putAll(
    'matchIndex',
    keys.map((key) => ({ ...indexKey(key), userId, ...(version === 'unversioned' ? {} : { consentVersion: version }) })),
  );
}

export async function dropIndexed(keys: readonly string[]): Promise<void> {
  for (const key of keys) await store.delete('matchIndex', indexKey(key));
}

// ------------------------------------------------------------------ memberships

export type MembershipFixture = Pick<Membership, 'userId' | 'audienceId' | 'businessId' | 'expiresAt'> & Partial<Membership>;

export async function givenMembership(m: MembershipFixture): Promise<void> {
  await store.put('audienceMemberships', membershipItem({ consentVersion: 1, matchedAt: new Date().toISOString(), ...m }));
}

/** The membership item as stored now, or undefined. */
export const membershipNow = (userId: string, audienceId: string): Promise<Item | undefined> =>
  store.get('audienceMemberships', membershipKey(userId, audienceId));

/** Every membership item of a user (the table's partition of the user). */
export const membershipsOfUser = (userId: string): Promise<Item[]> => store.queryPartition('audienceMemberships', membershipKey(userId, '').pk);

/** Every membership item of an audience, members or not (its `byAudience` index), by user id. */
export async function membershipsOfAudience(audienceId: string): Promise<Item[]> {
  const items = await store.queryIndex('audienceMemberships', BY_AUDIENCE_INDEX, 'audienceId', audienceId);
  return items.sort((a, b) => String(a.userId).localeCompare(String(b.userId)));
}

// ------------------------------------------------------------------ upload sessions

export interface BatchFixture {
  readonly businessId: string;
  readonly audienceId: string;
  readonly rows: readonly { phone?: string; email?: string }[];
  readonly operation?: Operation;
  readonly sessionId?: number;
  readonly batchSeq?: number;
  readonly uploadedAtMs: number;
  /** Chunks already marked matched on the batch. */
  readonly chunksDone?: readonly number[];
}

/**
 * A batch of one chunk, recorded as the upload function records it (its
 * session too, if new), and the message that carries the chunk.
 */
export async function givenBatch(f: BatchFixture): Promise<ChunkMessage> {
  const rows = encodeRows(f.rows);
  const digest = batchDigest([Buffer.from(rows, 'base64')]);
  const sessionId = f.sessionId ?? 7;
  const batchSeq = f.batchSeq ?? 1;
  const operation = f.operation ?? 'add';
  const expiresAt = Math.floor(Date.now() / 1000) + 86_400;
  const batch = batchPart(
    f.businessId,
    f.audienceId,
    {
      sessionId,
      batchSeq,
      operation,
      numReceived: f.rows.length,
      numInvalid: 0,
      invalidSamples: [],
      chunkCount: 1,
      batchDigest: digest,
      uploadedAtMs: f.uploadedAtMs,
    },
    expiresAt,
  ).item.Put!.Item!;
  await store.put('uploadSessions', { ...batch, ...(f.chunksDone ? { chunksDone: new Set(f.chunksDone) } : {}) });
  if (!(await store.get('uploadSessions', sessionKey(f.audienceId, sessionId)))) {
    const now = Date.now();
    const session = {
      operation,
      firstBatchAtMs: now,
      deadlineAtMs: now + 5_400_000,
      maxSeq: batchSeq,
      batchesReceived: 1,
      numReceived: f.rows.length,
      numInvalid: 0,
      chunksExpected: 1,
      chunksMatched: 0,
      rev: 1,
      settleUntilMs: 0,
    };
    await store.transact([sessionPart(f.businessId, f.audienceId, sessionId, session, 0, expiresAt)]);
  }
  return {
    v: 1,
    operation,
    businessId: f.businessId,
    audienceId: f.audienceId,
    sessionId,
    batchSeq,
    chunk: 0,
    chunks: 1,
    batchDigest: digest,
    sentAtMs: Date.now(),
    rows,
  };
}

export const batchNow = (audienceId: string, sessionId: number, batchSeq: number): Promise<Item | undefined> =>
  store.get('uploadSessions', batchKey(audienceId, sessionId, batchSeq));

export const sessionNow = (audienceId: string, sessionId: number): Promise<Item | undefined> => store.get('uploadSessions', sessionKey(audienceId, sessionId));
