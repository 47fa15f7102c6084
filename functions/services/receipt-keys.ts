/**
 * The receipt key set (JWKS): the current signing key first, then the keys
 * that signed before it (the `retiredReceiptKeys` setting, public JWKs kept
 * in the stage's configuration when the key is rotated). Each retired key's
 * `kid` is recomputed from the key itself, so a typo cannot publish a key
 * under the wrong id.
 */
import { createPublicKey } from 'node:crypto';
import * as z from 'zod';
import { setting } from '../shared/config';
import { jwkOf, publicKeyOf, type PublicJwk } from '../shared/keys';

const RetiredKeys = z.array(z.looseObject({ kty: z.literal('EC'), crv: z.literal('P-256'), x: z.string().min(1), y: z.string().min(1) }));

let retired: Promise<PublicJwk[]> | undefined;
function retiredKeys(): Promise<PublicJwk[]> {
  retired ??= (async () => {
    const parsed = RetiredKeys.safeParse(JSON.parse(setting('retiredReceiptKeys') || '[]'));
    if (!parsed.success) throw new Error('The retiredReceiptKeys setting is not a JSON array of P-256 public JWKs');
    return Promise.all(parsed.data.map(({ x, y }) => jwkOf(createPublicKey({ key: { kty: 'EC', crv: 'P-256', x, y }, format: 'jwk' }))));
  })();
  return retired;
}

/** Every key that signs or signed receipts, the current one first, each once. */
export async function receiptKeySet(): Promise<{ keys: PublicJwk[] }> {
  const [current, past] = await Promise.all([publicKeyOf('receiptSigning'), retiredKeys()]);
  const keys = [current, ...past.filter((k) => k.kid !== current.kid)];
  return { keys: keys.filter((k, i) => keys.findIndex((o) => o.kid === k.kid) === i) };
}
