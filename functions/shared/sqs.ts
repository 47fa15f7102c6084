import { SQSClient } from '@aws-sdk/client-sqs';
import { SDK_MAX_ATTEMPTS } from './aws';

/** The SQS client, once per execution environment (endpoint and retries as in aws.ts). */
export const sqs = new SQSClient({ maxAttempts: SDK_MAX_ATTEMPTS });
