/** Stops the store project's DynamoDB Local and waits until the Java process has exited. */
import type { DynamoDbLocal } from '../../local/dynamodb-local';

export default async function globalTeardown(): Promise<void> {
  const dynamodb = (globalThis as { __STORE_DYNAMODB__?: DynamoDbLocal }).__STORE_DYNAMODB__;
  if (!dynamodb) return;
  (globalThis as { __STORE_DYNAMODB__?: DynamoDbLocal }).__STORE_DYNAMODB__ = undefined;
  await dynamodb.stop();
}
