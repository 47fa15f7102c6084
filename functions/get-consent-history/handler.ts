import { getConsentHistory } from '../contract/consent';
import { httpRoute, json } from '../shared/http';
import { receiptsOf } from '../tables/ledger';
import { forwardGpcSignal } from '../shared/gpc-forward';

export const handler = httpRoute(
  'getConsentHistory',
  getConsentHistory,
  async ({ caller }) => {
    return json(200, { items: await receiptsOf(caller.sub) });
  },
  { privacySignal: forwardGpcSignal },
);
