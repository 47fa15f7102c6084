import { putPhone } from '../contract/consent';
import { normalisePhone } from '../core/identifiers';
import { bindIdentifier } from '../services/identifiers';
import { clock } from '../shared/clock';
import { httpRoute, json } from '../shared/http';
import { badRequest } from '../shared/problems';
import { forwardGpcSignal } from '../shared/gpc-forward';

export const handler = httpRoute(
  'putPhone',
  putPhone,
  async ({ body, caller }) => {
    const phoneNumber = normalisePhone(body.phoneNumber);
    if (!phoneNumber) {
      throw badRequest('phoneNumber is not a valid phone number.', [
        { path: 'phoneNumber', message: 'Not a valid phone number in international format (+ and country code)' },
      ]);
    }
    await bindIdentifier(caller.sub, 'phoneNumber', phoneNumber, clock.now());
    return json(200, { phoneNumber });
  },
  { privacySignal: forwardGpcSignal },
);
