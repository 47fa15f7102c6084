import { sendMessage } from '../contract/messages';
import { normalisePhone } from '../core/identifiers';
import { acceptance, messageIdFactory, rateWindow, secondsToIso } from '../core/messages';
import { reachRecipient, recipientDailyLimited, storeMessage } from '../services/messages';
import { clock } from '../shared/clock';
import { intSetting } from '../shared/config';
import { httpRoute, json } from '../shared/http';
import { logger, metrics } from '../shared/observability';
import { badRequest, conflict, notFound, tooManyRequests } from '../shared/problems';
import { ownerOf } from '../tables/identities';
import { answerFor, takeSendSlot } from '../tables/message-status';
import type { AcceptedAnswer } from '../tables/message-status';
import { currentKey, isBlocked } from '../tables/recipients';

const SEND_RATE_PER_MINUTE = intSetting('messageSendRatePerBusiness');
const NEW_RECIPIENTS_PER_DAY = intSetting('messageNewRecipientsPerDay');
const PER_RECIPIENT_PER_DAY = intSetting('messagesPerRecipientPerDay');
const MAX_ATTEMPTS = 3;
const newMessageId = messageIdFactory();

const acceptedResponse = (answer: AcceptedAnswer, headers: Record<string, string> = {}) =>
  json(202, { messageId: answer.messageId, status: 'accepted', acceptedAt: answer.acceptedAt, expiresAt: secondsToIso(answer.messageExpiresAt) }, headers);

function replay(answer: AcceptedAnswer) {
  metrics.addMetric('MessageReplayed', 'Count', 1);
  logger.info('Message send replayed', { messageId: answer.messageId });
  return acceptedResponse(answer, { 'idempotent-replayed': 'true' });
}

/**
 * POST /v1/messages. Order matters: the body is valid; a clientMessageId used
 * before answers with its message (nothing charged, nothing new stored);
 * every other attempt takes a place in the business's per-minute rate, then
 * reaches the recipient: a new recipient counts toward the business's new
 * recipients per rolling 24 hours, and so does a number with no account or
 * no key (answered 404 after it is counted, so probing for who is registered
 * costs as much as reaching people). A keyId that is not the recipient's
 * current key answers 409. The message, its status and the count of the
 * business's messages to the recipient today are written together.
 *
 * A recipient who blocks the business gets nothing: the message is stored
 * withheld (without its ciphertext), answered and counted exactly as any
 * other, and expires at its expiresAt like a message to a recipient who stays
 * offline. The phone number and the ciphertext are never logged or echoed.
 */
export const handler = httpRoute('sendMessage', sendMessage, async ({ body, caller }) => {
  const to = normalisePhone(body.to);
  if (!to) {
    throw badRequest('to is not a valid phone number.', [{ path: 'to', message: 'Not a valid phone number in international format (+ and country code)' }]);
  }
  const businessId = caller.sub;
  const { clientMessageId } = body;
  if (clientMessageId) {
    const earlier = await answerFor(businessId, clientMessageId);
    if (earlier) return replay(earlier);
  }

  const window = rateWindow(clock.nowSeconds());
  if (!(await takeSendSlot(businessId, window.start, window.end, SEND_RATE_PER_MINUTE))) {
    metrics.addMetric('MessageRateLimited', 'Count', 1);
    throw tooManyRequests(window.retryAfter);
  }

  const recipientId = await ownerOf('phoneNumber', to);
  const [key, blocked] = recipientId ? await Promise.all([currentKey(recipientId), isBlocked(recipientId, businessId)]) : [undefined, false];
  try {
    await reachRecipient(businessId, key ? recipientId : undefined, clock.nowSeconds(), NEW_RECIPIENTS_PER_DAY);
  } catch (error) {
    metrics.addMetric('MessageNewRecipientLimited', 'Count', 1);
    throw error;
  }
  if (!recipientId || !key) {
    metrics.addMetric('MessageRecipientUnknown', 'Count', 1);
    throw notFound('The recipient is not registered.');
  }
  if (body.keyId !== key.keyId) {
    metrics.addMetric('MessageStaleKey', 'Count', 1);
    throw conflict('stale-key', "keyId is not the recipient's current key. Fetch the key again (GET /v1/recipients/{phoneNumber}/key) and seal again.");
  }

  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const now = clock.now();
    const messageId = newMessageId(now.getTime());
    const times = acceptance(now);
    const outcome = await storeMessage(
      {
        messageId,
        businessId,
        recipientId,
        category: body.category,
        ciphertext: body.ciphertext,
        keyId: body.keyId,
        clientMessageId,
        ...(blocked && { withheld: 'blocked' as const }),
      },
      times,
      PER_RECIPIENT_PER_DAY,
    );
    if (outcome.kind === 'stored') {
      metrics.addMetric('MessageAccepted', 'Count', 1);
      if (blocked) metrics.addMetric('MessageWithheld', 'Count', 1);
      logger.info('Message accepted', { messageId });
      return acceptedResponse({ messageId, acceptedAt: times.acceptedAt, messageExpiresAt: times.expiresAtSeconds });
    }
    if (outcome.kind === 'limited') {
      metrics.addMetric('MessageRecipientDailyLimited', 'Count', 1);
      throw recipientDailyLimited(outcome.retryAfter);
    }
    if (clientMessageId) {
      const earlier = await answerFor(businessId, clientMessageId);
      if (earlier) return replay(earlier);
    }
    // A concurrent transaction on the same items won and wrote nothing we can answer with: try again.
  }
  throw conflict('concurrent-send', 'Another send with the same clientMessageId was being stored at the same time; try again.');
});
