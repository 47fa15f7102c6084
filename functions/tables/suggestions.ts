/**
 * Friend suggestions: one item a user (`userId`), whether suggestions may use
 * their number and the consent version that reflects.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { ddb } from '../shared/aws';
import { tableName } from '../shared/config';
import { batchGetAll } from './batch';
import { isConditionFailure } from './dynamo';

const table = () => tableName('suggestions');

export const suggestionKey = (userId: string) => ({ userId });

const SuggestionItem = z.object({ userId: z.string(), allowed: z.boolean(), appliedVersion: z.number().int().nonnegative(), updatedAt: z.string() });
export type Suggestion = z.infer<typeof SuggestionItem>;

/** The items of `userIds` (each at most once; users without one are left out), consistent, 100 a BatchGetItem. */
export async function suggestionsOf(userIds: readonly string[]): Promise<Map<string, Suggestion>> {
  const items = await batchGetAll(
    table(),
    userIds.map((u) => suggestionKey(u)),
    { consistent: true },
  );
  return new Map(items.map((item) => [String(item.userId), SuggestionItem.parse(item)]));
}

/** Stores the user's state unless a newer version was applied meanwhile; returns whether it did. */
export async function putSuggestion(suggestion: Suggestion): Promise<boolean> {
  try {
    await ddb.send(
      new PutCommand({
        TableName: table(),
        Item: SuggestionItem.parse(suggestion),
        ConditionExpression: 'attribute_not_exists(userId) OR appliedVersion <= :v',
        ExpressionAttributeValues: { ':v': suggestion.appliedVersion },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}
