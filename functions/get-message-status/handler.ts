import { getMessageStatus } from '../contract/messages';
import { MESSAGE_ID, needsStoreCheck, secondsToIso, shownStatus } from '../core/messages';
import { clock } from '../shared/clock';
import { httpRoute, json } from '../shared/http';
import { notFound } from '../shared/problems';
import { statusOf } from '../tables/message-status';
import { isStored } from '../tables/messages';

/**
 * GET /v1/messages/{id}: the sender's view of one message. Another business's
 * message answers exactly as a missing one does. An accepted message past its
 * expiry that is still in the store is shown `expired` already (see
 * `shownStatus`), since it can no longer be delivered.
 */
export const handler = httpRoute('getMessageStatus', getMessageStatus, async ({ params, caller }) => {
  const record = MESSAGE_ID.test(params.id) ? await statusOf(params.id) : undefined;
  if (!record || record.businessId !== caller.sub) throw notFound('No such message.');
  const now = clock.nowSeconds();
  const stillStored = needsStoreCheck(record, now) ? await isStored(record.recipientId, record.messageId) : undefined;
  const shown = shownStatus(record, now, stillStored);
  return json(200, {
    messageId: record.messageId,
    status: shown.status,
    acceptedAt: shown.acceptedAt,
    expiresAt: secondsToIso(shown.messageExpiresAt),
    updatedAt: shown.updatedAt,
  });
});
