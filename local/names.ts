/**
 * Physical names of the local stack's resources, derived from the catalog's
 * logical names. Pure: the integration-test helpers import it too, so the
 * names the tests use are the names the stack creates.
 */

export const LOCAL_REGION = 'us-east-1';
/** The account id both emulators use in their ARNs. */
export const LOCAL_ACCOUNT_ID = '000000000000';
/** Dummy credentials: the emulators accept any. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;
const PREFIX = 'local';

/** DynamoDB table names need at least 3 characters; the prefix guarantees it. */
export const localTableName = (logical: string): string => `${PREFIX}-${logical}`;
export const localTopicName = (logical: string): string => `${PREFIX}-${logical}`;
/** A FIFO queue's name (and its dead-letter queue's) ends in `.fifo`, as SQS requires. */
export const localQueueName = (logical: string, fifo = false): string => `${PREFIX}-${logical}${fifo ? '.fifo' : ''}`;
export const localDeadLetterQueueName = (logical: string, fifo = false): string => `${PREFIX}-${logical}-dlq${fifo ? '.fifo' : ''}`;
export const localFunctionName = (logical: string): string => `${PREFIX}-${logical}`;
export const localFunctionArn = (logical: string, region = LOCAL_REGION): string =>
  `arn:aws:lambda:${region}:${LOCAL_ACCOUNT_ID}:function:${localFunctionName(logical)}`;
