import { startEmailVerification } from '../contract/consent';
import { normaliseEmail } from '../core/identifiers';
import { startVerification } from '../services/verification';
import { clock } from '../shared/clock';
import { httpRoute, json } from '../shared/http';
import { metrics } from '../shared/observability';
import { badRequest } from '../shared/problems';
import { verificationLimits } from '../shared/verification-limits';
import { forwardGpcSignal } from '../shared/gpc-forward';

const LIMITS = verificationLimits();

/**
 * POST /v1/me/email/verification: a code goes to the address by email. The
 * answer is the same whether or not another account holds the address (the
 * route never looks). The address is never logged or echoed.
 */
export const handler = httpRoute(
  'startEmailVerification',
  startEmailVerification,
  async ({ body, caller }) => {
    const email = normaliseEmail(body.email);
    if (!email) throw badRequest('email is not an email address.', [{ path: 'email', message: 'Not an email address' }]);
    const started = await startVerification(caller.sub, 'email', email, clock.now(), LIMITS);
    metrics.addMetric('VerificationStarted', 'Count', 1);
    return json(202, started);
  },
  { privacySignal: forwardGpcSignal },
);
