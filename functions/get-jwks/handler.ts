import { getJwks } from '../contract/consent';
import { receiptKeySet } from '../services/receipt-keys';
import { httpRoute, json } from '../shared/http';

/**
 * GET /.well-known/jwks.json (no token): the public keys that sign consent
 * receipts, the current one and every earlier one, so any receipt ever
 * issued verifies. Deployed, the current key's public half comes from KMS
 * (GetPublicKey, once per execution environment).
 */
export const handler = httpRoute('getJwks', getJwks, async () => {
  return json(200, await receiptKeySet(), { 'cache-control': 'public, max-age=300' });
});
