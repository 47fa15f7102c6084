import { SNSClient } from '@aws-sdk/client-sns';
import { SDK_MAX_ATTEMPTS } from './aws';

/** The SNS client, once per execution environment (endpoint and retries as in aws.ts). */
export const sns = new SNSClient({ maxAttempts: SDK_MAX_ATTEMPTS });
