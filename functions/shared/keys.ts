/**
 * The catalog's keys: AWS KMS when deployed, key material from the
 * environment in the local stack (generated per stack). Signing keys sign
 * ES256 and publish their public key as a JWK whose `kid` is its RFC 7638
 * thumbprint; encryption keys encrypt small values bound to a context (KMS
 * encryption context, or AES-256-GCM additional data locally). The KMS
 * client is loaded only by the functions that use a key, on first use.
 */
import { createCipheriv, createDecipheriv, createHash, createPrivateKey, createPublicKey, randomBytes, sign as signWith } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import canonicalize from 'canonicalize';
import { derToJose } from 'ecdsa-sig-formatter';
import { calculateJwkThumbprint } from 'jose';
import type { KeyName } from '../../catalog';
import type { Signer } from '../core/receipts';
import { SDK_MAX_ATTEMPTS } from './aws';
import { keySource } from './config';

/** A public key as JWKS lists it. */
export interface PublicJwk {
  readonly kty: 'EC';
  readonly crv: 'P-256';
  readonly x: string;
  readonly y: string;
  readonly kid: string;
  readonly alg: 'ES256';
  readonly use: 'sig';
}

type Kms = typeof import('@aws-sdk/client-kms');
let kmsModule: Promise<{ mod: Kms; client: InstanceType<Kms['KMSClient']> }> | undefined;
const kms = () => (kmsModule ??= import('@aws-sdk/client-kms').then((mod) => ({ mod, client: new mod.KMSClient({ maxAttempts: SDK_MAX_ATTEMPTS }) })));

/** The JWK of a P-256 public key, with its thumbprint as `kid`. */
export async function jwkOf(publicKey: KeyObject): Promise<PublicJwk> {
  const jwk = publicKey.export({ format: 'jwk' });
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || !jwk.x || !jwk.y) throw new Error('Not a P-256 public key');
  const kid = await calculateJwkThumbprint({ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }, 'sha256');
  return { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, kid, alg: 'ES256', use: 'sig' };
}

const localPrivateKeys = new Map<string, KeyObject>();
function localPrivateKey(value: string): KeyObject {
  let key = localPrivateKeys.get(value);
  if (!key) {
    key = createPrivateKey({ key: JSON.parse(value) as import('node:crypto').JsonWebKey, format: 'jwk' });
    localPrivateKeys.set(value, key);
  }
  return key;
}

const publicKeys = new Map<string, Promise<PublicJwk>>();

/** The current public key of a signing key; fetched once per execution environment (KMS GetPublicKey). */
export function publicKeyOf(name: KeyName): Promise<PublicJwk> {
  const source = keySource(name);
  const cacheKey = source.kind === 'arn' ? source.arn : source.value;
  let found = publicKeys.get(cacheKey);
  if (!found) {
    found =
      source.kind === 'local'
        ? jwkOf(createPublicKey(localPrivateKey(source.value)))
        : kms().then(async ({ mod, client }) => {
            const out = await client.send(new mod.GetPublicKeyCommand({ KeyId: source.arn }));
            if (!out.PublicKey) throw new Error(`KMS returned no public key for key ${name}`);
            return jwkOf(createPublicKey({ key: Buffer.from(out.PublicKey), format: 'der', type: 'spki' }));
          });
    found.catch(() => publicKeys.delete(cacheKey));
    publicKeys.set(cacheKey, found);
  }
  return found;
}

/** KMS signs messages of up to 4096 bytes itself; a longer one is sent as its SHA-256 digest. */
const KMS_RAW_MESSAGE_LIMIT = 4096;

/**
 * An ES256 signer with a catalog key. KMS signs with ECDSA_SHA_256 and
 * answers in DER; JWS wants r||s, 64 bytes (`ecdsa-sig-formatter` converts).
 */
export async function signerOf(name: KeyName): Promise<Signer> {
  const { kid } = await publicKeyOf(name);
  const source = keySource(name);
  if (source.kind === 'local') {
    const key = localPrivateKey(source.value);
    return { kid, sign: async (input) => new Uint8Array(signWith('sha256', input, { key, dsaEncoding: 'ieee-p1363' })) };
  }
  return {
    kid,
    sign: async (input) => {
      const { mod, client } = await kms();
      const raw = input.length <= KMS_RAW_MESSAGE_LIMIT;
      const out = await client.send(
        new mod.SignCommand({
          KeyId: source.arn,
          Message: raw ? input : createHash('sha256').update(input).digest(),
          MessageType: raw ? 'RAW' : 'DIGEST',
          SigningAlgorithm: 'ECDSA_SHA_256',
        }),
      );
      if (!out.Signature) throw new Error(`KMS returned no signature for key ${name}`);
      return new Uint8Array(Buffer.from(derToJose(Buffer.from(out.Signature), 'ES256'), 'base64url'));
    },
  };
}

// ------------------------------------------------------------------ encryption

const LOCAL_PREFIX = 'local1.';
const aad = (context: Readonly<Record<string, string>>) => Buffer.from(canonicalize(context) ?? '{}', 'utf8');

/** Encrypts a small value (under 4 KB) bound to `context`; base64 of what KMS returns, or of AES-256-GCM locally. */
export async function encryptValue(name: KeyName, plaintext: string, context: Readonly<Record<string, string>>): Promise<string> {
  const source = keySource(name);
  if (source.kind === 'local') {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', Buffer.from(source.value, 'hex'), iv).setAAD(aad(context));
    const sealed = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return LOCAL_PREFIX + Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64');
  }
  const { mod, client } = await kms();
  const out = await client.send(new mod.EncryptCommand({ KeyId: source.arn, Plaintext: Buffer.from(plaintext, 'utf8'), EncryptionContext: { ...context } }));
  if (!out.CiphertextBlob) throw new Error(`KMS returned no ciphertext for key ${name}`);
  return Buffer.from(out.CiphertextBlob).toString('base64');
}

/** Decrypts what `encryptValue` made with the same key and context; fails on any other context. */
export async function decryptValue(name: KeyName, encrypted: string, context: Readonly<Record<string, string>>): Promise<string> {
  const source = keySource(name);
  if (source.kind === 'local') {
    if (!encrypted.startsWith(LOCAL_PREFIX)) throw new Error(`Not a value encrypted with the local key ${name}`);
    const bytes = Buffer.from(encrypted.slice(LOCAL_PREFIX.length), 'base64');
    const decipher = createDecipheriv('aes-256-gcm', Buffer.from(source.value, 'hex'), bytes.subarray(0, 12))
      .setAAD(aad(context))
      .setAuthTag(bytes.subarray(12, 28));
    return Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]).toString('utf8');
  }
  const { mod, client } = await kms();
  const out = await client.send(
    new mod.DecryptCommand({ KeyId: source.arn, CiphertextBlob: Buffer.from(encrypted, 'base64'), EncryptionContext: { ...context } }),
  );
  if (!out.Plaintext) throw new Error(`KMS returned no plaintext for key ${name}`);
  return Buffer.from(out.Plaintext).toString('utf8');
}
