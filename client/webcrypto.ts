/**
 * WebCrypto as the runtime provides it: `globalThis.crypto` in browsers and
 * in Node.js 20+ (whose WebCrypto has X25519). Types come from the runtime's
 * declarations, so the same code type-checks for Node and for a browser build.
 */
import { ClientCryptoError } from './errors';

export type Subtle = typeof globalThis.crypto.subtle;
export type CryptoKey = Awaited<ReturnType<Subtle['importKey']>>;
export interface CryptoKeyPair {
  readonly publicKey: CryptoKey;
  readonly privateKey: CryptoKey;
}

export function subtle(): Subtle {
  const api = (globalThis as { crypto?: { subtle?: Subtle } }).crypto?.subtle;
  if (!api) throw new ClientCryptoError('unsupported', 'this runtime has no WebCrypto (globalThis.crypto.subtle)');
  return api;
}

export const isKeyPair = (key: CryptoKey | CryptoKeyPair): key is CryptoKeyPair => 'privateKey' in key && 'publicKey' in key;

let x25519: Promise<boolean> | undefined;

/** Whether WebCrypto here does X25519 (Node.js 20+, Chrome 133+, Firefox 129+, Safari 17+); checked once. */
export function hasWebCryptoX25519(): Promise<boolean> {
  x25519 ??= (async () => {
    try {
      await subtle().generateKey({ name: 'X25519' }, false, ['deriveBits']);
      return true;
    } catch {
      return false;
    }
  })();
  return x25519;
}
