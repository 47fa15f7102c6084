import { GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { Policy } from '../core/consent';
import { ddb } from '../shared/aws';
import { tableName } from '../shared/config';
import { conflict } from '../shared/problems';
import { failedConditions } from './dynamo';

const POLICIES = tableName('policies');
const CURRENT = { pk: 'current' };

const policyOf = (item: Record<string, unknown>): Policy => ({
  version: item.version as string,
  purposes: item.purposes as Policy['purposes'],
  summary: item.summary as string,
  publishedAt: item.publishedAt as string,
});

export async function currentPolicy(): Promise<Policy | null> {
  const { Item } = await ddb.send(new GetCommand({ TableName: POLICIES, Key: CURRENT, ConsistentRead: true }));
  return Item ? policyOf(Item) : null;
}

/** Stores a new version and makes it current, in one transaction. */
export async function publishPolicy(policy: Policy): Promise<void> {
  try {
    await ddb.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: POLICIES,
              Item: { pk: `policy#${policy.version}`, ...policy },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
          { Put: { TableName: POLICIES, Item: { ...CURRENT, ...policy } } },
        ],
      }),
    );
  } catch (error) {
    if (failedConditions(error)?.includes(0)) throw conflict('policy-exists', `Policy version ${policy.version} already exists.`);
    throw error;
  }
}
