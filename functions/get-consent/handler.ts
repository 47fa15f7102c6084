import { getConsent } from '../contract/consent';
import { consentView } from '../core/consent';
import { httpRoute, json } from '../shared/http';
import { getAccountState } from '../tables/consent-states';
import { currentPolicy } from '../tables/policies';
import { forwardGpcSignal } from '../shared/gpc-forward';

export const handler = httpRoute(
  'getConsent',
  getConsent,
  async ({ caller }) => {
    const [account, policy] = await Promise.all([getAccountState(caller.sub), currentPolicy('show')]);
    return json(200, consentView(account.consent, policy));
  },
  { privacySignal: forwardGpcSignal },
);
