import { listBlocks } from '../contract/messages';
import { httpRoute, json } from '../shared/http';
import { blocksOf } from '../tables/recipients';
import { forwardGpcSignal } from '../shared/gpc-forward';

/** GET /v1/me/blocks: the businesses the caller blocks. */
export const handler = httpRoute('listBlocks', listBlocks, async ({ caller }) => json(200, { items: await blocksOf(caller.sub) }), {
  privacySignal: forwardGpcSignal,
});
