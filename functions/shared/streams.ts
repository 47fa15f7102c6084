import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { SDK_MAX_ATTEMPTS } from './aws';

/** The DynamoDB Streams client, only for the functions that replay stream records (`AWS_ENDPOINT_URL_DYNAMODB_STREAMS` locally). */
export const streams = new DynamoDBStreamsClient({ maxAttempts: SDK_MAX_ATTEMPTS });
