/**
 * The one error type of the client library. Its `code` says what failed; its
 * message is fixed text for that failure and never carries a key, a
 * ciphertext, a plaintext, a phone number or an email address.
 */
export type ClientCryptoErrorCode =
  /** Not a base64url 32-byte X25519 public key. */
  | 'invalid-public-key'
  /** Not a usable X25519 private key (or it does not match its public key). */
  | 'invalid-private-key'
  /** Not standard base64, or too short or too long to be a sealed message. */
  | 'malformed-ciphertext'
  /** Authentication failed: sealed to another key, or altered. */
  | 'open-failed'
  /** A payload that is not UTF-8 JSON `{"text": "..."}`. */
  | 'invalid-payload'
  /** The sealed message would exceed the service's 64 KiB limit. */
  | 'payload-too-large'
  /** This runtime has no WebCrypto X25519 (needed to hold and use a private key). */
  | 'unsupported'
  /** A key file that cannot be read, is open to other users, or is not a key file. */
  | 'key-file';

export class ClientCryptoError extends Error {
  override readonly name = 'ClientCryptoError';

  constructor(
    readonly code: ClientCryptoErrorCode,
    message: string,
  ) {
    super(message);
  }
}
