import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';

/**
 * SDK clients, created once per execution environment. Endpoints follow
 * `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>`, which is how the local
 * stack and LocalStack point them at emulators. Throttling and transient
 * errors are retried with exponential backoff by the SDK's standard retry mode.
 */
export const dynamo = new DynamoDBClient({ maxAttempts: 6 });
export const ddb = DynamoDBDocumentClient.from(dynamo, {
  marshallOptions: { removeUndefinedValues: true },
});
export const sns = new SNSClient({ maxAttempts: 6 });
export const sqs = new SQSClient({ maxAttempts: 6 });
