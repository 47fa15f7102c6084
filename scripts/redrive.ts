/**
 * `npm run redrive -- <queue>`: moves every message of a catalog queue's
 * dead-letter queue back to the queue, once whatever made it fail is fixed.
 *
 *   npm run redrive -- matchIndexEvents                       # the local stack at http://127.0.0.1:3000
 *   npm run redrive -- matchIndexEvents --url http://127.0.0.1:4000
 *   npm run redrive -- matchIndexEvents --aws --stack ConsentAudiences-prod
 *   npm run redrive -- matchIndexEvents --aws --queue-url https://sqs... [--dlq-url https://sqs...]
 *
 * Each message is received from the dead-letter queue, sent to the queue with
 * the same body and message attributes, and only then deleted from the
 * dead-letter queue (a crash in between leaves a duplicate, which every
 * consumer tolerates, never a loss). Bounded: at most `--max` messages and
 * `--timeout` seconds; it stops when the dead-letter queue answers empty.
 * Prints what it moved (`--json` for a JSON line).
 *
 * Local stack: the SQS endpoint comes from `GET /_local/health`, the queue
 * names from local/names.ts. AWS (`--aws`, credentials and region from the
 * usual AWS environment): `--queue-url` names the queue (its dead-letter queue
 * is read from its redrive policy unless `--dlq-url` is given); without it the
 * queue is found by the CloudFormation name prefix `<stack>-<Queue>Queue`.
 *
 * The on-failure queues of stream triggers (`ledgerStreamFailures`,
 * `messageStreamFailures`) hold Lambda's on-failure records, pointers to a
 * range of stream records; their replayers read the records back from the
 * stream (kept 24 hours), so redriving their dead-letter queues replays them.
 */
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueuesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
  type Message,
  type MessageAttributeValue,
} from '@aws-sdk/client-sqs';
import { Command, InvalidArgumentError } from 'commander';
import { catalog } from '../catalog';
import type { CatalogShape, QueueName } from '../catalog';
import { LOCAL_CREDENTIALS, LOCAL_REGION, localDeadLetterQueueName, localQueueName } from '../local/names';

export interface RedriveOptions {
  readonly url: string;
  readonly aws: boolean;
  readonly stack: string;
  readonly queueUrl?: string;
  readonly dlqUrl?: string;
  readonly region?: string;
  readonly max: number;
  readonly timeout: number;
  readonly json: boolean;
}

export interface RedriveResult {
  readonly queue: string;
  readonly from: string;
  readonly to: string;
  readonly received: number;
  readonly moved: number;
  readonly failed: number;
  /** Why it stopped: the dead-letter queue was empty, or a bound was reached. */
  readonly stoppedBecause: 'empty' | 'max' | 'timeout';
}

const pascal = (name: string) => name.charAt(0).toUpperCase() + name.slice(1);

const positiveInt = (what: string, max: number) => (raw: string) => {
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1 || value > max) throw new InvalidArgumentError(`${what} must be a whole number from 1 to ${max}.`);
  return value;
};

async function localQueues(queue: QueueName, baseUrl: string): Promise<{ sqs: SQSClient; from: string; to: string }> {
  let health: Response;
  try {
    health = await fetch(`${baseUrl.replace(/\/$/, '')}/_local/health`);
  } catch {
    throw new Error(`No local stack answers at ${baseUrl} (start one with \`npm start\`, or pass --url).`);
  }
  if (!health.ok) throw new Error(`GET ${baseUrl}/_local/health answered ${health.status}.`);
  const { endpoints } = (await health.json()) as { endpoints?: { sqs?: string } };
  if (!endpoints?.sqs) throw new Error(`${baseUrl}/_local/health names no SQS endpoint.`);
  const sqs = new SQSClient({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, endpoint: endpoints.sqs });
  const urlOf = async (name: string) => {
    const out = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
    if (!out.QueueUrl) throw new Error(`The local stack has no queue ${name}.`);
    return out.QueueUrl;
  };
  const specs: CatalogShape['queues'] = catalog.queues;
  const fifo = specs[queue]?.fifo;
  return { sqs, from: await urlOf(localDeadLetterQueueName(queue, fifo)), to: await urlOf(localQueueName(queue, fifo)) };
}

/** The dead-letter queue named by a queue's redrive policy. */
async function deadLetterOf(sqs: SQSClient, queueUrl: string): Promise<string> {
  const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['RedrivePolicy'] }));
  const policy = out.Attributes?.RedrivePolicy;
  if (!policy) throw new Error(`${queueUrl} has no redrive policy, so no dead-letter queue.`);
  const arn = (JSON.parse(policy) as { deadLetterTargetArn?: string }).deadLetterTargetArn ?? '';
  const [, , , , account, name] = arn.split(':');
  if (!account || !name) throw new Error(`${queueUrl} has a redrive policy without a dead-letter queue ARN.`);
  const url = await sqs.send(new GetQueueUrlCommand({ QueueName: name, QueueOwnerAWSAccountId: account }));
  if (!url.QueueUrl) throw new Error(`No URL for the dead-letter queue ${name}.`);
  return url.QueueUrl;
}

async function awsQueues(queue: QueueName, options: RedriveOptions): Promise<{ sqs: SQSClient; from: string; to: string }> {
  const sqs = new SQSClient({ ...(options.region ? { region: options.region } : {}), maxAttempts: 6 });
  let to = options.queueUrl;
  if (!to) {
    // CloudFormation names the queue `<stack>-<LogicalId>-<suffix>`; the dead-letter queue's logical id extends it (`...QueueDlq...`).
    const prefix = `${options.stack}-${pascal(queue)}Queue`;
    const listed = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: prefix.slice(0, 80), MaxResults: 100 }));
    const candidates: string[] = [];
    for (const url of listed.QueueUrls ?? []) {
      const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['RedrivePolicy'] }));
      if (attrs.Attributes?.RedrivePolicy) candidates.push(url);
    }
    if (candidates.length !== 1) {
      throw new Error(`Found ${candidates.length} queues named ${prefix}* with a dead-letter queue in stack ${options.stack}; pass --queue-url.`);
    }
    to = candidates[0]!;
  }
  return { sqs, from: options.dlqUrl ?? (await deadLetterOf(sqs, to)), to };
}

/** Message attributes as SendMessage takes them (the receive side may add empty list fields). */
function attributesOf(message: Message): Record<string, MessageAttributeValue> | undefined {
  const attrs = message.MessageAttributes;
  if (!attrs || Object.keys(attrs).length === 0) return undefined;
  const copy: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of Object.entries(attrs)) {
    copy[name] = {
      DataType: value.DataType,
      ...(value.StringValue !== undefined ? { StringValue: value.StringValue } : {}),
      ...(value.BinaryValue !== undefined ? { BinaryValue: value.BinaryValue } : {}),
    };
  }
  return copy;
}

/**
 * What a FIFO queue needs to take a message back: its group, and a
 * deduplication id from the dead-letter message's id, so a message moved but
 * not deleted (and so moved again within SQS's five minutes) arrives once.
 */
function fifoFieldsOf(message: Message): { MessageGroupId?: string; MessageDeduplicationId?: string } {
  const group = message.Attributes?.MessageGroupId;
  return group ? { MessageGroupId: group, MessageDeduplicationId: message.MessageId! } : {};
}

export async function redrive(queue: string, options: RedriveOptions): Promise<RedriveResult> {
  if (!Object.hasOwn(catalog.queues, queue)) {
    throw new Error(`Unknown queue "${queue}". Catalog queues: ${Object.keys(catalog.queues).join(', ')}.`);
  }
  const name = queue as QueueName;
  const { sqs, from, to } = options.aws ? await awsQueues(name, options) : await localQueues(name, options.url);
  const deadline = Date.now() + options.timeout * 1000;
  let received = 0;
  let moved = 0;
  let failed = 0;
  let stoppedBecause: RedriveResult['stoppedBecause'] = 'empty';
  try {
    for (;;) {
      if (received >= options.max) {
        stoppedBecause = 'max';
        break;
      }
      if (Date.now() >= deadline) {
        stoppedBecause = 'timeout';
        break;
      }
      const out = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: from,
          MaxNumberOfMessages: Math.min(10, options.max - received),
          // Long enough to send and delete; a message we fail on comes back after it.
          VisibilityTimeout: 30,
          WaitTimeSeconds: 1,
          MessageAttributeNames: ['All'],
          // A FIFO queue's messages keep their group; see `fifoFieldsOf`.
          MessageSystemAttributeNames: ['MessageGroupId'],
        }),
      );
      const messages = out.Messages ?? [];
      if (messages.length === 0) break;
      received += messages.length;
      const sent = await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: to,
          Entries: messages.map((m, i) => {
            const attributes = attributesOf(m);
            return { Id: String(i), MessageBody: m.Body ?? '', ...(attributes ? { MessageAttributes: attributes } : {}), ...fifoFieldsOf(m) };
          }),
        }),
      );
      const ok = new Set((sent.Successful ?? []).map((s) => Number(s.Id)));
      failed += messages.length - ok.size;
      const done = messages.filter((_, i) => ok.has(i));
      if (done.length > 0) {
        const deleted = await sqs.send(
          new DeleteMessageBatchCommand({ QueueUrl: from, Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }),
        );
        // A message sent but not deleted comes back to the dead-letter queue and is moved again: a duplicate, not a loss.
        moved += done.length - (deleted.Failed?.length ?? 0);
        failed += deleted.Failed?.length ?? 0;
      }
    }
  } finally {
    sqs.destroy();
  }
  return { queue, from, to, received, moved, failed, stoppedBecause };
}

async function main(argv: readonly string[]): Promise<number> {
  const program = new Command('redrive')
    .description("Move the messages of a catalog queue's dead-letter queue back to the queue.")
    .argument('<queue>', `catalog queue name (${Object.keys(catalog.queues).join(', ')})`)
    .option('--url <url>', 'local stack base URL', process.env.LOCAL_STACK_URL ?? 'http://127.0.0.1:3000')
    .option('--aws', 'redrive on AWS instead of the local stack', false)
    .option('--stack <name>', 'CloudFormation stack name (with --aws)', 'ConsentAudiences-dev')
    .option('--queue-url <url>', "the queue's URL (with --aws)")
    .option('--dlq-url <url>', "the dead-letter queue's URL (with --aws; default: from the queue's redrive policy)")
    .option('--region <region>', 'AWS region (with --aws; default: from the environment)')
    .option('--max <n>', 'move at most this many messages', positiveInt('--max', 1_000_000), 10_000)
    .option('--timeout <seconds>', 'stop after this many seconds', positiveInt('--timeout', 86_400), 300)
    .option('--json', 'print the result as one JSON line', false)
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  try {
    program.parse(argv, { from: 'user' });
  } catch (error) {
    return (error as { exitCode?: number }).exitCode ?? 2;
  }
  const [queue] = program.args as [string];
  const options = program.opts<RedriveOptions>();
  try {
    const result = await redrive(queue, options);
    if (options.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else {
      process.stdout.write(
        `redrive ${result.queue}: moved ${result.moved} of ${result.received} message(s) from ${result.from} to ${result.to}` +
          `${result.failed > 0 ? `, ${result.failed} failed (still in the dead-letter queue)` : ''}` +
          `${result.stoppedBecause === 'empty' ? '' : `; stopped at the ${result.stoppedBecause === 'max' ? '--max' : '--timeout'} bound`}\n`,
      );
    }
    return result.failed > 0 ? 1 : 0;
  } catch (error) {
    process.stderr.write(`redrive: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`redrive: ${String(error)}\n`);
      process.exit(1);
    },
  );
}
