import { putWebhook } from '../contract/webhooks';
import { registerWebhook } from '../services/webhooks';
import { clock } from '../shared/clock';
import { httpRoute, json } from '../shared/http';
import { metrics } from '../shared/observability';

/**
 * PUT /v1/webhook: the caller's endpoint and secret, replacing any earlier
 * ones. The URL is checked as a delivery will check it (https, a host that
 * resolves only to public addresses); the secret is stored encrypted and
 * never returned or logged.
 */
export const handler = httpRoute('putWebhook', putWebhook, async ({ body, caller }) => {
  const webhook = await registerWebhook(caller.sub, body.url, body.secret, clock.now());
  metrics.addMetric('WebhookRegistered', 'Count', 1);
  return json(200, { url: webhook.url, createdAt: webhook.createdAt });
});
