/**
 * The identities table, the only place phone numbers and emails are kept:
 * - `user#<userId>`: the user's phone number and email;
 * - `phone#<e164>` / `email#<address>`: the claim that binds one value to one
 *   user, so a value belongs to at most one account.
 * Only the functions that bind, erase, export or look up identifiers, and the
 * one that turns them into match keys, are granted anything on it.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { ddb } from '../shared/aws';
import { tableName } from '../shared/config';
import { part } from './dynamo';
import type { Item } from './dynamo';

const table = () => tableName('identities');

export type IdentifierField = 'phoneNumber' | 'email';
const CLAIM_PREFIX: Record<IdentifierField, string> = { phoneNumber: 'phone#', email: 'email#' };

export const identityKey = (userId: string) => ({ pk: `user#${userId}` });
export const claimKey = (field: IdentifierField, value: string) => ({ pk: `${CLAIM_PREFIX[field]}${value}` });

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

/** The id of the user a value is bound to, or undefined when it is bound to no one. */
export async function ownerOf(field: IdentifierField, value: string): Promise<string | undefined> {
  const { Item } = await ddb.send(
    new GetCommand({ TableName: table(), Key: claimKey(field, value), ConsistentRead: true, ProjectionExpression: 'pk, userId, claimedAt' }),
  );
  return Item ? ClaimItem.parse(Item).userId : undefined;
}

// ------------------------------------------------------------ transaction parts

/** Claims `value` for the user; its condition fails when another user holds it. */
export const claimPart = (userId: string, field: IdentifierField, value: string, now: string) =>
  part('claim', {
    Put: {
      TableName: table(),
      Item: ClaimItem.parse({ ...claimKey(field, value), userId, claimedAt: now }),
      ConditionExpression: 'attribute_not_exists(pk) OR userId = :u',
      ExpressionAttributeValues: { ':u': userId },
    },
  });

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
