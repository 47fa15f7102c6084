/**
 * Privacy policies: `policy#<version>` for every published version and
 * `current`, a copy of the version in force.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { PURPOSES } from '../core/consent';
import type { Policy } from '../core/consent';
import { ddb } from '../shared/aws';
import { tableName } from '../shared/config';
import { conflict } from '../shared/problems';
import { part, transact, TransactionCancelled } from './dynamo';

const table = () => tableName('policies');

export const policyKey = (version: string) => ({ pk: `policy#${version}` });
export const CURRENT_POLICY_KEY = { pk: 'current' } as const;

const PolicyItem = z.object({ pk: z.string(), version: z.string(), purposes: z.array(z.enum(PURPOSES)), summary: z.string(), publishedAt: z.string() });

/**
 * The policy in force. What decides on it (`'decide'`: a decision is only
 * recorded against the current version) reads it strongly consistent; what
 * only shows it (`'show'`: the notification's state, the policy route, the
 * export) reads it eventually consistent, at half the read units on the one
 * item every user's notification reads (SCALING.md, the hottest key). A
 * policy just published shows there within about a second; a decision on the
 * version before it in that second is refused as stale, as any late one is.
 */
export async function currentPolicy(purpose: 'decide' | 'show' = 'decide'): Promise<Policy | null> {
  const { Item } = await ddb.send(new GetCommand({ TableName: table(), Key: CURRENT_POLICY_KEY, ConsistentRead: purpose === 'decide' }));
  if (!Item) return null;
  const { version, purposes, summary, publishedAt } = PolicyItem.parse(Item);
  return { version, purposes, summary, publishedAt };
}

/** Stores a new version and makes it current, in one transaction; a version that exists is a 409. */
export async function publishPolicy(policy: Policy): Promise<void> {
  try {
    await transact([
      part('version', {
        Put: { TableName: table(), Item: PolicyItem.parse({ ...policyKey(policy.version), ...policy }), ConditionExpression: 'attribute_not_exists(pk)' },
      }),
      part('current', { Put: { TableName: table(), Item: PolicyItem.parse({ ...CURRENT_POLICY_KEY, ...policy }) } }),
    ]);
  } catch (error) {
    if (error instanceof TransactionCancelled && error.failedOn('version')) throw conflict('policy-exists', `Policy version ${policy.version} already exists.`);
    throw error;
  }
}
