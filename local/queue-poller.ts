/**
 * What Lambda's SQS event source mapping does for one function: long-poll
 * the queue, hand the function batches of real SQS records, delete what
 * succeeded, and leave the rest to come back after their visibility timeout
 * (and, after the queue's maxReceiveCount, to move to its dead-letter queue).
 */
import { setMaxListeners } from 'node:events';
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
  /** Batches in flight at once for this function (the trigger's maxConcurrency; default 2). */
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
  private readonly deletes = new Set<Promise<void>>();
  /** Batches handled (invoked), for tests and the health route. */
  batches = 0;

  private held = false;

  constructor(private readonly options: QueuePollerOptions) {}

  get running(): boolean {
    return this.loops.length > 0 && !this.abort.signal.aborted;
  }

  /**
   * Stops taking messages until `release()`: a batch in hand finishes, new
   * ones wait in the queue. For benchmarks that measure the API without its
   * consumers competing for the machine.
   */
  hold(): void {
    this.held = true;
  }

  release(): void {
    this.held = false;
  }

  start(): void {
    if (this.loops.length > 0) return;
    const concurrency = this.options.concurrency ?? 2;
    // Every receive in flight listens on the poller's one abort signal twice (the SDK's retry and its HTTP
    // handler, each removing its listener when the call ends), and each loop's pause once: a known bound
    // above Node's default warning threshold of 10 for a poller with several loops or large batches.
    const receivesPerLoop = Math.ceil(this.options.batchSize / MAX_RECEIVE);
    setMaxListeners(Math.max(10, concurrency * (2 * receivesPerLoop + 1)), this.abort.signal);
    this.loops = Array.from({ length: concurrency }, () => this.loop());
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all(this.loops);
    await Promise.all(this.deletes);
  }

  private async loop(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      if (this.held) {
        await sleep(50, signal);
        continue;
      }
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

  private async receive(signal: AbortSignal, count: number, waitSeconds: number): Promise<Message[]> {
    const received = await this.options.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.options.queueUrl,
        MaxNumberOfMessages: count,
        WaitTimeSeconds: waitSeconds,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
      { abortSignal: signal },
    );
    return received.Messages ?? [];
  }

  /**
   * One batch: a long poll for the first messages, then, up to the batch
   * size and within the batching window (Lambda's maxBatchingWindow), what
   * is waiting now (several receives of 10 at once, as Lambda's pollers
   * do), or, when nothing is, a long poll for the rest of the window.
   */
  private async receiveBatch(signal: AbortSignal): Promise<Message[]> {
    const { batchSize } = this.options;
    const windowMs = (this.options.maxBatchingWindowSeconds ?? 0) * 1000;
    const wait = this.options.waitTimeSeconds ?? 1;
    const messages = await this.receive(signal, Math.min(MAX_RECEIVE, batchSize), wait);
    if (messages.length === 0 || windowMs === 0) return messages;
    const started = Date.now();
    while (messages.length < batchSize && !signal.aborted) {
      const wanted = batchSize - messages.length;
      const receives = Array.from({ length: Math.ceil(wanted / MAX_RECEIVE) }, (_, i) => Math.min(MAX_RECEIVE, wanted - i * MAX_RECEIVE));
      const waitingNow = (await Promise.all(receives.map((n) => this.receive(signal, n, 0)))).flat();
      messages.push(...waitingNow);
      if (waitingNow.length > 0) continue;
      const remainingMs = windowMs - (Date.now() - started);
      if (remainingMs <= 0 || signal.aborted) break;
      messages.push(...(await this.receive(signal, Math.min(MAX_RECEIVE, wanted), Math.min(wait, Math.ceil(remainingMs / 1000)))));
    }
    return messages;
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
    // Deleted in the background, as Lambda's pollers do: the next batch need not wait for it (stop() does).
    const deleting = this.delete(done).catch((error: unknown) => {
      this.options.log.warn(`queue poller of ${fn.functionName}: could not delete messages (${describeError(error)})`);
    });
    this.deletes.add(deleting);
    void deleting.finally(() => this.deletes.delete(deleting));
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
