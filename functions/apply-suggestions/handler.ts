import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { getAccount } from '../adapters/accounts';
import { isConditionFailure } from '../adapters/dynamo';
import { AccountEvent } from '../core/events';
import { ddb } from '../shared/aws';
import { clock } from '../shared/clock';
import { tableName } from '../shared/config';
import { sqsConsumer } from '../shared/consumers';
import { metrics } from '../shared/observability';

const SUGGESTIONS = tableName('suggestions');

/**
 * Keeps the set of users who allow friend suggestions: one item a user with
 * `allowed` and the consent version it reflects. Reads the account, the
 * source of truth; never moves backwards in version.
 */
export async function reconcile(event: AccountEvent): Promise<'skipped' | 'applied'> {
  const { Item } = await ddb.send(new GetCommand({ TableName: SUGGESTIONS, Key: { userId: event.userId }, ConsistentRead: true }));
  const applied = (Item?.appliedVersion as number | undefined) ?? 0;
  if (event.type === 'ConsentChanged' && Item && event.version <= applied) return 'skipped';
  const account = await getAccount(event.userId);
  const allowed = !account.erasedAt && account.consent.purposes.friend_suggestions === 'granted';
  const version = Math.max(account.consent.version, applied);
  try {
    await ddb.send(
      new PutCommand({
        TableName: SUGGESTIONS,
        Item: { userId: event.userId, allowed, appliedVersion: version, updatedAt: clock.now().toISOString() },
        ConditionExpression: 'attribute_not_exists(userId) OR appliedVersion <= :v',
        ExpressionAttributeValues: { ':v': version },
      }),
    );
  } catch (error) {
    if (isConditionFailure(error)) return 'skipped'; // a newer state was applied meanwhile
    throw error;
  }
  return 'applied';
}

export const handler = sqsConsumer(async (record) => {
  const outcome = await reconcile(AccountEvent.parse(JSON.parse(record.body)));
  metrics.addMetric(outcome === 'skipped' ? 'SuggestionsEventSkipped' : 'SuggestionsEventApplied', 'Count', 1);
});
