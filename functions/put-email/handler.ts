import { putEmail } from '../contract/consent';
import { confirmVerification } from '../services/verification';
import { clock } from '../shared/clock';
import { forwardGpcSignal } from '../shared/gpc-forward';
import { httpRoute, json } from '../shared/http';
import { metrics } from '../shared/observability';

/**
 * PUT /v1/me/email `{verificationId, code}`: binds the address the code was
 * sent to (services/verification.ts). A body with an address alone binds
 * nothing: it fails validation, naming the verification it needs.
 */
export const handler = httpRoute(
  'putEmail',
  putEmail,
  async ({ body, caller }) => {
    const email = await confirmVerification(caller.sub, 'email', body.verificationId, body.code, clock.now());
    metrics.addMetric('IdentifierVerified', 'Count', 1);
    return json(200, { email });
  },
  { privacySignal: forwardGpcSignal },
);
