/**
 * X25519 key pairs as WebCrypto CryptoKeys, and the contract's spelling of a
 * public key: base64url (no padding) of its 32 raw bytes.
 *
 * A device's private key is generated non-extractable by default: it can be
 * used to open messages and kept in IndexedDB (see `keystore.ts`), but its
 * bytes can never be read back, not even by the page that made it. Only a
 * key meant for a key file (Node: CLI, scripts, tests) is made extractable,
 * once, to be written out as a JWK.
 */
import { fromBase64Url, sameBytes, toBase64Url } from './encoding';
import { ClientCryptoError } from './errors';
import { type CryptoKey, type CryptoKeyPair, hasWebCryptoX25519, isKeyPair, subtle } from './webcrypto';

export const X25519 = { name: 'X25519' } as const;
export const PUBLIC_KEY_BYTES = 32;
const PRIVATE_USAGES = ['deriveBits'] as const;

/** A private X25519 key as a JWK (RFC 8037): what a key file holds. */
export interface X25519PrivateJwk {
  readonly kty: 'OKP';
  readonly crv: 'X25519';
  /** The public key, base64url. */
  readonly x: string;
  /** The private key, base64url. */
  readonly d: string;
}

async function requireX25519(): Promise<void> {
  if (!(await hasWebCryptoX25519())) {
    throw new ClientCryptoError('unsupported', 'this runtime has no WebCrypto X25519, which holding a private key needs (Node.js 20+, a current browser)');
  }
}

/** A new X25519 key pair; the private key is non-extractable unless asked for. */
export async function generateKeyPair(options: { extractable?: boolean } = {}): Promise<CryptoKeyPair> {
  await requireX25519();
  return (await subtle().generateKey(X25519, options.extractable ?? false, [...PRIVATE_USAGES])) as CryptoKeyPair;
}

/** The 32 raw bytes of a contract `publicKey` (base64url, no padding). */
export function decodePublicKey(publicKey: string | Uint8Array): Uint8Array {
  const bytes = typeof publicKey === 'string' ? fromBase64Url(publicKey) : publicKey;
  if (!bytes || bytes.length !== PUBLIC_KEY_BYTES) {
    throw new ClientCryptoError('invalid-public-key', 'a public key must be the base64url (no padding) of 32 X25519 bytes');
  }
  return bytes;
}

/** A public key, in the contract's spelling, as a WebCrypto key. */
export async function importPublicKey(publicKey: string | Uint8Array): Promise<CryptoKey> {
  await requireX25519();
  try {
    // A copy on its own ArrayBuffer: what WebCrypto's types ask for in browsers.
    return await subtle().importKey('raw', new Uint8Array(decodePublicKey(publicKey)), X25519, true, []);
  } catch (error) {
    if (error instanceof ClientCryptoError) throw error;
    throw new ClientCryptoError('invalid-public-key', 'the public key is not a valid X25519 key');
  }
}

const BASE_POINT = new Uint8Array(32);
BASE_POINT[0] = 9;

/**
 * The raw public key of a private key, computed as X25519(sk, 9): it works on
 * a non-extractable key, whose JWK cannot be exported.
 */
export async function derivePublicKey(privateKey: CryptoKey): Promise<Uint8Array> {
  const basePoint = await subtle().importKey('raw', BASE_POINT, X25519, true, []);
  return new Uint8Array(await subtle().deriveBits({ name: 'X25519', public: basePoint }, privateKey, 256));
}

/** The contract's `publicKey` of a key pair or public key. */
export async function publicKeyOf(key: CryptoKey | CryptoKeyPair): Promise<string> {
  const publicKey = isKeyPair(key) ? key.publicKey : key;
  if (publicKey.type !== 'public') throw new ClientCryptoError('invalid-public-key', 'expected a public key or a key pair');
  return toBase64Url(new Uint8Array(await subtle().exportKey('raw', publicKey)));
}

/** The private key of an extractable key pair as a JWK (for a key file). */
export async function exportPrivateJwk(keyPair: CryptoKeyPair): Promise<X25519PrivateJwk> {
  if (!keyPair.privateKey.extractable) throw new ClientCryptoError('invalid-private-key', 'a non-extractable private key cannot be written out');
  const jwk = await subtle().exportKey('jwk', keyPair.privateKey);
  if (jwk.kty !== 'OKP' || jwk.crv !== 'X25519' || typeof jwk.x !== 'string' || typeof jwk.d !== 'string') {
    throw new ClientCryptoError('invalid-private-key', 'not an X25519 private key');
  }
  return { kty: 'OKP', crv: 'X25519', x: jwk.x, d: jwk.d };
}

/**
 * A key pair from a private JWK; the private key is non-extractable unless
 * asked for. The JWK's `x` must be the public key of its `d`.
 */
export async function importPrivateJwk(jwk: X25519PrivateJwk, options: { extractable?: boolean } = {}): Promise<CryptoKeyPair> {
  await requireX25519();
  const invalid = () => new ClientCryptoError('invalid-private-key', 'not a valid X25519 private key JWK (kty "OKP", crv "X25519", x and d of 32 bytes)');
  const d = typeof jwk.d === 'string' ? fromBase64Url(jwk.d) : undefined;
  if (jwk.kty !== 'OKP' || jwk.crv !== 'X25519' || d?.length !== 32) throw invalid();
  const x = decodePublicKey(jwk.x);
  let privateKey: CryptoKey;
  try {
    privateKey = await subtle().importKey('jwk', { kty: 'OKP', crv: 'X25519', x: jwk.x, d: jwk.d }, X25519, options.extractable ?? false, [...PRIVATE_USAGES]);
  } catch {
    throw invalid();
  }
  if (!sameBytes(await derivePublicKey(privateKey), x)) {
    throw new ClientCryptoError('invalid-private-key', 'the JWK public key "x" does not belong to its private key "d"');
  }
  return { privateKey, publicKey: await importPublicKey(x) };
}
