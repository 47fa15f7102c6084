import { getConsentHistory } from '../contract/consent';
import { httpRoute, json } from '../shared/http';
import { receiptsOf } from '../tables/ledger';

export const handler = httpRoute('getConsentHistory', getConsentHistory, async ({ caller }) => {
  return json(200, { items: await receiptsOf(caller.sub) });
});
