import { putPhone } from '../contract/consent';
import { confirmVerification } from '../services/verification';
import { clock } from '../shared/clock';
import { forwardGpcSignal } from '../shared/gpc-forward';
import { httpRoute, json } from '../shared/http';
import { metrics } from '../shared/observability';

/**
 * PUT /v1/me/phone `{verificationId, code}`: binds the number the code was
 * sent to (services/verification.ts). A body with a number alone binds
 * nothing: it fails validation, naming the verification it needs.
 */
export const handler = httpRoute(
  'putPhone',
  putPhone,
  async ({ body, caller }) => {
    const phoneNumber = await confirmVerification(caller.sub, 'phoneNumber', body.verificationId, body.code, clock.now());
    metrics.addMetric('IdentifierVerified', 'Count', 1);
    return json(200, { phoneNumber });
  },
  { privacySignal: forwardGpcSignal },
);
