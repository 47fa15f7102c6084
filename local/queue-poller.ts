/**
 * What Lambda's SQS event source mapping does for one function: long-poll
 * the queue, hand the function batches of real SQS records, delete what
 * succeeded, and leave the rest to come back after their visibility timeout
 * (and, after the queue's maxReceiveCount, to move to its dead-letter queue).
 */
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { batchItemFailures, toSqsRecord } from './events';
import type { LocalFunction } from './functions';
import { describeError, sleep, type StackLog } from './log';

export interface QueuePollerOptions {
  readonly fn: LocalFunction;
  /** A client with an explicit endpoint. */
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly region: string;
  readonly batchSize: number;
  readonly maxBatchingWindowSeconds?: number;
  /** Batches in flight at once for this function. */
  readonly concurrency?: number;
  /** Long-poll wait of each receive; short, so that stopping is quick. */
  readonly waitTimeSeconds?: number;
  readonly log: StackLog;
}

/** SQS hands out at most 10 messages a receive. */
const MAX_RECEIVE = 10;

export class QueuePoller {
  private readonly abort = new AbortController();
  private loops: Promise<void>[] = [];
  /** Batches handled (invoked), for tests and the health route. */
  batches = 0;

  constructor(private readonly options: QueuePollerOptions) {}

  get running(): boolean {
    return this.loops.length > 0 && !this.abort.signal.aborted;
  }

  start(): void {
    if (this.loops.length > 0) return;
    const concurrency = this.options.concurrency ?? 2;
    this.loops = Array.from({ length: concurrency }, () => this.loop());
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all(this.loops);
  }

  private async loop(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      try {
        const messages = await this.receiveBatch(signal);
        if (messages.length === 0 || signal.aborted) continue;
        await this.handle(messages);
      } catch (error) {
        if (signal.aborted) break;
        this.options.log.warn(`queue poller of ${this.options.fn.functionName}: ${describeError(error)}`);
        await sleep(1_000, signal);
      }
    }
  }

  private async receiveBatch(signal: AbortSignal): Promise<Message[]> {
    const { sqs, queueUrl, batchSize } = this.options;
    const windowMs = (this.options.maxBatchingWindowSeconds ?? 0) * 1000;
    const wait = this.options.waitTimeSeconds ?? 1;
    const started = Date.now();
    const messages: Message[] = [];
    for (;;) {
      const remainingWindow = windowMs - (Date.now() - started);
      const received = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: Math.min(MAX_RECEIVE, batchSize - messages.length),
          WaitTimeSeconds: messages.length === 0 ? wait : Math.max(0, Math.min(wait, Math.ceil(remainingWindow / 1000))),
          MessageSystemAttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
        { abortSignal: signal },
      );
      messages.push(...(received.Messages ?? []));
      const full = messages.length >= batchSize;
      const windowOver = Date.now() - started >= windowMs;
      if (messages.length === 0 || full || windowOver || signal.aborted) return messages;
    }
  }

  private async handle(messages: Message[]): Promise<void> {
    const { fn, queueArn, region } = this.options;
    const records = messages.map((m) => toSqsRecord(m, queueArn, region));
    const event: SQSEvent = { Records: records };
    const outcome = await fn.invoke(event);
    this.batches += 1;
    let done: SQSRecord[];
    if (!outcome.ok) {
      done = []; // a function error leaves the whole batch to come back
    } else {
      const failed = batchItemFailures(
        outcome.result,
        records.map((r) => r.messageId),
      );
      done = failed === 'all' ? [] : records.filter((r) => !failed.has(r.messageId));
    }
    await this.delete(done);
  }

  private async delete(records: SQSRecord[]): Promise<void> {
    for (let i = 0; i < records.length; i += MAX_RECEIVE) {
      const chunk = records.slice(i, i + MAX_RECEIVE);
      const result = await this.options.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.options.queueUrl,
          Entries: chunk.map((r, n) => ({ Id: String(n), ReceiptHandle: r.receiptHandle })),
        }),
      );
      for (const failure of result.Failed ?? []) {
        this.options.log.warn(`queue poller of ${this.options.fn.functionName}: could not delete a message (${failure.Code ?? 'unknown'})`);
      }
    }
  }
}
