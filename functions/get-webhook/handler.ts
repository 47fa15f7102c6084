import { getWebhook } from '../contract/webhooks';
import { httpRoute, json } from '../shared/http';
import { notFound } from '../shared/problems';
import { webhookOf } from '../tables/webhooks';

/** GET /v1/webhook: the caller's endpoint and when it was registered, never the secret. */
export const handler = httpRoute('getWebhook', getWebhook, async ({ caller }) => {
  const webhook = await webhookOf(caller.sub);
  if (!webhook) throw notFound('No webhook is registered.');
  return json(200, { url: webhook.url, createdAt: webhook.createdAt });
});
