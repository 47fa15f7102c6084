import { startPhoneVerification } from '../contract/consent';
import { normalisePhone } from '../core/identifiers';
import { startVerification } from '../services/verification';
import { clock } from '../shared/clock';
import { httpRoute, json } from '../shared/http';
import { metrics } from '../shared/observability';
import { badRequest } from '../shared/problems';
import { verificationLimits } from '../shared/verification-limits';
import { forwardGpcSignal } from '../shared/gpc-forward';

const LIMITS = verificationLimits();

/**
 * POST /v1/me/phone/verification: a code goes to the number by SMS. The
 * answer is the same whether or not another account holds the number (the
 * route never looks). The number is never logged or echoed.
 */
export const handler = httpRoute(
  'startPhoneVerification',
  startPhoneVerification,
  async ({ body, caller }) => {
    const phoneNumber = normalisePhone(body.phoneNumber);
    if (!phoneNumber) {
      throw badRequest('phoneNumber is not a valid phone number.', [
        { path: 'phoneNumber', message: 'Not a valid phone number in international format (+ and country code)' },
      ]);
    }
    const started = await startVerification(caller.sub, 'phoneNumber', phoneNumber, clock.now(), LIMITS);
    metrics.addMetric('VerificationStarted', 'Count', 1);
    return json(202, started);
  },
  { privacySignal: forwardGpcSignal },
);
