import { deleteBlock } from '../contract/messages';
import { httpRoute } from '../shared/http';
import { logger } from '../shared/observability';
import { deleteBlock as removeBlock } from '../tables/recipients';
import { forwardGpcSignal } from '../shared/gpc-forward';

/** DELETE /v1/me/blocks/{businessId}: later messages of the business are delivered again; those it sent meanwhile stay withheld. */
export const handler = httpRoute(
  'deleteBlock',
  deleteBlock,
  async ({ params, caller }) => {
    await removeBlock(caller.sub, params.businessId);
    logger.info('Business unblocked');
    return { statusCode: 204 };
  },
  { privacySignal: forwardGpcSignal },
);
