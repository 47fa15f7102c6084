/**
 * Announcing webhook events, the producers' half of webhooks
 * (services/webhooks.ts delivers): if the business has a webhook, the event
 * goes on `webhookDeliveries`, and nothing else leaves the producer. Kept
 * apart from delivery so that a producer's bundle carries no outbound HTTP
 * or key code.
 */
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { eventId, untilDue } from '../core/webhooks';
import type { Delivery, WebhookEvent } from '../core/webhooks';
import { clock } from '../shared/clock';
import { queueUrl } from '../shared/config';
import { metrics } from '../shared/observability';
import { sqs } from '../shared/sqs';
import { hasWebhook } from '../tables/webhooks';

async function announce(businessId: string, event: WebhookEvent, options: { notBefore?: Date } = {}): Promise<boolean> {
  if (!(await hasWebhook(businessId))) return false;
  const delivery: Delivery = { businessId, event, attempt: 1, ...(options.notBefore ? { dueAt: options.notBefore.toISOString() } : {}) };
  const { hopSeconds } = untilDue(delivery, clock.nowMs());
  await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl('webhookDeliveries'), MessageBody: JSON.stringify(delivery), DelaySeconds: hopSeconds }));
  metrics.addMetric('WebhookEventQueued', 'Count', 1);
  return true;
}

/**
 * `message.status`: one of the business's messages became `delivered` or
 * `expired` at `at`. Reported where the status the business reads changes,
 * and only then, so the event tells nothing `GET /v1/messages/{id}` does not.
 * The event id is the same for the same change reported twice.
 */
export function announceMessageStatus(businessId: string, messageId: string, status: 'delivered' | 'expired', at: string, options: { notBefore?: Date } = {}) {
  return announce(
    businessId,
    { id: eventId('message.status', messageId, status), type: 'message.status', createdAt: clock.now().toISOString(), data: { messageId, status, at } },
    options,
  );
}

/**
 * `audience.counted`: a fresh size release of the business's audience was
 * made at `countedAt`. Call it where a release is recorded, and nowhere
 * else: the event must follow the releases the business may see (which the
 * release budget rations), never a membership change itself, so that no
 * event stands for a withdrawal or an erasure.
 */
export function announceAudienceCounted(businessId: string, audienceId: string, countedAt: string) {
  return announce(businessId, {
    id: eventId('audience.counted', audienceId, countedAt),
    type: 'audience.counted',
    createdAt: clock.now().toISOString(),
    data: { audienceId, countedAt },
  });
}
