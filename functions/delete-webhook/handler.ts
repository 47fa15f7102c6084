import { deleteWebhook } from '../contract/webhooks';
import { httpRoute } from '../shared/http';
import { deleteWebhook as remove } from '../tables/webhooks';

/** DELETE /v1/webhook: nothing more is sent; events still queued are dropped when their turn comes. */
export const handler = httpRoute('deleteWebhook', deleteWebhook, async ({ caller }) => {
  await remove(caller.sub);
  return { statusCode: 204 };
});
