/**
 * Message encryption exactly as the contract names it: HPKE (RFC 9180) in
 * base mode with DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and
 * ChaCha20-Poly1305, `info` = UTF-8 of `consent-audiences/message/v1`, empty
 * `aad`. On the wire: the 32-byte encapsulated key, then the sealed payload,
 * as standard base64. The payload is UTF-8 JSON `{"text": "..."}`, more fields
 * allowed.
 *
 * The HPKE itself is `@hpke/core`. Its KEM for X25519 runs on WebCrypto, so a
 * recipient's private key is a real CryptoKey that can be non-extractable
 * (and kept in IndexedDB); `@hpke/dhkem-x25519` (pure JavaScript) seals where
 * WebCrypto has no X25519 (browsers before Chrome 133 / Firefox 129).
 * ChaCha20-Poly1305 is `@hpke/chacha20poly1305`, as WebCrypto has none.
 */
import { Chacha20Poly1305 } from '@hpke/chacha20poly1305';
import { CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';
import { DhkemX25519HkdfSha256 as PortableDhkemX25519HkdfSha256 } from '@hpke/dhkem-x25519';
import { fromBase64, fromUtf8, toBase64, utf8 } from './encoding';
import { ClientCryptoError } from './errors';
import { decodePublicKey } from './keys';
import { type CryptoKey, type CryptoKeyPair, hasWebCryptoX25519 } from './webcrypto';

/** The contract's HPKE `info`, as text. */
export const MESSAGE_INFO = 'consent-audiences/message/v1';
/** Bytes of the encapsulated key that starts every ciphertext (X25519's Nenc). */
export const ENC_BYTES = 32;
/** Bytes of the ChaCha20-Poly1305 tag that ends every ciphertext (Nt). */
export const TAG_BYTES = 16;
/** The service's limit on a decoded ciphertext. */
export const MAX_CIPHERTEXT_BYTES = 64 * 1024;

/** Which X25519 KEM: WebCrypto's (`@hpke/core`) or pure JavaScript (`@hpke/dhkem-x25519`). Both are DHKEM(X25519, HKDF-SHA256). */
export type KemImplementation = 'webcrypto' | 'portable';

const suites = new Map<KemImplementation, CipherSuite>();

/** The contract's cipher suite (KEM 0x0020, KDF 0x0001, AEAD 0x0003), with the given X25519 implementation. */
export function messageSuite(kem: KemImplementation = 'webcrypto'): CipherSuite {
  let suite = suites.get(kem);
  if (!suite) {
    suite = new CipherSuite({
      kem: kem === 'webcrypto' ? new DhkemX25519HkdfSha256() : new PortableDhkemX25519HkdfSha256(),
      kdf: new HkdfSha256(),
      aead: new Chacha20Poly1305(),
    });
    suites.set(kem, suite);
  }
  return suite;
}

/** A recipient's private key, or its key pair (which spares deriving the public key on every open). */
export type RecipientKey = CryptoKey | CryptoKeyPair;

export interface HpkeOptions {
  /** HPKE `info`; the contract's `consent-audiences/message/v1` unless given. */
  readonly info?: Uint8Array;
  /** HPKE `aad`; empty unless given. */
  readonly aad?: Uint8Array;
  /** The X25519 implementation to seal with; WebCrypto's where the runtime has it. */
  readonly kem?: KemImplementation;
}

const EMPTY = new Uint8Array(0);
const MESSAGE_INFO_BYTES = utf8(MESSAGE_INFO);

/** Single-shot HPKE seal: the encapsulated key followed by the sealed plaintext. */
export async function sealBytes(recipientPublicKey: string | Uint8Array, plaintext: Uint8Array, options: HpkeOptions = {}): Promise<Uint8Array> {
  const raw = decodePublicKey(recipientPublicKey);
  const suite = messageSuite(options.kem ?? ((await hasWebCryptoX25519()) ? 'webcrypto' : 'portable'));
  let publicKey: CryptoKey;
  try {
    publicKey = (await suite.kem.deserializePublicKey(raw)) as CryptoKey;
  } catch {
    throw new ClientCryptoError('invalid-public-key', 'the public key is not a valid X25519 key');
  }
  let sealed: { enc: ArrayBuffer; ct: ArrayBuffer };
  try {
    sealed = await suite.seal({ recipientPublicKey: publicKey, info: options.info ?? MESSAGE_INFO_BYTES }, plaintext, options.aad ?? EMPTY);
  } catch {
    // A low-order public key gives an all-zero shared secret, which HPKE refuses.
    throw new ClientCryptoError('invalid-public-key', 'the message could not be sealed to this public key');
  }
  const out = new Uint8Array(sealed.enc.byteLength + sealed.ct.byteLength);
  out.set(new Uint8Array(sealed.enc), 0);
  out.set(new Uint8Array(sealed.ct), sealed.enc.byteLength);
  return out;
}

/** Single-shot HPKE open of `enc || ct`; any failure is a {@link ClientCryptoError}, never the bytes. */
export async function openBytes(recipientKey: RecipientKey, sealed: Uint8Array, options: Omit<HpkeOptions, 'kem'> = {}): Promise<Uint8Array> {
  if (sealed.length < ENC_BYTES + TAG_BYTES || sealed.length > MAX_CIPHERTEXT_BYTES) {
    throw new ClientCryptoError('malformed-ciphertext', `a ciphertext holds ${ENC_BYTES + TAG_BYTES} to ${MAX_CIPHERTEXT_BYTES} bytes`);
  }
  if (!(await hasWebCryptoX25519())) {
    throw new ClientCryptoError('unsupported', 'this runtime has no WebCrypto X25519, which opening a message needs (Node.js 20+, a current browser)');
  }
  try {
    const plaintext = await messageSuite('webcrypto').open(
      { recipientKey, enc: sealed.subarray(0, ENC_BYTES), info: options.info ?? MESSAGE_INFO_BYTES },
      sealed.subarray(ENC_BYTES),
      options.aad ?? EMPTY,
    );
    return new Uint8Array(plaintext);
  } catch {
    throw new ClientCryptoError('open-failed', 'the message could not be opened: it was sealed to another key, or altered');
  }
}

/** A message's plaintext: `text`, and any further fields. */
export interface MessagePayload {
  readonly text: string;
  readonly [field: string]: unknown;
}

const isPayload = (value: unknown): value is MessagePayload =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as { text?: unknown }).text === 'string';

/**
 * Seals a message to a recipient's public key (the contract's base64url
 * `publicKey` or its 32 raw bytes); returns the contract's base64 `ciphertext`.
 */
export async function seal(recipientPublicKey: string | Uint8Array, payload: MessagePayload): Promise<string> {
  if (!isPayload(payload)) throw new ClientCryptoError('invalid-payload', 'a message payload is an object with a string "text"');
  const plaintext = utf8(JSON.stringify(payload));
  if (ENC_BYTES + plaintext.length + TAG_BYTES > MAX_CIPHERTEXT_BYTES) {
    throw new ClientCryptoError('payload-too-large', `a sealed message may hold at most ${MAX_CIPHERTEXT_BYTES - ENC_BYTES - TAG_BYTES} bytes of JSON`);
  }
  return toBase64(await sealBytes(recipientPublicKey, plaintext));
}

/** Opens a contract `ciphertext` with the recipient's private key (non-extractable is fine) or key pair. */
export async function open(recipientKey: RecipientKey, ciphertext: string): Promise<MessagePayload> {
  const sealed = typeof ciphertext === 'string' ? fromBase64(ciphertext) : undefined;
  if (!sealed) throw new ClientCryptoError('malformed-ciphertext', 'a ciphertext is standard base64 with padding');
  const text = fromUtf8(await openBytes(recipientKey, sealed));
  let payload: unknown;
  try {
    payload = text === undefined ? undefined : JSON.parse(text);
  } catch {
    payload = undefined;
  }
  if (!isPayload(payload)) throw new ClientCryptoError('invalid-payload', 'the opened message is not UTF-8 JSON with a string "text"');
  return payload;
}
