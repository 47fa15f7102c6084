/**
 * What the stack does in the background after a request has been answered:
 * stream records and queue messages handed to their functions, which may
 * write more records and send more messages. `POST /_local/settle` waits
 * until all of it is done, so a script (the README's worked example, a test)
 * can read the outcome of an asynchronous step without guessing how long it
 * takes. On AWS the same steps take "a few seconds"; nothing deployed has
 * this route.
 *
 * Settled means: no function invoked by a poller is running, every queue a
 * poller reads is empty (nothing waiting, in flight or delayed), and both
 * have held for a quiet period longer than a stream poller's idle pause, so
 * a stream record written just before the call has been picked up.
 */
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { LocalFunction } from './functions';
import { sleep } from './log';

export interface SettleOptions {
  /** How long everything must stay idle (default 750 ms, several stream-poller pauses). */
  readonly quietMs?: number;
  /** Give up after this long (default 30 s): something keeps failing and retrying, or never stops. */
  readonly timeoutMs?: number;
  readonly pollMs?: number;
}

const COUNTS = ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'] as const;

export class BackgroundActivity {
  private running = 0;
  private lastChange = Date.now();
  private readonly queueUrls: string[] = [];

  constructor(private readonly sqs: SQSClient) {}

  /** The same function, with its invocations counted. Pollers get this one. */
  track(fn: LocalFunction): LocalFunction {
    return {
      ...fn,
      invoke: async (event) => {
        this.running += 1;
        this.lastChange = Date.now();
        try {
          return await fn.invoke(event);
        } finally {
          this.running -= 1;
          this.lastChange = Date.now();
        }
      },
    };
  }

  /** A queue some poller reads. */
  watchQueue(url: string): void {
    this.queueUrls.push(url);
  }

  private async queuesEmpty(): Promise<boolean> {
    const counts = await Promise.all(
      this.queueUrls.map(async (url) => {
        const { Attributes } = await this.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: [...COUNTS] }));
        return COUNTS.reduce((sum, name) => sum + Number(Attributes?.[name] ?? 0), 0);
      }),
    );
    return counts.every((n) => n === 0);
  }

  /** Resolves to true once settled, false after the timeout. */
  async settle(options: SettleOptions = {}): Promise<boolean> {
    const quietMs = options.quietMs ?? 750;
    const started = Date.now();
    const deadline = started + (options.timeoutMs ?? 30_000);
    for (;;) {
      const quietSince = Math.max(this.lastChange, started);
      if (this.running === 0 && Date.now() - quietSince >= quietMs && (await this.queuesEmpty()) && this.running === 0) return true;
      if (Date.now() >= deadline) return false;
      await sleep(options.pollMs ?? 100);
    }
  }
}
