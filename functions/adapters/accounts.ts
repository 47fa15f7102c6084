import { GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { NativeAttributeValue } from '@aws-sdk/util-dynamodb';
import { NEVER_DECIDED } from '../core/consent';
import type { ConsentState, Receipt } from '../core/consent';
import { ddb } from '../shared/aws';
import { tableName } from '../shared/config';
import { conflict } from '../shared/problems';
import { failedConditions } from './dynamo';
import { outboxEventItem, receiptItem } from './ledger';

/**
 * The accounts table: `user#<id>` holds a user's phone, email and current
 * consent; `phone#<e164>` and `email#<address>` claim an identifier for one
 * user; `idem#<user>#<key>` stores answers of idempotent requests.
 */
const ACCOUNTS = tableName('accounts');

export interface Account {
  userId: string;
  phoneNumber?: string;
  email?: string;
  consent: ConsentState;
  createdAt?: string;
  erasedAt?: string;
}

export const userKey = (userId: string) => ({ pk: `user#${userId}` });

export function accountOf(userId: string, item: Record<string, NativeAttributeValue> | undefined): Account {
  if (!item) return { userId, consent: NEVER_DECIDED };
  return {
    userId,
    phoneNumber: item.phoneNumber,
    email: item.email,
    createdAt: item.createdAt,
    erasedAt: item.erasedAt,
    consent: item.consentVersion
      ? {
          version: item.consentVersion,
          policyVersion: item.consentPolicyVersion,
          purposes: item.purposes,
          updatedAt: item.consentUpdatedAt,
        }
      : NEVER_DECIDED,
  };
}

export async function getAccount(userId: string, consistent = true): Promise<Account> {
  const { Item } = await ddb.send(new GetCommand({ TableName: ACCOUNTS, Key: userKey(userId), ConsistentRead: consistent }));
  return accountOf(userId, Item);
}

export type IdentifierField = 'phoneNumber' | 'email';
const claimPrefix: Record<IdentifierField, string> = { phoneNumber: 'phone#', email: 'email#' };

/** The transaction item that releases the user's claim on a value (none when there is no value); `:u` is the user. */
const releaseClaim = (userId: string, prefix: string, value: string | undefined) =>
  value === undefined
    ? []
    : [
        {
          Delete: {
            TableName: ACCOUNTS,
            Key: { pk: `${prefix}${value}` },
            ConditionExpression: 'attribute_not_exists(pk) OR userId = :u',
            ExpressionAttributeValues: { ':u': userId },
          },
        },
      ];

/**
 * Binds a phone number or email to the user, in one transaction: claim the
 * new value (unless another user holds it), release the old one, update the
 * user, and put an `IdentifiersChanged` event in the outbox.
 */
export async function bindIdentifier(userId: string, field: IdentifierField, value: string, now: Date): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const account = await getAccount(userId);
    const old = account[field];
    if (old === value) return;
    const prefix = claimPrefix[field];
    const nowIso = now.toISOString();
    try {
      await ddb.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: ACCOUNTS,
                Item: { pk: `${prefix}${value}`, userId, claimedAt: nowIso },
                ConditionExpression: 'attribute_not_exists(pk) OR userId = :u',
                ExpressionAttributeValues: { ':u': userId },
              },
            },
            {
              Update: {
                TableName: ACCOUNTS,
                Key: userKey(userId),
                UpdateExpression: 'SET #f = :v, userId = :u, updatedAt = :now, createdAt = if_not_exists(createdAt, :now) REMOVE erasedAt',
                ConditionExpression: old === undefined ? 'attribute_not_exists(#f)' : '#f = :old',
                ExpressionAttributeNames: { '#f': field },
                ExpressionAttributeValues: { ':v': value, ':u': userId, ':now': nowIso, ...(old === undefined ? {} : { ':old': old }) },
              },
            },
            ...releaseClaim(userId, prefix, old),
            { Put: outboxEventItem(userId, 'IdentifiersChanged', now) },
          ],
        }),
      );
      return;
    } catch (error) {
      const failed = failedConditions(error);
      if (failed?.includes(0)) {
        throw conflict(
          field === 'phoneNumber' ? 'phone-taken' : 'email-taken',
          `That ${field === 'phoneNumber' ? 'number' : 'address'} is bound to another account.`,
        );
      }
      // The user changed concurrently: read again and retry a few times.
      if (failed && attempt < 3) continue;
      throw error;
    }
  }
}

const idempotencyKey = (userId: string, key: string) => ({ pk: `idem#${userId}#${key}` });

export interface StoredAnswer {
  requestHash: string;
  receipt: Receipt;
}

export async function storedAnswer(userId: string, key: string): Promise<StoredAnswer | undefined> {
  const { Item } = await ddb.send(new GetCommand({ TableName: ACCOUNTS, Key: idempotencyKey(userId, key), ConsistentRead: true }));
  return Item ? { requestHash: Item.requestHash, receipt: Item.receipt } : undefined;
}

export type RecordOutcome = { kind: 'recorded' } | { kind: 'replay' } | { kind: 'concurrent' };

/**
 * Records a decision in one transaction guarded by the consent version:
 * the user's state, the ledger receipt (whose stream is the outbox) and, with
 * an Idempotency-Key, the stored answer. Either all are written or none.
 */
export async function recordDecision(
  userId: string,
  previousVersion: number,
  state: ConsentState,
  receipt: Receipt,
  idempotency?: { key: string; requestHash: string; expiresAt: number },
): Promise<RecordOutcome> {
  try {
    await ddb.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Update: {
              TableName: ACCOUNTS,
              Key: userKey(userId),
              UpdateExpression:
                'SET consentVersion = :v, consentPolicyVersion = :p, purposes = :purposes, consentUpdatedAt = :t, userId = :u, createdAt = if_not_exists(createdAt, :t)',
              ConditionExpression: previousVersion === 0 ? 'attribute_not_exists(consentVersion)' : 'consentVersion = :prev',
              ExpressionAttributeValues: {
                ':v': state.version,
                ':p': state.policyVersion,
                ':purposes': state.purposes,
                ':t': state.updatedAt,
                ':u': userId,
                ...(previousVersion === 0 ? {} : { ':prev': previousVersion }),
              },
            },
          },
          { Put: { ...receiptItem(userId, receipt), ConditionExpression: 'attribute_not_exists(sk)' } },
          ...(idempotency
            ? [
                {
                  Put: {
                    TableName: ACCOUNTS,
                    Item: {
                      ...idempotencyKey(userId, idempotency.key),
                      requestHash: idempotency.requestHash,
                      receipt,
                      expiresAt: idempotency.expiresAt,
                    },
                    ConditionExpression: 'attribute_not_exists(pk)',
                  },
                },
              ]
            : []),
        ],
      }),
    );
    return { kind: 'recorded' };
  } catch (error) {
    const failed = failedConditions(error);
    if (!failed) throw error;
    if (failed.includes(2)) return { kind: 'replay' };
    return { kind: 'concurrent' };
  }
}

/**
 * Erases the user's phone number and email in one transaction: the
 * identifiers leave the user item, their claims are released, the account is
 * marked erased and an `AccountErased` event goes into the outbox, so every
 * consumer (match index, audiences, suggestions, messages) forgets the user.
 * Consent receipts stay in the ledger as proof; they never held either value.
 */
export async function eraseAccount(userId: string, now: Date): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const account = await getAccount(userId);
    const nowIso = now.toISOString();
    const guards: string[] = [];
    const values: Record<string, unknown> = { ':u': userId, ':now': nowIso };
    for (const field of ['phoneNumber', 'email'] as const) {
      if (account[field] === undefined) guards.push(`attribute_not_exists(${field})`);
      else {
        guards.push(`${field} = :${field}`);
        values[`:${field}`] = account[field];
      }
    }
    try {
      await ddb.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: ACCOUNTS,
                Key: userKey(userId),
                UpdateExpression: 'SET userId = :u, erasedAt = :now, updatedAt = :now, createdAt = if_not_exists(createdAt, :now) REMOVE phoneNumber, email',
                ConditionExpression: guards.join(' AND '),
                ExpressionAttributeValues: values,
              },
            },
            ...releaseClaim(userId, claimPrefix.phoneNumber, account.phoneNumber),
            ...releaseClaim(userId, claimPrefix.email, account.email),
            { Put: outboxEventItem(userId, 'AccountErased', now) },
          ],
        }),
      );
      return;
    } catch (error) {
      // The user changed an identifier meanwhile: read again and retry.
      if (failedConditions(error) && attempt < 3) continue;
      throw error;
    }
  }
}
