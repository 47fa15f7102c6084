/**
 * The identities table, the only place phone numbers and emails are kept:
 * - `user#<userId>`: the user's phone number and email;
 * - `phone#<e164>` / `email#<address>`: the claim that binds one value to one
 *   user, so a value belongs to at most one account;
 * - `verification#<id>`: a verification in progress (whose it is, the value
 *   it proves, its wrong codes), until `expiresAt` (TTL; read as gone from
 *   then on). No code is stored: codes derive from the id (core/verification.ts);
 * - `limit#account#<userId>` / `limit#identifier#<hmac of the value>`: the
 *   times of recent verification starts, a rolling rate counter (TTL).
 * Only the functions that bind, erase, export or look up identifiers, and the
 * one that turns them into match keys, are granted anything on it.
 */
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { ddb } from '../shared/aws';
import { tableName } from '../shared/config';
import { batchGetAll } from './batch';
import { isConditionFailure, part } from './dynamo';
import type { Item } from './dynamo';

const table = () => tableName('identities');

export type IdentifierField = 'phoneNumber' | 'email';
const CLAIM_PREFIX: Record<IdentifierField, string> = { phoneNumber: 'phone#', email: 'email#' };

export const identityKey = (userId: string) => ({ pk: `user#${userId}` });
export const claimKey = (field: IdentifierField, value: string) => ({ pk: `${CLAIM_PREFIX[field]}${value}` });
export const verificationKey = (verificationId: string) => ({ pk: `verification#${verificationId}` });
export type LimitScope = 'account' | 'identifier';
/** `subject`: the user id of an account counter, the HMAC tag of an identifier counter (core/verification.ts). */
export const limitKey = (scope: LimitScope, subject: string) => ({ pk: `limit#${scope}#${subject}` });

export interface Identity {
  readonly userId: string;
  readonly phoneNumber?: string;
  readonly email?: string;
  readonly createdAt?: string;
}

const IdentityItem = z.codec(
  z.object({
    pk: z.string().startsWith('user#'),
    phoneNumber: z.string().optional(),
    email: z.string().optional(),
    createdAt: z.string().optional(),
  }),
  z.object({ userId: z.string(), phoneNumber: z.string().optional(), email: z.string().optional(), createdAt: z.string().optional() }),
  {
    decode: ({ pk, ...rest }) => ({ userId: pk.slice('user#'.length), ...rest }),
    encode: ({ userId, ...rest }) => ({ ...identityKey(userId), ...rest }),
  },
);

const ClaimItem = z.object({ pk: z.string(), userId: z.string().min(1), claimedAt: z.string() });

/** The user's identifiers (none for a user who never bound one). Strongly consistent. */
export async function getIdentity(userId: string): Promise<Identity> {
  const { Item } = await ddb.send(new GetCommand({ TableName: table(), Key: identityKey(userId), ConsistentRead: true }));
  return Item ? IdentityItem.decode(Item as z.input<typeof IdentityItem>) : { userId };
}

/** The identifiers of `userIds` (each at most once; none for a user who never bound one), consistent, 100 a BatchGetItem. */
export async function identitiesOf(userIds: readonly string[]): Promise<Map<string, Identity>> {
  const items = await batchGetAll(
    table(),
    userIds.map((u) => identityKey(u)),
    { consistent: true, projection: 'pk, phoneNumber, email, createdAt' },
  );
  const found = new Map(items.map((item) => [String(item.pk).slice('user#'.length), IdentityItem.decode(item as z.input<typeof IdentityItem>)]));
  return new Map(userIds.map((u) => [u, found.get(u) ?? { userId: u }]));
}

/** The id of the user a value is bound to, or undefined when it is bound to no one. */
export async function ownerOf(field: IdentifierField, value: string): Promise<string | undefined> {
  const { Item } = await ddb.send(
    new GetCommand({ TableName: table(), Key: claimKey(field, value), ConsistentRead: true, ProjectionExpression: 'pk, userId, claimedAt' }),
  );
  return Item ? ClaimItem.parse(Item).userId : undefined;
}

// ------------------------------------------------------------ transaction parts

/** Releases the user's claim on `value` (nothing when there is no value); a claim another user holds is left alone. */
export const releaseClaimPart = (userId: string, field: IdentifierField, value: string | undefined) =>
  value !== undefined &&
  part(`release-${field}`, {
    Delete: {
      TableName: table(),
      Key: claimKey(field, value),
      ConditionExpression: 'attribute_not_exists(pk) OR userId = :u',
      ExpressionAttributeValues: { ':u': userId },
    },
  });

/** Sets the user's `field` to `value`, on condition that it still holds `previous` (absent when undefined). */
export const setIdentifierPart = (userId: string, field: IdentifierField, value: string, previous: string | undefined, now: string) =>
  part('identity', {
    Update: {
      TableName: table(),
      Key: identityKey(userId),
      UpdateExpression: 'SET #f = :v, updatedAt = :now, createdAt = if_not_exists(createdAt, :now)',
      ConditionExpression: previous === undefined ? 'attribute_not_exists(#f)' : '#f = :old',
      ExpressionAttributeNames: { '#f': field },
      ExpressionAttributeValues: { ':v': value, ':now': now, ...(previous === undefined ? {} : { ':old': previous }) },
    },
  });

/** Removes the user's phone number and email, on condition that they are still those of `identity`. */
export function eraseIdentifiersPart(identity: Identity, now: string) {
  const guards: string[] = [];
  const values: Item = { ':now': now };
  for (const field of ['phoneNumber', 'email'] as const) {
    const value = identity[field];
    if (value === undefined) guards.push(`attribute_not_exists(${field})`);
    else {
      guards.push(`${field} = :${field}`);
      values[`:${field}`] = value;
    }
  }
  return part('identity', {
    Update: {
      TableName: table(),
      Key: identityKey(identity.userId),
      UpdateExpression: 'SET updatedAt = :now REMOVE phoneNumber, email',
      ConditionExpression: guards.join(' AND '),
      ExpressionAttributeValues: values,
    },
  });
}

// ------------------------------------------------------------ verifications

const VerificationItem = z.object({
  pk: z.string().startsWith('verification#'),
  userId: z.string().min(1),
  field: z.enum(['phoneNumber', 'email']),
  value: z.string().min(1),
  createdAt: z.string(),
  /** Epoch seconds: the code stops working then (and TTL removes the item some time after). */
  expiresAt: z.number().int(),
  wrongCodes: z.number().int().nonnegative(),
});

export interface Verification {
  readonly verificationId: string;
  readonly userId: string;
  readonly field: IdentifierField;
  readonly value: string;
  readonly createdAt: string;
  readonly expiresAt: number;
  readonly wrongCodes: number;
}

/** A verification as stored (consistent), or undefined. Expiry is the caller's to judge: TTL deletes late. */
export async function getVerification(verificationId: string): Promise<Verification | undefined> {
  const { Item } = await ddb.send(new GetCommand({ TableName: table(), Key: verificationKey(verificationId), ConsistentRead: true }));
  if (!Item) return undefined;
  const { pk, ...rest } = VerificationItem.parse(Item);
  return { verificationId: pk.slice('verification#'.length), ...rest };
}

/** A new verification; its condition fails only if the id was ever used. */
export const verificationPart = (v: Verification) =>
  part('verification', {
    Put: {
      TableName: table(),
      Item: VerificationItem.parse({
        ...verificationKey(v.verificationId),
        userId: v.userId,
        field: v.field,
        value: v.value,
        createdAt: v.createdAt,
        expiresAt: v.expiresAt,
        wrongCodes: v.wrongCodes,
      }),
      ConditionExpression: 'attribute_not_exists(pk)',
    },
  });

/**
 * Counts one wrong code, if the verification still has `wrongCodes` as read
 * (so concurrent guesses each count). Returns the new count, or undefined
 * when the item changed or went meanwhile.
 */
export async function countWrongCode(v: Verification): Promise<number | undefined> {
  try {
    await ddb.send(
      new UpdateCommand({
        TableName: table(),
        Key: verificationKey(v.verificationId),
        UpdateExpression: 'SET wrongCodes = :next',
        ConditionExpression: 'attribute_exists(pk) AND wrongCodes = :seen',
        ExpressionAttributeValues: { ':seen': v.wrongCodes, ':next': v.wrongCodes + 1 },
      }),
    );
    return v.wrongCodes + 1;
  } catch (error) {
    if (isConditionFailure(error)) return undefined;
    throw error;
  }
}

/** Uses the verification up: deleted, on condition that it is still the caller's with the wrong codes as read. */
export const consumeVerificationPart = (v: Verification) =>
  part('verification', {
    Delete: {
      TableName: table(),
      Key: verificationKey(v.verificationId),
      ConditionExpression: 'userId = :u AND wrongCodes = :w',
      ExpressionAttributeValues: { ':u': v.userId, ':w': v.wrongCodes },
    },
  });

// ------------------------------------------------------------ rate counters

const LimitItem = z.object({
  pk: z.string().startsWith('limit#'),
  times: z.array(z.number().int()),
  rev: z.number().int().nonnegative(),
  expiresAt: z.number().int(),
});

export interface LimitCounter {
  readonly scope: LimitScope;
  readonly subject: string;
  /** Epoch seconds of the recent starts. */
  readonly times: readonly number[];
  /** 0 when there is no item. */
  readonly rev: number;
}

/** A rate counter as it is now (consistent); empty when there is none. */
export async function getLimitCounter(scope: LimitScope, subject: string): Promise<LimitCounter> {
  const { Item } = await ddb.send(new GetCommand({ TableName: table(), Key: limitKey(scope, subject), ConsistentRead: true }));
  if (!Item) return { scope, subject, times: [], rev: 0 };
  const item = LimitItem.parse(Item);
  return { scope, subject, times: item.times, rev: item.rev };
}

/** The counter's new start times, on condition that it is still at the revision read; it expires with its newest start's window. */
export const limitPart = (counter: LimitCounter, times: readonly number[], expiresAt: number) =>
  part(`limit-${counter.scope}`, {
    Put: {
      TableName: table(),
      Item: LimitItem.parse({ ...limitKey(counter.scope, counter.subject), times: [...times], rev: counter.rev + 1, expiresAt }),
      ConditionExpression: counter.rev === 0 ? 'attribute_not_exists(pk)' : 'rev = :rev',
      ...(counter.rev === 0 ? {} : { ExpressionAttributeValues: { ':rev': counter.rev } }),
    },
  });

// ------------------------------------------------------------ moving a value to a verified holder

/**
 * The claim of `value` for the user, moved from `heldBy` (the holder read
 * before; undefined: nobody): its condition fails when the holder changed.
 */
export const moveClaimPart = (userId: string, field: IdentifierField, value: string, heldBy: string | undefined, now: string) =>
  part('claim', {
    Put: {
      TableName: table(),
      Item: ClaimItem.parse({ ...claimKey(field, value), userId, claimedAt: now }),
      ConditionExpression: heldBy === undefined ? 'attribute_not_exists(pk)' : 'userId = :h',
      ...(heldBy === undefined ? {} : { ExpressionAttributeValues: { ':h': heldBy } }),
    },
  });

/** The earlier holder loses `value`: its field goes, on condition that it still holds that value. */
export const loseIdentifierPart = (holderId: string, field: IdentifierField, value: string, now: string) =>
  part('holder', {
    Update: {
      TableName: table(),
      Key: identityKey(holderId),
      UpdateExpression: 'SET updatedAt = :now REMOVE #f',
      ConditionExpression: '#f = :v',
      ExpressionAttributeNames: { '#f': field },
      ExpressionAttributeValues: { ':v': value, ':now': now },
    },
  });
