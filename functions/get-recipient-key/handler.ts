import { getRecipientKey } from '../contract/messages';
import { normalisePhone } from '../core/identifiers';
import { reachRecipient } from '../services/messages';
import { clock } from '../shared/clock';
import { intSetting } from '../shared/config';
import { httpRoute, json } from '../shared/http';
import { logger, metrics } from '../shared/observability';
import { badRequest, notFound } from '../shared/problems';
import { ownerOf } from '../tables/identities';
import { currentKey } from '../tables/recipients';

const NEW_RECIPIENTS_PER_DAY = intSetting('messageNewRecipientsPerDay');

/**
 * The number as sent. HTTP APIs hand path parameters over decoded, REST APIs
 * (the LocalStack stage) may not: a number never holds a `%`, so one that
 * does is decoded once.
 */
function phoneParam(raw: string): string {
  if (!/%[0-9A-Fa-f]{2}/.test(raw)) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/**
 * GET /v1/recipients/{phoneNumber}/key: the current public key of the user
 * who holds the number, to seal a message to. Every lookup reaches the
 * recipient (services/messages.ts `reachRecipient`): a new recipient counts
 * toward the business's new recipients per rolling 24 hours, and a number
 * with no account or no key counts every time, before the 404, so the route
 * cannot be used to list who is registered faster than the limit allows. A
 * recipient who blocks the business is answered as any other. The number is
 * never logged or echoed.
 */
export const handler = httpRoute('getRecipientKey', getRecipientKey, async ({ params, caller }) => {
  const to = normalisePhone(phoneParam(params.phoneNumber));
  if (!to) throw badRequest('The phone number is not valid.', [{ path: 'phoneNumber', message: 'Not a valid phone number in E.164 (+ and country code)' }]);
  const recipientId = await ownerOf('phoneNumber', to);
  const key = recipientId ? await currentKey(recipientId) : undefined;
  await reachRecipient(caller.sub, key ? recipientId : undefined, clock.nowSeconds(), NEW_RECIPIENTS_PER_DAY);
  if (!key) {
    metrics.addMetric('RecipientKeyNotFound', 'Count', 1);
    throw notFound('No registered recipient with a key has this number.');
  }
  logger.info('Recipient key looked up', { keyId: key.keyId });
  return json(200, { keyId: key.keyId, publicKey: key.publicKey });
});
