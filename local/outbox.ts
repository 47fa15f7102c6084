/**
 * The local stack's outbox: what the verification sender would have sent by
 * SMS or email, kept in memory (the newest 10,000) and served newest first
 * by `GET /_local/outbox?to=` (CONTRACT.md, "Local stack only"). The stack
 * installs it as the sender's transport (functions/shared/delivery.ts), so
 * no SMS or email leaves a developer's machine. It never writes a number,
 * address or code to the stack's log.
 */
import type { Delivery } from '../functions/shared/delivery';

export interface OutboxEntry {
  readonly channel: 'sms' | 'email';
  readonly to: string;
  readonly text: string;
  readonly code: string;
  readonly sentAt: string;
}

export const OUTBOX_CAPACITY = 10_000;

export class LocalOutbox {
  private readonly entries: OutboxEntry[] = [];

  constructor(private readonly now: () => Date) {}

  /** The transport the sender uses in the local stack. */
  readonly transport = async (delivery: Delivery): Promise<void> => {
    this.entries.push({ channel: delivery.channel, to: delivery.to, text: delivery.text, code: delivery.code, sentAt: this.now().toISOString() });
    if (this.entries.length > OUTBOX_CAPACITY) this.entries.splice(0, this.entries.length - OUTBOX_CAPACITY);
  };

  /** What was sent to `to` (exactly as the sender addressed it: E.164 or the normalised address), newest first. */
  sentTo(to: string): OutboxEntry[] {
    const found: OutboxEntry[] = [];
    for (let i = this.entries.length - 1; i >= 0; i--) if (this.entries[i]!.to === to) found.push(this.entries[i]!);
    return found;
  }
}
