/**
 * Starts ONE DynamoDB Local for the whole store project, on a free loopback
 * port, and creates every table of the catalog in it exactly as the local
 * stack does (key schemas, global indexes, streams, TTL: local/resources.ts).
 * The endpoint reaches the test files through `STORE_DYNAMODB_ENDPOINT`
 * (jest's workers inherit this process's environment). Test files run in
 * parallel against it and keep apart by using ids of their own.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { catalog } from '../../catalog';
import { checkJava, startDynamoDbLocal } from '../../local/dynamodb-local';
import type { DynamoDbLocal } from '../../local/dynamodb-local';
import { consoleLog } from '../../local/log';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/names';
import { createTables } from '../../local/resources';
import { STORE_ENDPOINT_ENV, storeTableName } from './support/store';

declare global {
  var __STORE_DYNAMODB__: DynamoDbLocal | undefined;
}

export default async function globalSetup(): Promise<void> {
  checkJava();
  const started = Date.now();
  const dynamodb = await startDynamoDbLocal(consoleLog);
  // Should jest die without running the teardown, the Java process goes with it.
  process.once('exit', () => dynamodb.killNow());
  try {
    const client = new DynamoDBClient({ endpoint: dynamodb.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    try {
      await createTables(client, catalog.tables, storeTableName);
    } finally {
      client.destroy();
    }
  } catch (error) {
    await dynamodb.stop();
    throw error;
  }
  process.env[STORE_ENDPOINT_ENV] = dynamodb.endpoint;
  globalThis.__STORE_DYNAMODB__ = dynamodb;
  process.stderr.write(`\nDynamoDB Local for the store tests ready at ${dynamodb.endpoint} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}
