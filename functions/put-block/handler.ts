import { putBlock } from '../contract/messages';
import { clock } from '../shared/clock';
import { httpRoute } from '../shared/http';
import { logger, metrics } from '../shared/observability';
import { putBlock as storeBlock } from '../tables/recipients';
import { forwardGpcSignal } from '../shared/gpc-forward';

/**
 * PUT /v1/me/blocks/{businessId}: from now on the business's messages to the
 * caller are accepted and withheld, never delivered (see send-message). Any
 * id may be blocked, whether or not that business ever sent anything, so the
 * answer says nothing about which businesses exist.
 */
export const handler = httpRoute(
  'putBlock',
  putBlock,
  async ({ params, caller }) => {
    await storeBlock(caller.sub, { businessId: params.businessId, blockedAt: clock.now().toISOString() });
    metrics.addMetric('BusinessBlocked', 'Count', 1);
    logger.info('Business blocked');
    return { statusCode: 204 };
  },
  { privacySignal: forwardGpcSignal },
);
