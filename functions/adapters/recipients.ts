import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { ddb } from '../shared/aws';
import { tableName } from '../shared/config';

/**
 * Read-only view of the accounts table for messages: the `phone#<e164>`
 * claim (written by PUT /v1/me/phone, see adapters/accounts.ts) names the
 * user a number is bound to. Kept apart from adapters/accounts.ts so that the
 * send function needs no binding beyond the accounts table.
 */
const ACCOUNTS = tableName('accounts');

/** The id of the user the E.164 number is bound to, or undefined when it is bound to no one. */
export async function userIdOfPhone(e164: string): Promise<string | undefined> {
  const { Item } = await ddb.send(new GetCommand({ TableName: ACCOUNTS, Key: { pk: `phone#${e164}` }, ConsistentRead: true, ProjectionExpression: 'userId' }));
  const userId = Item?.userId;
  return typeof userId === 'string' && userId.length > 0 ? userId : undefined;
}
