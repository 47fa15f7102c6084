/**
 * Creates every table, topic, queue (with its dead-letter queue) and
 * subscription the catalog describes, in the emulators, and returns their
 * physical names, ARNs and URLs.
 */
import {
  CreateTableCommand,
  UpdateTimeToLiveCommand,
  type AttributeDefinition,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
  type KeySchemaElement,
} from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { CreateTopicCommand, SubscribeCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { KeySpec, QueueSpec, TableSpec, TopicSpec } from '../catalog';
import { localDeadLetterQueueName, localQueueName, localTableName, localTopicName } from './names';

export interface LocalTable {
  readonly logical: string;
  readonly name: string;
  readonly arn: string;
  readonly streamArn?: string;
  readonly keyNames: readonly string[];
  readonly ttlAttribute?: string;
}
export interface LocalTopic {
  readonly logical: string;
  readonly name: string;
  readonly arn: string;
}
export interface LocalQueue {
  readonly logical: string;
  readonly name: string;
  readonly url: string;
  readonly arn: string;
  readonly deadLetterUrl: string;
  readonly deadLetterArn: string;
}
export interface LocalResources {
  readonly tables: Readonly<Record<string, LocalTable>>;
  readonly topics: Readonly<Record<string, LocalTopic>>;
  readonly queues: Readonly<Record<string, LocalQueue>>;
}

export interface ResourceCatalog {
  readonly tables: Readonly<Record<string, TableSpec>>;
  readonly topics: Readonly<Record<string, TopicSpec>>;
  readonly queues: Readonly<Record<string, QueueSpec>>;
}

/** Dead-letter queues keep messages as long as SQS allows, as the deployed stack's do. */
const DLQ_RETENTION_SECONDS = '1209600';

function keySchema(partitionKey: KeySpec, sortKey?: KeySpec): KeySchemaElement[] {
  return [{ AttributeName: partitionKey.name, KeyType: 'HASH' }, ...(sortKey ? [{ AttributeName: sortKey.name, KeyType: 'RANGE' as const }] : [])];
}

async function createTable(ddb: DynamoDBClient, logical: string, spec: TableSpec, name: string): Promise<LocalTable> {
  const definitions = new Map<string, AttributeDefinition>();
  const define = (key?: KeySpec) => {
    if (key) definitions.set(key.name, { AttributeName: key.name, AttributeType: key.type });
  };
  define(spec.partitionKey);
  define(spec.sortKey);
  const indexes: GlobalSecondaryIndex[] = (spec.globalIndexes ?? []).map((index) => {
    define(index.partitionKey);
    define(index.sortKey);
    return { IndexName: index.name, KeySchema: keySchema(index.partitionKey, index.sortKey), Projection: { ProjectionType: 'ALL' } };
  });
  const created = await ddb.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [...definitions.values()],
      KeySchema: keySchema(spec.partitionKey, spec.sortKey),
      ...(indexes.length > 0 ? { GlobalSecondaryIndexes: indexes } : {}),
      ...(spec.stream ? { StreamSpecification: { StreamEnabled: true, StreamViewType: spec.stream } } : {}),
    }),
  );
  if (spec.ttlAttribute) {
    await ddb.send(new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: { Enabled: true, AttributeName: spec.ttlAttribute } }));
  }
  const description = created.TableDescription;
  if (!description?.TableArn) throw new Error(`CreateTable ${name} returned no description`);
  if (spec.stream && !description.LatestStreamArn) throw new Error(`CreateTable ${name} returned no stream ARN`);
  return {
    logical,
    name,
    arn: description.TableArn,
    ...(description.LatestStreamArn ? { streamArn: description.LatestStreamArn } : {}),
    keyNames: [spec.partitionKey.name, ...(spec.sortKey ? [spec.sortKey.name] : [])],
    ...(spec.ttlAttribute ? { ttlAttribute: spec.ttlAttribute } : {}),
  };
}

async function createQueue(sqs: SQSClient, name: string, attributes: Record<string, string>): Promise<{ url: string; arn: string }> {
  const created = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  const url = created.QueueUrl;
  if (!url) throw new Error(`CreateQueue ${name} returned no URL`);
  const described = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  const arn = described.Attributes?.QueueArn;
  if (!arn) throw new Error(`Queue ${name} has no ARN`);
  return { url, arn };
}

/**
 * Creates the tables as the catalog describes them (key schema, global
 * indexes, stream, TTL), named by `nameOf` (the local stack's names unless
 * told otherwise), and returns them by logical name.
 */
export async function createTables(
  ddb: DynamoDBClient,
  tables: ResourceCatalog['tables'],
  nameOf: (logical: string) => string = localTableName,
): Promise<Record<string, LocalTable>> {
  const created = await Promise.all(Object.entries(tables).map(([logical, spec]) => createTable(ddb, logical, spec, nameOf(logical))));
  return Object.fromEntries(created.map((t) => [t.logical, t]));
}

export interface CreateResourcesOptions {
  /** Overrides every queue's visibility timeout (LOCAL_VISIBILITY_TIMEOUT_SECONDS), so tests see retries quickly. */
  readonly visibilityTimeoutSeconds?: number;
}

export async function createResources(
  clients: { ddb: DynamoDBClient; sqs: SQSClient; sns: SNSClient },
  catalog: ResourceCatalog,
  options: CreateResourcesOptions = {},
): Promise<LocalResources> {
  const tables = await createTables(clients.ddb, catalog.tables);

  const topicList = await Promise.all(
    Object.keys(catalog.topics).map(async (logical): Promise<LocalTopic> => {
      const name = localTopicName(logical);
      const created = await clients.sns.send(new CreateTopicCommand({ Name: name }));
      if (!created.TopicArn) throw new Error(`CreateTopic ${name} returned no ARN`);
      return { logical, name, arn: created.TopicArn };
    }),
  );
  const topics = Object.fromEntries(topicList.map((t) => [t.logical, t]));

  const queueList = await Promise.all(
    Object.entries(catalog.queues).map(async ([logical, spec]): Promise<LocalQueue> => {
      // FIFO as deployed (infra/stack.ts): high-throughput mode, deduplication per message group on the sender's id.
      const fifo: Record<string, string> = spec.fifo ? { FifoQueue: 'true', DeduplicationScope: 'messageGroup', FifoThroughputLimit: 'perMessageGroupId' } : {};
      const dlq = await createQueue(clients.sqs, localDeadLetterQueueName(logical, spec.fifo), {
        MessageRetentionPeriod: DLQ_RETENTION_SECONDS,
        ...(spec.fifo ? { FifoQueue: 'true' } : {}),
      });
      const name = localQueueName(logical, spec.fifo);
      const main = await createQueue(clients.sqs, name, {
        VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? spec.visibilityTimeoutSeconds),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: spec.maxReceiveCount }),
        ...fifo,
      });
      return { logical, name, url: main.url, arn: main.arn, deadLetterUrl: dlq.url, deadLetterArn: dlq.arn };
    }),
  );
  const queues = Object.fromEntries(queueList.map((q) => [q.logical, q]));

  for (const [logical, spec] of Object.entries(catalog.queues)) {
    const subscription = spec.subscription;
    if (!subscription) continue;
    const topic = topics[subscription.topic];
    const queue = queues[logical];
    if (!topic || !queue) throw new Error(`queue ${logical} subscribes to unknown topic ${subscription.topic}`);
    await clients.sns.send(
      new SubscribeCommand({
        TopicArn: topic.arn,
        Protocol: 'sqs',
        Endpoint: queue.arn,
        ReturnSubscriptionArn: true,
        Attributes: {
          RawMessageDelivery: 'true',
          ...(subscription.eventTypes ? { FilterPolicy: JSON.stringify({ type: [...subscription.eventTypes] }), FilterPolicyScope: 'MessageAttributes' } : {}),
        },
      }),
    );
  }

  return { tables, topics, queues };
}
