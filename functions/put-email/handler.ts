import { putEmail } from '../contract/consent';
import { normaliseEmail } from '../core/identifiers';
import { bindIdentifier } from '../services/identifiers';
import { clock } from '../shared/clock';
import { httpRoute, json } from '../shared/http';
import { badRequest } from '../shared/problems';
import { forwardGpcSignal } from '../shared/gpc-forward';

export const handler = httpRoute(
  'putEmail',
  putEmail,
  async ({ body, caller }) => {
    const email = normaliseEmail(body.email);
    if (!email) throw badRequest('email is not an email address.', [{ path: 'email', message: 'Not an email address' }]);
    await bindIdentifier(caller.sub, 'email', email, clock.now());
    return json(200, { email });
  },
  { privacySignal: forwardGpcSignal },
);
