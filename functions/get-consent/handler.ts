import { getAccount } from '../adapters/accounts';
import { currentPolicy } from '../adapters/policies';
import { getConsent } from '../contract/consent';
import { consentView } from '../core/consent';
import { httpRoute, json } from '../shared/http';

export const handler = httpRoute('getConsent', getConsent, async ({ caller }) => {
  const [account, policy] = await Promise.all([getAccount(caller.sub), currentPolicy()]);
  return json(200, consentView(account.consent, policy));
});
