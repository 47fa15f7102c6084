/**
 * Builders of the events and the context Lambda hands a function: API Gateway
 * HTTP API payload 2.0 events, SQS and DynamoDB stream records as the event
 * source mappings shape them, the on-failure record of a stream mapping, and
 * the Lambda context object.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type {
  APIGatewayEventRequestContextJWTAuthorizer,
  APIGatewayEventRequestContextV2,
  APIGatewayProxyEventV2,
  APIGatewayProxyEventV2WithJWTAuthorizer,
  AttributeValue as LambdaAttributeValue,
  Context,
  DynamoDBRecord,
  SQSMessageAttribute,
  SQSRecord,
  SQSRecordAttributes,
} from 'aws-lambda';
import type { Message } from '@aws-sdk/client-sqs';
import type { _Record as StreamRecord, AttributeValue as StreamAttributeValue } from '@aws-sdk/client-dynamodb-streams';
import { LOCAL_ACCOUNT_ID } from './names';

// ---------------------------------------------------------------- HTTP API 2.0

export interface IncomingHttpRequest {
  readonly method: string;
  /** The request target as received: path and query string. */
  readonly url: string;
  /** Lower-cased header names, every value of each (Node's `headersDistinct`). */
  readonly headers: Readonly<Record<string, readonly string[] | undefined>>;
  readonly body: Buffer;
  readonly sourceIp: string;
  readonly httpVersion: string;
  readonly localPort: number;
}

export interface RouteMatch {
  /** `PUT /v1/me/phone`, or `$default`. */
  readonly routeKey: string;
  readonly pathParameters?: Readonly<Record<string, string>>;
}

export type JwtAuthorizerContext = APIGatewayEventRequestContextJWTAuthorizer;
export type HttpEvent = APIGatewayProxyEventV2 | APIGatewayProxyEventV2WithJWTAuthorizer;

export const LOCAL_API_ID = 'local';

/**
 * Whether API Gateway passes a body as text. HTTP APIs pass JSON, XML,
 * JavaScript and `text/*` bodies as they are and base64-encode everything
 * else, including bodies without a content type.
 */
export function isTextContentType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const type = (contentType.split(';')[0] ?? '').trim().toLowerCase();
  return (
    type.startsWith('text/') ||
    /^application\/(?:[\w.-]+\+)?(?:json|xml)$/.test(type) ||
    type === 'application/javascript' ||
    type === 'application/x-javascript'
  );
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** `12/Mar/2020:19:03:58 +0000`, API Gateway's `requestContext.time`. */
export function requestTime(date: Date): string {
  return (
    `${pad(date.getUTCDate())}/${MONTHS[date.getUTCMonth()]}/${date.getUTCFullYear()}:` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`
  );
}

/** API Gateway request ids look like `JKJaXmPLvHcESHA=`. */
export const newApiRequestId = (): string => randomBytes(10).toString('base64');

/** An X-Ray trace header, `Root=1-<8 hex time>-<24 hex>`, as API Gateway adds. */
export const newTraceId = (now = Date.now()): string => `Root=1-${Math.floor(now / 1000).toString(16)}-${randomBytes(12).toString('hex')}`;

function splitTarget(url: string): { rawPath: string; rawQueryString: string } {
  // Node gives the origin form (`/path?query`); an absolute form is reduced to it.
  let target = url;
  if (!target.startsWith('/')) {
    const parsed = new URL(target);
    target = parsed.pathname + parsed.search;
  }
  const q = target.indexOf('?');
  return q === -1 ? { rawPath: target, rawQueryString: '' } : { rawPath: target.slice(0, q), rawQueryString: target.slice(q + 1) };
}

function queryParameters(rawQueryString: string): Record<string, string> | undefined {
  if (!rawQueryString) return undefined;
  const result: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(rawQueryString)) {
    result[key] = key in result ? `${result[key]},${value}` : value;
  }
  return Object.keys(result).length > 0 ? result : undefined;
}

export function buildHttpEvent(
  request: IncomingHttpRequest,
  match: RouteMatch,
  authorizer: JwtAuthorizerContext | undefined,
  requestId: string,
  now: Date = new Date(),
): HttpEvent {
  const { rawPath, rawQueryString } = splitTarget(request.url);
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (const [name, values] of Object.entries(request.headers)) {
    if (!values || values.length === 0) continue;
    if (name === 'cookie') {
      for (const value of values)
        cookies.push(
          ...value
            .split(';')
            .map((c) => c.trim())
            .filter((c) => c.length > 0),
        );
      continue;
    }
    headers[name] = values.join(',');
  }
  headers['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']}, ${request.sourceIp}` : request.sourceIp;
  headers['x-forwarded-port'] = String(request.localPort);
  headers['x-forwarded-proto'] = 'http';
  headers['x-amzn-trace-id'] ??= newTraceId(now.getTime());

  const host = (headers.host ?? `127.0.0.1:${request.localPort}`).replace(/:\d+$/, '');
  const requestContext: APIGatewayEventRequestContextV2 = {
    accountId: LOCAL_ACCOUNT_ID,
    apiId: LOCAL_API_ID,
    domainName: host,
    domainPrefix: host.split('.')[0] ?? host,
    http: {
      method: request.method,
      path: rawPath,
      protocol: `HTTP/${request.httpVersion}`,
      sourceIp: request.sourceIp,
      userAgent: headers['user-agent'] ?? '',
    },
    requestId,
    routeKey: match.routeKey,
    stage: '$default',
    time: requestTime(now),
    timeEpoch: now.getTime(),
  };

  const hasBody = request.body.length > 0;
  const binary = hasBody && !isTextContentType(headers['content-type']);
  const query = queryParameters(rawQueryString);
  const event: APIGatewayProxyEventV2 = {
    version: '2.0',
    routeKey: match.routeKey,
    rawPath,
    rawQueryString,
    ...(cookies.length > 0 ? { cookies } : {}),
    headers,
    ...(query ? { queryStringParameters: query } : {}),
    requestContext,
    ...(hasBody ? { body: binary ? request.body.toString('base64') : request.body.toString('utf8') } : {}),
    ...(match.pathParameters && Object.keys(match.pathParameters).length > 0 ? { pathParameters: { ...match.pathParameters } } : {}),
    isBase64Encoded: binary,
  };
  if (!authorizer) return event;
  const withAuthorizer: APIGatewayProxyEventV2WithJWTAuthorizer = { ...event, requestContext: { ...requestContext, authorizer } };
  return withAuthorizer;
}

// ---------------------------------------------------------------- Lambda context

export interface FunctionIdentity {
  readonly functionName: string;
  readonly functionArn: string;
  readonly memoryMB: number;
  /** One log stream per execution environment, `2026/11/25/[$LATEST]<32 hex>`. */
  readonly logStreamName: string;
}

export const newLogStreamName = (now = new Date()): string =>
  `${now.getUTCFullYear()}/${pad(now.getUTCMonth() + 1)}/${pad(now.getUTCDate())}/[$LATEST]${randomBytes(16).toString('hex')}`;

export function buildLambdaContext(fn: FunctionIdentity, awsRequestId: string, deadlineMs: number): Context {
  const unsupported = (what: string) => () => {
    throw new Error(`context.${what}() is not supported; return a value or a promise`);
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: fn.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: fn.functionArn,
    memoryLimitInMB: String(fn.memoryMB),
    awsRequestId,
    logGroupName: `/aws/lambda/${fn.functionName}`,
    logStreamName: fn.logStreamName,
    getRemainingTimeInMillis: () => Math.max(0, deadlineMs - Date.now()),
    done: unsupported('done'),
    fail: unsupported('fail'),
    succeed: unsupported('succeed'),
  };
}

// ---------------------------------------------------------------- SQS

/** fauxqs returns binary attribute values in unusual shapes; normalize them to base64 like Lambda does. */
function base64Of(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (typeof value === 'object') return Buffer.from(Object.values(value as Record<string, number>)).toString('base64');
  return undefined;
}

export function toSqsRecord(message: Message, queueArn: string, region: string): SQSRecord {
  const system = (message.Attributes ?? {}) as Record<string, string | undefined>;
  const attributes: SQSRecordAttributes = {
    ApproximateReceiveCount: system.ApproximateReceiveCount ?? '1',
    SentTimestamp: system.SentTimestamp ?? String(Date.now()),
    SenderId: system.SenderId ?? LOCAL_ACCOUNT_ID,
    ApproximateFirstReceiveTimestamp: system.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
  };
  for (const optional of ['AWSTraceHeader', 'SequenceNumber', 'MessageGroupId', 'MessageDeduplicationId', 'DeadLetterQueueSourceArn'] as const) {
    const value = system[optional];
    if (value !== undefined) attributes[optional] = value;
  }
  const messageAttributes: Record<string, SQSMessageAttribute> = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    const binary = base64Of(value.BinaryValue);
    messageAttributes[name] = {
      ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
      ...(binary !== undefined ? { binaryValue: binary } : {}),
      stringListValues: [],
      binaryListValues: [],
      dataType: value.DataType ?? 'String',
    };
  }
  return {
    messageId: message.MessageId ?? randomUUID(),
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes,
    messageAttributes,
    md5OfBody: message.MD5OfBody ?? '',
    ...(message.MD5OfMessageAttributes ? { md5OfMessageAttributes: message.MD5OfMessageAttributes } : {}),
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

// ---------------------------------------------------------------- DynamoDB streams

/** DynamoDB JSON as Lambda delivers it: the wire format, binary values in base64. */
export function toLambdaAttributeValue(value: StreamAttributeValue): LambdaAttributeValue {
  if (value.S !== undefined) return { S: value.S };
  if (value.N !== undefined) return { N: value.N };
  if (value.B !== undefined) return { B: Buffer.from(value.B).toString('base64') };
  if (value.BOOL !== undefined) return { BOOL: value.BOOL };
  if (value.NULL !== undefined) return { NULL: value.NULL };
  if (value.SS !== undefined) return { SS: [...value.SS] };
  if (value.NS !== undefined) return { NS: [...value.NS] };
  if (value.BS !== undefined) return { BS: value.BS.map((b) => Buffer.from(b).toString('base64')) };
  if (value.L !== undefined) return { L: value.L.map(toLambdaAttributeValue) };
  if (value.M !== undefined) return { M: toLambdaImage(value.M) };
  throw new Error('Unknown DynamoDB attribute type in a stream record');
}

export function toLambdaImage(image: Record<string, StreamAttributeValue>): Record<string, LambdaAttributeValue> {
  return Object.fromEntries(Object.entries(image).map(([k, v]) => [k, toLambdaAttributeValue(v)]));
}

/** The identity DynamoDB's TTL process puts on the records of the items it deletes. */
export const TTL_USER_IDENTITY = { type: 'Service', principalId: 'dynamodb.amazonaws.com' } as const;

export function toDynamoDbRecord(record: StreamRecord, streamArn: string, region: string, userIdentity?: typeof TTL_USER_IDENTITY): DynamoDBRecord {
  const data = record.dynamodb ?? {};
  const created = data.ApproximateCreationDateTime;
  return {
    eventID: record.eventID ?? randomUUID(),
    ...(record.eventName ? { eventName: record.eventName } : {}),
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: region,
    dynamodb: {
      ...(created ? { ApproximateCreationDateTime: Math.floor(created.getTime() / 1000) } : {}),
      ...(data.Keys ? { Keys: toLambdaImage(data.Keys) } : {}),
      ...(data.NewImage ? { NewImage: toLambdaImage(data.NewImage) } : {}),
      ...(data.OldImage ? { OldImage: toLambdaImage(data.OldImage) } : {}),
      ...(data.SequenceNumber ? { SequenceNumber: data.SequenceNumber } : {}),
      ...(data.SizeBytes !== undefined ? { SizeBytes: data.SizeBytes } : {}),
      ...(data.StreamViewType ? { StreamViewType: data.StreamViewType } : {}),
    },
    eventSourceARN: streamArn,
    ...(userIdentity ? { userIdentity: { ...userIdentity } } : {}),
  };
}

/** What Lambda sends to a stream mapping's on-failure destination (SQS) when it gives up on a batch. */
export interface StreamFailureRecord {
  requestContext: {
    requestId: string;
    functionArn: string;
    condition: 'RetryAttemptsExhausted';
    approximateInvokeCount: number;
  };
  responseContext: {
    statusCode: number;
    executedVersion: string;
    functionError?: 'Unhandled';
  };
  version: '1.0';
  timestamp: string;
  DDBStreamBatchInfo: {
    shardId: string;
    startSequenceNumber: string;
    endSequenceNumber: string;
    approximateArrivalOfFirstRecord: string;
    approximateArrivalOfLastRecord: string;
    batchSize: number;
    streamArn: string;
  };
}

const isoFromEpochSeconds = (seconds: number | undefined): string =>
  new Date((seconds ?? Math.floor(Date.now() / 1000)) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

export function streamFailureRecord(input: {
  functionArn: string;
  streamArn: string;
  shardId: string;
  records: readonly DynamoDBRecord[];
  invokeCount: number;
  /** The last attempt threw or timed out (rather than reporting batch item failures). */
  functionError: boolean;
  requestId: string;
}): StreamFailureRecord {
  const first = input.records[0]?.dynamodb;
  const last = input.records[input.records.length - 1]?.dynamodb;
  return {
    requestContext: {
      requestId: input.requestId,
      functionArn: input.functionArn,
      condition: 'RetryAttemptsExhausted',
      approximateInvokeCount: input.invokeCount,
    },
    responseContext: {
      statusCode: 200,
      executedVersion: '$LATEST',
      ...(input.functionError ? { functionError: 'Unhandled' as const } : {}),
    },
    version: '1.0',
    timestamp: new Date().toISOString(),
    DDBStreamBatchInfo: {
      shardId: input.shardId,
      startSequenceNumber: first?.SequenceNumber ?? '',
      endSequenceNumber: last?.SequenceNumber ?? '',
      approximateArrivalOfFirstRecord: isoFromEpochSeconds(first?.ApproximateCreationDateTime),
      approximateArrivalOfLastRecord: isoFromEpochSeconds(last?.ApproximateCreationDateTime),
      batchSize: input.records.length,
      streamArn: input.streamArn,
    },
  };
}

// ---------------------------------------------------------------- partial batch responses

/**
 * Reads a function's partial batch response as Lambda does: no response, no
 * `batchItemFailures` or an empty list means every record succeeded; a list
 * names the failed records; a malformed list, or an identifier that is empty
 * or not in the batch, fails the whole batch.
 */
export function batchItemFailures(result: unknown, identifiers: readonly string[]): Set<string> | 'all' {
  if (result === null || typeof result !== 'object' || Array.isArray(result)) return new Set();
  const list = (result as { batchItemFailures?: unknown }).batchItemFailures;
  if (list === undefined || list === null) return new Set();
  if (!Array.isArray(list)) return 'all';
  const known = new Set(identifiers);
  const failed = new Set<string>();
  for (const entry of list) {
    const id = (entry as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || id.length === 0 || !known.has(id)) return 'all';
    failed.add(id);
  }
  return failed;
}
