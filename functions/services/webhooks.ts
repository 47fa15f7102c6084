/**
 * Webhooks: registering an endpoint, announcing events, delivering them.
 *
 * Producers call `announceMessageStatus` / `announceAudienceCounted`
 * (services/webhook-events.ts, light enough for any function): if the
 * business has a webhook, the event goes on `webhookDeliveries` (nothing
 * else leaves the producer). `deliverWebhooks` POSTs it to the URL the
 * business registered, signed with its secret, and on any answer other than
 * 2xx (or none in time) sends it again for its next attempt; after the
 * 24-hour window it moves it to the queue's dead-letter queue itself.
 */
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { LOCAL_STAGE } from '../../catalog/environment';
import { Delivery, afterFailure, checkWebhookUrl, resolvesPublicly, signatureOf, takeUp, untilDue } from '../core/webhooks';
import type { WebhookTarget } from '../core/webhooks';
import { clock } from '../shared/clock';
import { deadLetterQueueUrl, intSetting, queueUrl } from '../shared/config';
import { decryptValue, encryptValue } from '../shared/keys';
import { logger, metrics } from '../shared/observability';
import { post, resolveAll } from '../shared/outbound';
import { badRequest } from '../shared/problems';
import { sqs } from '../shared/sqs';
import { putWebhook, webhookOf } from '../tables/webhooks';
import type { Webhook } from '../tables/webhooks';

/** Whether this is the local stack, whose webhooks may also be `http://127.0.0.1:<port>`. */
const isLocalStack = () => process.env.STAGE === LOCAL_STAGE;

const urlProblem = (message: string) => badRequest('The webhook URL is not allowed.', [{ path: 'url', message }]);

/**
 * Checks a URL as a delivery will: its form, then (a DNS name) every address
 * it resolves to now. Throws a 400 problem naming what is wrong, never
 * echoing the URL.
 */
export async function checkedTarget(url: string): Promise<WebhookTarget> {
  const checked = checkWebhookUrl(url, { local: isLocalStack() });
  if (!checked.ok) throw urlProblem(checked.reason);
  if (checked.target.kind !== 'https-name') return checked.target;
  let addresses: string[];
  try {
    addresses = await resolveAll(checked.target.hostname);
  } catch {
    throw urlProblem('Its host name does not resolve');
  }
  if (!resolvesPublicly(addresses)) throw urlProblem('Its host name resolves to a private, loopback or link-local address');
  return checked.target;
}

/** Registers (or replaces) a business's webhook: the URL after `checkedTarget`, the secret encrypted for this business alone. */
export async function registerWebhook(businessId: string, url: string, secret: string, now: Date): Promise<Webhook> {
  await checkedTarget(url);
  const webhook: Webhook = {
    businessId,
    url,
    encryptedSecret: await encryptValue('webhookSecrets', secret, { businessId }),
    createdAt: now.toISOString(),
  };
  await putWebhook(webhook);
  return webhook;
}

// ------------------------------------------------------------------ delivering

const SECRET_CACHE_MS = 5 * 60_000;
const secrets = new Map<string, { encrypted: string; secret: string; until: number }>();

async function secretOf(webhook: Webhook): Promise<string> {
  const cached = secrets.get(webhook.businessId);
  if (cached && cached.encrypted === webhook.encryptedSecret && cached.until > Date.now()) return cached.secret;
  const secret = await decryptValue('webhookSecrets', webhook.encryptedSecret, { businessId: webhook.businessId });
  secrets.set(webhook.businessId, { encrypted: webhook.encryptedSecret, secret, until: Date.now() + SECRET_CACHE_MS });
  return secret;
}

async function enqueue(delivery: Delivery, delaySeconds: number): Promise<void> {
  await sqs.send(
    new SendMessageCommand({ QueueUrl: queueUrl('webhookDeliveries'), MessageBody: JSON.stringify(delivery), DelaySeconds: Math.ceil(delaySeconds) }),
  );
}

export type DeliveryOutcome = 'delivered' | 'waiting' | 'retrying' | 'dead-lettered' | 'no-webhook';

/**
 * One queue message of `webhookDeliveries`. Every outcome leaves the message
 * to be deleted: the next attempt, or the next hop towards a due time more
 * than 15 minutes away, is a message of its own.
 */
export async function deliver(body: string): Promise<DeliveryOutcome> {
  const delivery = takeUp(Delivery.parse(JSON.parse(body)));
  const nowMs = clock.nowMs();
  const due = untilDue(delivery, nowMs);
  if (due.seconds > 0) {
    await enqueue(delivery, due.hopSeconds);
    return 'waiting';
  }
  // The registration now: a deleted webhook gets nothing more, a replaced one gets the event at its new URL.
  const webhook = await webhookOf(delivery.businessId);
  if (!webhook) return 'no-webhook';
  const payload = JSON.stringify(delivery.event);
  const checked = checkWebhookUrl(webhook.url, { local: isLocalStack() });
  const result = checked.ok
    ? await post(checked.target, payload, {
        'content-type': 'application/json',
        'user-agent': 'consent-audiences-webhooks/1',
        'x-signature-256': signatureOf(await secretOf(webhook), payload),
      })
    : ({ kind: 'failed', reason: 'forbidden-url' } as const);
  if (result.kind === 'answered' && result.status >= 200 && result.status < 300) {
    metrics.addMetric('WebhookDelivered', 'Count', 1);
    return 'delivered';
  }
  const outcome = result.kind === 'answered' ? `http-${result.status}` : result.reason;
  const next = afterFailure(delivery, clock.nowMs(), outcome, intSetting('webhookFirstRetrySeconds'));
  logger.info('Webhook delivery failed', { eventId: delivery.event.id, attempt: delivery.attempt, outcome, next: next.kind });
  if (next.kind === 'retry') {
    await enqueue(next.delivery, Math.min(next.waitSeconds, 900));
    metrics.addMetric('WebhookRetryScheduled', 'Count', 1);
    return 'retrying';
  }
  await sqs.send(new SendMessageCommand({ QueueUrl: deadLetterQueueUrl('webhookDeliveries'), MessageBody: JSON.stringify(next.delivery) }));
  metrics.addMetric('WebhookDeadLettered', 'Count', 1);
  return 'dead-lettered';
}
