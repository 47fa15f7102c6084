import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * The DynamoDB clients, created once per execution environment. Endpoints
 * follow `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>`, which is how the
 * local stack and LocalStack point them at emulators. Throttling and
 * transient errors are retried with exponential backoff by the SDK's
 * standard retry mode. SQS and SNS have modules of their own (sqs.ts,
 * sns.ts), so a function that does not send messages does not load them at
 * cold start.
 */
export const SDK_MAX_ATTEMPTS = 6;
export const dynamo = new DynamoDBClient({ maxAttempts: SDK_MAX_ATTEMPTS });
export const ddb = DynamoDBDocumentClient.from(dynamo, {
  marshallOptions: { removeUndefinedValues: true },
});
