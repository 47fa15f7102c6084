/**
 * Consent receipts as a signed hash chain: pure rules, no I/O.
 *
 * A receipt's content is every field but `hash` and `signature`, `prevHash`
 * included. `hash` is the lowercase hex SHA-256 of the content's RFC 8785
 * canonical JSON (`canonicalize`); `signature` is a compact JWS, ES256, over
 * the same bytes, with the payload detached (RFC 7515, appendix F):
 * `<base64url(header)>..<base64url(signature)>`, the header being
 * `{"alg":"ES256","kid":"<key id>"}`. To check one with any JOSE library, put
 * base64url(canonical content) between the two dots. `prevHash` is the hash
 * of the user's previous receipt, null for the first, so a user's receipts
 * form a chain that shows any receipt removed, altered or reordered.
 *
 * Receipts recorded before receipts were signed have no stored hash and no
 * signature; their hash is computed from their content the same way, and
 * the first signed receipt after them starts the chain (`prevHash` null).
 */
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { Receipt } from './consent';

/** The content of a receipt: what is hashed and signed. */
export type ReceiptContent = Omit<Receipt, 'hash' | 'signature'>;

/** Signs JWS signing input with ES256; returns the raw 64-byte r||s signature. */
export interface Signer {
  readonly kid: string;
  sign(signingInput: Uint8Array): Promise<Uint8Array>;
}

export const base64url = (bytes: Uint8Array | string): string => Buffer.from(bytes).toString('base64url');

/** The RFC 8785 canonical JSON of a receipt's content (without `hash` and `signature`). */
export function canonicalContent(receipt: ReceiptContent | Receipt): string {
  const { hash: _hash, signature: _signature, ...content } = receipt as Receipt;
  const text = canonicalize(content);
  if (text === undefined) throw new Error('A receipt has no canonical form');
  return text;
}

/** Lowercase hex SHA-256 of the canonical content. */
export const receiptHash = (receipt: ReceiptContent | Receipt): string => createHash('sha256').update(canonicalContent(receipt), 'utf8').digest('hex');

/** The content with its hash and detached-payload JWS. */
export async function sealReceipt(content: ReceiptContent, signer: Signer): Promise<Receipt> {
  const payload = canonicalContent(content);
  const header = base64url(JSON.stringify({ alg: 'ES256', kid: signer.kid }));
  const signature = await signer.sign(Buffer.from(`${header}.${base64url(payload)}`, 'ascii'));
  if (signature.length !== 64) throw new Error('An ES256 signature is 64 bytes');
  return { ...content, hash: createHash('sha256').update(payload, 'utf8').digest('hex'), signature: `${header}..${base64url(signature)}` };
}
