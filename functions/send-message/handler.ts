import { sendMessage } from '../contract/messages';
import { normalisePhone } from '../core/identifiers';
import { acceptance, messageIdFactory, rateWindow, secondsToIso } from '../core/messages';
import { storeMessage } from '../services/messages';
import { clock } from '../shared/clock';
import { intSetting } from '../shared/config';
import { httpRoute, json } from '../shared/http';
import { logger, metrics } from '../shared/observability';
import { badRequest, conflict, notFound, tooManyRequests } from '../shared/problems';
import { ownerOf } from '../tables/identities';
import { answerFor, takeSendSlot } from '../tables/message-status';
import type { AcceptedAnswer } from '../tables/message-status';

const SEND_RATE_PER_MINUTE = intSetting('messageSendRatePerBusiness');
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
 * before answers with its message (no rate charge, nothing new stored); every
 * other attempt counts against the business's rate, including ones to
 * numbers that turn out unregistered, which slows down probing for who is
 * registered. The phone number and the ciphertext are never logged or echoed.
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
  if (!recipientId) {
    metrics.addMetric('MessageRecipientUnknown', 'Count', 1);
    throw notFound('The recipient is not registered.');
  }

  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const now = clock.now();
    const messageId = newMessageId(now.getTime());
    const times = acceptance(now);
    const outcome = await storeMessage({ messageId, businessId, recipientId, category: body.category, ciphertext: body.ciphertext, clientMessageId }, times);
    if (outcome.kind === 'stored') {
      metrics.addMetric('MessageAccepted', 'Count', 1);
      logger.info('Message accepted', { messageId });
      return acceptedResponse({ messageId, acceptedAt: times.acceptedAt, messageExpiresAt: times.expiresAtSeconds });
    }
    if (clientMessageId) {
      const earlier = await answerFor(businessId, clientMessageId);
      if (earlier) return replay(earlier);
    }
    // A concurrent transaction on the same items won and wrote nothing we can answer with: try again.
  }
  throw conflict('concurrent-send', 'Another send with the same clientMessageId was being stored at the same time; try again.');
});
