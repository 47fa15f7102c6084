/**
 * Recipients' message keys: pure rules, no I/O. A user publishes one X25519
 * public key (the contract's base64url of its 32 raw bytes); businesses seal
 * messages to it with HPKE. The service only checks that the key is one a
 * sender can seal to, and names it with a `keyId`.
 */
import { createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { messageIdFactory } from './messages';

export const PUBLIC_KEY_BYTES = 32;
/** base64url without padding of 32 bytes: 43 characters, the last one carrying 2 bits (so one of `AEIMQUYcgkosw048`). */
export const PUBLIC_KEY_PATTERN = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

export const KEY_ID = /^key-[0-7][0-9A-HJKMNP-TV-Z]{25}$/;
const newUlid = messageIdFactory();

/** A new key id, `key-` and a ULID: time-ordered, opaque to clients. */
export const newKeyId = (nowMs: number): string => `key-${newUlid(nowMs)}`;

export type PublicKeyProblem = 'format' | 'unusable';

let probe: KeyObject | undefined;

/**
 * Why a contract `publicKey` cannot be published, or undefined when it can:
 * `format` when it is not the base64url of 32 bytes, `unusable` when it is a
 * low-order X25519 point, whose shared secret with any sender is all zeros
 * (HPKE refuses to seal to it, and it would protect nothing). Checked by an
 * X25519 exchange with a throwaway key, which refuses exactly those points.
 */
export function publicKeyProblem(publicKey: string): PublicKeyProblem | undefined {
  if (!PUBLIC_KEY_PATTERN.test(publicKey)) return 'format';
  try {
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: publicKey }, format: 'jwk' });
    probe ??= generateKeyPairSync('x25519').privateKey;
    const shared = diffieHellman({ privateKey: probe, publicKey: key });
    return shared.every((byte) => byte === 0) ? 'unusable' : undefined;
  } catch {
    return 'unusable';
  }
}

export const publicKeyProblemMessages: Record<PublicKeyProblem, string> = {
  format: 'Must be the base64url (no padding) of a 32-byte X25519 public key',
  unusable: 'Must be an X25519 public key messages can be sealed to (not a low-order point)',
};
