/**
 * The consent-state table, account state without identifiers:
 * - `user#<userId>`: the current consent (version, policy version, purposes,
 *   when it was decided, the hash of its receipt: the next receipt's
 *   `prevHash`) and when the account was erased;
 * - `idem#<userId>#<key>`: the stored answer of a decision made with an
 *   Idempotency-Key, until `expiresAt` (TTL).
 * The ad side reads it to check consent; it never holds a phone number or email.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { DECISIONS, NEVER_DECIDED, PURPOSES } from '../core/consent';
import type { ConsentState, Purpose, Purposes, Receipt } from '../core/consent';
import { ddb } from '../shared/aws';
import { tableName } from '../shared/config';
import { batchGetAll } from './batch';
import { part } from './dynamo';

const table = () => tableName('consentStates');

export const stateKey = (userId: string) => ({ pk: `user#${userId}` });
export const idempotencyKey = (userId: string, key: string) => ({ pk: `idem#${userId}#${key}` });

const PurposesSchema = z.object(
  Object.fromEntries(PURPOSES.map((p) => [p, z.enum(DECISIONS)])) as Record<keyof Purposes, z.ZodEnum<{ granted: 'granted'; denied: 'denied' }>>,
);

const StateItem = z.object({
  pk: z.string().startsWith('user#'),
  consentVersion: z.number().int().nonnegative().optional(),
  consentPolicyVersion: z.string().nullable().optional(),
  purposes: PurposesSchema.optional(),
  consentUpdatedAt: z.string().nullable().optional(),
  receiptHash: z.string().optional(),
  createdAt: z.string().optional(),
  erasedAt: z.string().optional(),
});
type StateItem = z.infer<typeof StateItem>;

export interface AccountState {
  readonly userId: string;
  readonly consent: ConsentState;
  /**
   * The hash of the receipt of the current consent: the `prevHash` of the
   * next one. Absent when the user never decided, or decided only before
   * receipts were signed (the next receipt then starts the chain).
   */
  readonly receiptHash?: string;
  readonly createdAt?: string;
  readonly erasedAt?: string;
}

const consentOfItem = (item: StateItem): ConsentState =>
  item.consentVersion && item.purposes
    ? { version: item.consentVersion, policyVersion: item.consentPolicyVersion ?? null, purposes: item.purposes, updatedAt: item.consentUpdatedAt ?? null }
    : NEVER_DECIDED;

/**
 * Whether the state lets the parent company use the number for a purpose:
 * granted, and decided after the account's last erasure (an erased account's
 * earlier grants never apply to identifiers bound later).
 */
export const purposeGranted = (consent: ConsentState, erasedAt: string | undefined, purpose: Purpose): boolean =>
  consent.purposes[purpose] === 'granted' && (erasedAt === undefined || (consent.updatedAt !== null && consent.updatedAt > erasedAt));

export const adsGranted = (consent: ConsentState, erasedAt: string | undefined): boolean => purposeGranted(consent, erasedAt, 'ads_targeting');

function accountStateOf(userId: string, raw: Record<string, unknown> | undefined): AccountState {
  if (!raw) return { userId, consent: NEVER_DECIDED };
  const item = StateItem.parse(raw);
  return {
    userId,
    consent: consentOfItem(item),
    ...(item.receiptHash ? { receiptHash: item.receiptHash } : {}),
    ...(item.createdAt ? { createdAt: item.createdAt } : {}),
    ...(item.erasedAt ? { erasedAt: item.erasedAt } : {}),
  };
}

export async function getAccountState(userId: string): Promise<AccountState> {
  const { Item } = await ddb.send(new GetCommand({ TableName: table(), Key: stateKey(userId), ConsistentRead: true }));
  return accountStateOf(userId, Item);
}

/**
 * The account states of `userIds` (each at most once), strongly consistent,
 * 100 users a BatchGetItem (tables/batch.ts): what consumers read for a whole
 * batch of events at once. A user with no item has never decided.
 */
export async function accountStates(userIds: readonly string[]): Promise<Map<string, AccountState>> {
  const items = await batchGetAll(
    table(),
    userIds.map((u) => stateKey(u)),
    { consistent: true },
  );
  const found = new Map(items.map((item) => [String(item.pk).slice('user#'.length), item]));
  return new Map(userIds.map((u) => [u, accountStateOf(u, found.get(u))]));
}

export interface ConsentNow {
  /** `ads_targeting` granted (after any erasure). */
  readonly granted: boolean;
  readonly version: number;
}

/**
 * The current ads-targeting consent of users, strongly consistent, 100 users
 * a call (tables/batch.ts). This table is where a decision is committed before
 * its event is published, so it is the source of truth for consumers.
 */
export async function consentOf(userIds: readonly string[]): Promise<Map<string, ConsentNow>> {
  const items = await batchGetAll(
    table(),
    userIds.map((u) => stateKey(u)),
    { consistent: true, projection: 'pk, consentVersion, consentPolicyVersion, purposes, consentUpdatedAt, erasedAt' },
  );
  const states = new Map<string, ConsentNow>(userIds.map((u) => [u, { granted: false, version: 0 }]));
  for (const raw of items) {
    const item = StateItem.parse(raw);
    const consent = consentOfItem(item);
    states.set(item.pk.slice('user#'.length), { granted: adsGranted(consent, item.erasedAt), version: consent.version });
  }
  return states;
}

const StoredAnswerItem = z.object({ pk: z.string(), requestHash: z.string(), receipt: z.custom<Receipt>((v) => typeof v === 'object' && v !== null) });

export interface StoredAnswer {
  readonly requestHash: string;
  readonly receipt: Receipt;
}

export async function storedAnswer(userId: string, key: string): Promise<StoredAnswer | undefined> {
  const { Item } = await ddb.send(new GetCommand({ TableName: table(), Key: idempotencyKey(userId, key), ConsistentRead: true }));
  if (!Item) return undefined;
  const { requestHash, receipt } = StoredAnswerItem.parse(Item);
  return { requestHash, receipt };
}

// ------------------------------------------------------------ transaction parts

/**
 * The user's new consent state and the hash of its receipt, on condition
 * that the state is still at `previousVersion`: the condition that keeps one
 * decision at a time also keeps the receipt chain a line, since the hash the
 * new receipt chains to was read with that version.
 */
export const decisionPart = (userId: string, previousVersion: number, state: ConsentState, receiptHash: string) =>
  part('state', {
    Update: {
      TableName: table(),
      Key: stateKey(userId),
      UpdateExpression:
        'SET consentVersion = :v, consentPolicyVersion = :p, purposes = :purposes, consentUpdatedAt = :t, receiptHash = :h, createdAt = if_not_exists(createdAt, :t)',
      ConditionExpression: previousVersion === 0 ? 'attribute_not_exists(consentVersion)' : 'consentVersion = :prev',
      ExpressionAttributeValues: {
        ':v': state.version,
        ':p': state.policyVersion,
        ':purposes': state.purposes,
        ':t': state.updatedAt,
        ':h': receiptHash,
        ...(previousVersion === 0 ? {} : { ':prev': previousVersion }),
      },
    },
  });

/** The answer of a decision made with an Idempotency-Key; its condition fails when the key was used already. */
export const idempotencyPart = (userId: string, key: string, answer: StoredAnswer, expiresAt: number) =>
  part('idempotency', {
    Put: {
      TableName: table(),
      Item: { ...idempotencyKey(userId, key), requestHash: answer.requestHash, receipt: answer.receipt, expiresAt },
      ConditionExpression: 'attribute_not_exists(pk)',
    },
  });

/**
 * Marks the account erased and resets its consent to undecided: every
 * purpose denied, no policy version (so a decision is required), the version
 * counter kept (it numbers the receipts, which stay as proof). From now on
 * its earlier grants apply to nothing, and a later decision that leaves a
 * purpose out does not bring an old grant back.
 */
export const erasedPart = (userId: string, now: string) =>
  part('erased', {
    Update: {
      TableName: table(),
      Key: stateKey(userId),
      UpdateExpression:
        'SET erasedAt = :now, createdAt = if_not_exists(createdAt, :now), purposes = :undecided, consentPolicyVersion = :none, consentUpdatedAt = :now',
      ExpressionAttributeValues: { ':now': now, ':undecided': { ...NEVER_DECIDED.purposes }, ':none': null },
    },
  });
