import { MAX_LIST_LIMIT, listMessages } from '../contract/messages';
import { MESSAGE_ID } from '../core/messages';
import { clock } from '../shared/clock';
import { httpRoute, json } from '../shared/http';
import { logger } from '../shared/observability';
import { badRequest } from '../shared/problems';
import { pendingMessages } from '../tables/messages';
import { forwardGpcSignal } from '../shared/gpc-forward';

/**
 * Ciphertext characters in one answer at most: with 100 messages' metadata it
 * stays well below Lambda's 6 MB response limit. A single message always fits.
 */
export const MAX_ANSWER_CIPHERTEXT_CHARS = 4_000_000;

/**
 * GET /v1/me/messages: the caller's undelivered, unexpired messages, oldest
 * first. When more are waiting than one answer holds (100 messages or about
 * 4 MB of ciphertext), the answer carries `nextToken`; acknowledging what
 * was received and listing again reaches the rest just as well.
 */
export const handler = httpRoute(
  'listMessages',
  listMessages,
  async ({ query, caller }) => {
    if (query.nextToken !== undefined && !MESSAGE_ID.test(query.nextToken)) {
      throw badRequest('The query string is not valid.', [{ path: 'nextToken', message: 'Must be a nextToken from an earlier answer' }]);
    }
    const page = await pendingMessages(caller.sub, clock.nowSeconds(), {
      limit: query.limit ?? MAX_LIST_LIMIT,
      maxChars: MAX_ANSWER_CIPHERTEXT_CHARS,
      afterMessageId: query.nextToken,
    });
    logger.info('Messages listed', { count: page.items.length, more: page.lastMessageId !== undefined });
    return json(200, { items: page.items, ...(page.lastMessageId ? { nextToken: page.lastMessageId } : {}) });
  },
  { privacySignal: forwardGpcSignal },
);
