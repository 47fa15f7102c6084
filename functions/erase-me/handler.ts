import { eraseMe } from '../contract/rights';
import { eraseAccount } from '../services/erasure';
import { clock } from '../shared/clock';
import { httpRoute, json } from '../shared/http';
import { logger, metrics } from '../shared/observability';
import { forwardGpcSignal } from '../shared/gpc-forward';

/**
 * DELETE /v1/me: the phone number and email are gone at once (no upload can
 * match them from now on: their claims and the user's fields are removed in
 * one transaction); leaving every audience, the match index and the pending
 * messages follows through the account-events fan-out, hence 202.
 */
export const handler = httpRoute(
  'eraseMe',
  eraseMe,
  async ({ caller }) => {
    const now = clock.now();
    await eraseAccount(caller.sub, now);
    metrics.addMetric('AccountErased', 'Count', 1);
    logger.info('Account erased');
    return json(202, { status: 'erasing', requestedAt: now.toISOString() });
  },
  { privacySignal: forwardGpcSignal },
);
