import { ackMessages } from '../contract/messages';
import { MESSAGE_ID } from '../core/messages';
import { clock } from '../shared/clock';
import { httpRoute, json } from '../shared/http';
import { logger, metrics } from '../shared/observability';
import { deleteDelivered } from '../tables/messages';
import { forwardGpcSignal } from '../shared/gpc-forward';

/** Deletes in flight at once. */
const CONCURRENCY = 10;

/**
 * POST /v1/me/messages/ack: deletes the listed messages of the caller that
 * are still stored and unexpired; their removal from the store is what makes
 * their status `delivered` (see track-message-status). Keys are always the
 * caller's, so another recipient's message cannot be touched; unknown,
 * foreign, expired and repeated ids are ignored and not counted.
 */
export const handler = httpRoute(
  'ackMessages',
  ackMessages,
  async ({ body, caller }) => {
    const ids = [...new Set(body.messageIds)].filter((id) => MESSAGE_ID.test(id));
    const now = clock.nowSeconds();
    let acknowledged = 0;
    for (let i = 0; i < ids.length; i += CONCURRENCY) {
      const deleted = await Promise.all(ids.slice(i, i + CONCURRENCY).map((id) => deleteDelivered(caller.sub, id, now)));
      acknowledged += deleted.filter(Boolean).length;
    }
    if (acknowledged > 0) metrics.addMetric('MessagesAcknowledged', 'Count', acknowledged);
    logger.info('Messages acknowledged', { requested: body.messageIds.length, acknowledged });
    return json(200, { acknowledged });
  },
  { privacySignal: forwardGpcSignal },
);
