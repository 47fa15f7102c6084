/**
 * Interoperability, the point of naming RFC 9180 in the contract: a second,
 * independent HPKE written here from the RFC's text with nothing but Node's
 * `crypto` primitives (X25519 key objects and `diffieHellman`, HMAC-SHA256,
 * the `chacha20-poly1305` cipher) seals messages the library opens, and opens
 * messages the library seals. It is first checked against the RFC's own test
 * vector, so neither side is only checked against the other.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { generateKeyPair, MESSAGE_INFO, open, publicKeyOf, seal, sealBytes, type CryptoKeyPair } from '../../client';
import { RFC9180_X25519_SHA256_CHACHA20POLY1305_BASE as vector } from './fixtures/hpke-rfc9180-x25519-chacha20poly1305';

// ---------------------------------------------------------------------------
// RFC 9180, base mode only, for DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
// ChaCha20-Poly1305. Section numbers refer to the RFC.
// ---------------------------------------------------------------------------
const concat = (...parts: Uint8Array[]): Buffer => Buffer.concat(parts);
const ascii = (text: string): Buffer => Buffer.from(text, 'ascii');
/** I2OSP(n, w): n as a w-byte big-endian string (section 3). */
const i2osp = (n: number, w: number): Buffer => {
  const out = Buffer.alloc(w);
  for (let i = w - 1, v = n; i >= 0 && v > 0; i--, v = Math.floor(v / 256)) out[i] = v % 256;
  return out;
};

const KEM_ID = 0x0020;
const KDF_ID = 0x0001;
const AEAD_ID = 0x0003;
const N_SECRET = 32;
const N_K = 32;
const N_N = 12;
const N_H = 32;
/** suite_id of the KEM (section 4.1) and of the whole suite (section 5.1). */
const KEM_SUITE = concat(ascii('KEM'), i2osp(KEM_ID, 2));
const HPKE_SUITE = concat(ascii('HPKE'), i2osp(KEM_ID, 2), i2osp(KDF_ID, 2), i2osp(AEAD_ID, 2));

/** HKDF-Extract and HKDF-Expand (RFC 5869) with HMAC-SHA256. */
const extract = (salt: Uint8Array, ikm: Uint8Array): Buffer =>
  createHmac('sha256', salt.length ? salt : Buffer.alloc(N_H))
    .update(ikm)
    .digest();
function expand(prk: Uint8Array, info: Uint8Array, length: number): Buffer {
  const blocks: Buffer[] = [];
  let previous = Buffer.alloc(0);
  for (let i = 1; Buffer.concat(blocks).length < length; i++) {
    previous = createHmac('sha256', prk)
      .update(concat(previous, info, Buffer.from([i])))
      .digest();
    blocks.push(previous);
  }
  return Buffer.concat(blocks).subarray(0, length);
}
/** LabeledExtract and LabeledExpand (section 4). */
const labeledExtract = (suite: Buffer, salt: Uint8Array, label: string, ikm: Uint8Array): Buffer =>
  extract(salt, concat(ascii('HPKE-v1'), suite, ascii(label), ikm));
const labeledExpand = (suite: Buffer, prk: Uint8Array, label: string, info: Uint8Array, length: number): Buffer =>
  expand(prk, concat(i2osp(length, 2), ascii('HPKE-v1'), suite, ascii(label), info), length);

/** X25519 keys as Node key objects, from and to their 32 raw bytes (RFC 7748 encoding, DER wrappers of RFC 8410). */
const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_X25519 = Buffer.from('302a300506032b656e032100', 'hex');
const privateKeyFromRaw = (sk: Uint8Array): KeyObject => createPrivateKey({ key: concat(PKCS8_X25519, sk), format: 'der', type: 'pkcs8' });
const publicKeyFromRaw = (pk: Uint8Array): KeyObject => createPublicKey({ key: concat(SPKI_X25519, pk), format: 'der', type: 'spki' });
const rawPublicKey = (key: KeyObject): Buffer => key.export({ format: 'der', type: 'spki' }).subarray(SPKI_X25519.length);
const rawPrivateKey = (key: KeyObject): Buffer => key.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_X25519.length);

interface KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

/** DeriveKeyPair for X25519 (section 7.1.3). */
function deriveKeyPair(ikm: Uint8Array): KeyPair {
  const dkpPrk = labeledExtract(KEM_SUITE, Buffer.alloc(0), 'dkp_prk', ikm);
  const privateKey = privateKeyFromRaw(labeledExpand(KEM_SUITE, dkpPrk, 'sk', Buffer.alloc(0), 32));
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

/** DH(sk, pk), refusing the all-zero output of a low-order point (section 7.1.4). */
function dh(privateKey: KeyObject, publicKey: KeyObject): Buffer {
  const shared = diffieHellman({ privateKey, publicKey });
  if (shared.every((byte) => byte === 0)) throw new Error('all-zero shared secret');
  return shared;
}

/** ExtractAndExpand of DHKEM (section 4.1). */
function extractAndExpand(dhBytes: Uint8Array, kemContext: Uint8Array): Buffer {
  const eaePrk = labeledExtract(KEM_SUITE, Buffer.alloc(0), 'eae_prk', dhBytes);
  return labeledExpand(KEM_SUITE, eaePrk, 'shared_secret', kemContext, N_SECRET);
}

/** Encap (section 4.1), with the ephemeral key pair given. */
function encap(pkR: KeyObject, ephemeral: KeyPair): { sharedSecret: Buffer; enc: Buffer } {
  const enc = rawPublicKey(ephemeral.publicKey);
  const kemContext = concat(enc, rawPublicKey(pkR));
  return { sharedSecret: extractAndExpand(dh(ephemeral.privateKey, pkR), kemContext), enc };
}

/** Decap (section 4.1). */
function decap(enc: Uint8Array, skR: KeyObject): Buffer {
  const pkE = publicKeyFromRaw(enc);
  const kemContext = concat(enc, rawPublicKey(createPublicKey(skR)));
  return extractAndExpand(dh(skR, pkE), kemContext);
}

interface Context {
  readonly key: Buffer;
  readonly baseNonce: Buffer;
  readonly exporterSecret: Buffer;
}

/** KeySchedule for mode_base, with the default (empty) psk and psk_id (section 5.1). */
function keySchedule(sharedSecret: Uint8Array, info: Uint8Array): Context {
  const mode = Buffer.from([0x00]);
  const pskIdHash = labeledExtract(HPKE_SUITE, Buffer.alloc(0), 'psk_id_hash', Buffer.alloc(0));
  const infoHash = labeledExtract(HPKE_SUITE, Buffer.alloc(0), 'info_hash', info);
  const context = concat(mode, pskIdHash, infoHash);
  const secret = labeledExtract(HPKE_SUITE, sharedSecret, 'secret', Buffer.alloc(0));
  return {
    key: labeledExpand(HPKE_SUITE, secret, 'key', context, N_K),
    baseNonce: labeledExpand(HPKE_SUITE, secret, 'base_nonce', context, N_N),
    exporterSecret: labeledExpand(HPKE_SUITE, secret, 'exp', context, N_H),
  };
}

/** ComputeNonce(seq): base_nonce XOR I2OSP(seq, Nn) (section 5.2). */
const nonceFor = (context: Context, sequence: number): Buffer => {
  const seq = i2osp(sequence, N_N);
  return Buffer.from(context.baseNonce.map((byte, i) => byte ^ seq[i]!));
};

/** ContextS.Seal (section 5.2) with ChaCha20-Poly1305 (RFC 8439): ciphertext || tag. */
function aeadSeal(context: Context, sequence: number, aad: Uint8Array, pt: Uint8Array): Buffer {
  const cipher = createCipheriv('chacha20-poly1305', context.key, nonceFor(context, sequence), { authTagLength: 16 });
  cipher.setAAD(aad, { plaintextLength: pt.length });
  return concat(cipher.update(pt), cipher.final(), cipher.getAuthTag());
}

/** ContextR.Open (section 5.2); throws when authentication fails. */
function aeadOpen(context: Context, sequence: number, aad: Uint8Array, ct: Uint8Array): Buffer {
  const decipher = createDecipheriv('chacha20-poly1305', context.key, nonceFor(context, sequence), { authTagLength: 16 });
  decipher.setAAD(aad, { plaintextLength: ct.length - 16 });
  decipher.setAuthTag(ct.subarray(ct.length - 16));
  return concat(decipher.update(ct.subarray(0, ct.length - 16)), decipher.final());
}

/** SetupBaseS (section 5.1.1), the ephemeral key pair given or fresh. */
function setupBaseS(pkR: KeyObject, info: Uint8Array, ephemeral: KeyPair = generateKeyPairSync('x25519')) {
  const { sharedSecret, enc } = encap(pkR, ephemeral);
  return { enc, sharedSecret, context: keySchedule(sharedSecret, info) };
}

/** SetupBaseR (section 5.1.1). */
const setupBaseR = (enc: Uint8Array, skR: KeyObject, info: Uint8Array): Context => keySchedule(decap(enc, skR), info);

/** Single-shot Seal and Open (section 6.1) in the contract's wire format: enc || ct. */
function sealBase(pkR: KeyObject, info: Uint8Array, aad: Uint8Array, pt: Uint8Array): Buffer {
  const { enc, context } = setupBaseS(pkR, info);
  return concat(enc, aeadSeal(context, 0, aad, pt));
}
function openBase(skR: KeyObject, info: Uint8Array, aad: Uint8Array, wire: Uint8Array): Buffer {
  const context = setupBaseR(wire.subarray(0, 32), skR, info);
  return aeadOpen(context, 0, aad, wire.subarray(32));
}

const Rfc9180 = {
  deriveKeyPair,
  privateKeyFromRaw,
  publicKeyFromRaw,
  rawPublicKey,
  rawPrivateKey,
  setupBaseS,
  setupBaseR,
  aeadSeal,
  aeadOpen,
  sealBase,
  openBase,
};

// ---------------------------------------------------------------------------

const hex = (value: string): Buffer => Buffer.from(value, 'hex');
/** The contract: info = UTF-8 of "consent-audiences/message/v1", empty aad, base64 of enc || ct, UTF-8 JSON {"text"}. */
const CONTRACT_INFO = Buffer.from('consent-audiences/message/v1', 'utf8');
const EMPTY_AAD = Buffer.alloc(0);

describe('the independent implementation reproduces RFC 9180 A.2.1', () => {
  it('derives the keys, encapsulates, schedules and seals as the vector says', () => {
    const ephemeral = Rfc9180.deriveKeyPair(hex(vector.ikmE));
    const recipient = Rfc9180.deriveKeyPair(hex(vector.ikmR));
    expect(Rfc9180.rawPrivateKey(ephemeral.privateKey).toString('hex')).toBe(vector.skEm);
    expect(Rfc9180.rawPublicKey(recipient.publicKey).toString('hex')).toBe(vector.pkRm);
    const { enc, sharedSecret, context } = Rfc9180.setupBaseS(recipient.publicKey, hex(vector.info), ephemeral);
    expect(enc.toString('hex')).toBe(vector.enc);
    expect(sharedSecret.toString('hex')).toBe(vector.shared_secret);
    expect(context.key.toString('hex')).toBe(vector.key);
    expect(context.baseNonce.toString('hex')).toBe(vector.base_nonce);
    expect(context.exporterSecret.toString('hex')).toBe(vector.exporter_secret);
    for (const e of vector.encryptions) {
      expect(Rfc9180.aeadSeal(context, e.sequence_number, hex(e.aad), hex(e.pt)).toString('hex')).toBe(e.ct);
    }
  });

  it("opens the vector's ciphertexts with skRm", () => {
    const context = Rfc9180.setupBaseR(hex(vector.enc), Rfc9180.privateKeyFromRaw(hex(vector.skRm)), hex(vector.info));
    for (const e of vector.encryptions) expect(Rfc9180.aeadOpen(context, e.sequence_number, hex(e.aad), hex(e.ct)).toString('hex')).toBe(e.pt);
    expect(() => Rfc9180.aeadOpen(context, 3, hex(vector.encryptions[0]!.aad), hex(vector.encryptions[0]!.ct))).toThrow();
  });
});

describe('interoperability with the library, in the contract format', () => {
  let bob: CryptoKeyPair;
  beforeAll(async () => {
    bob = await generateKeyPair();
    expect(MESSAGE_INFO).toBe('consent-audiences/message/v1');
  });

  it('a message sealed by the independent implementation opens with the library', async () => {
    const pkR = Rfc9180.publicKeyFromRaw(Buffer.from(await publicKeyOf(bob), 'base64url'));
    const payload = { text: 'Your order #1042 is on its way 🚚', trackingUrl: 'https://example.com/t/1042' };
    const ciphertext = Rfc9180.sealBase(pkR, CONTRACT_INFO, EMPTY_AAD, Buffer.from(JSON.stringify(payload), 'utf8')).toString('base64');
    expect(await open(bob, ciphertext)).toEqual(payload);
  });

  it('a message sealed by the library opens with the independent implementation', async () => {
    const recipient = generateKeyPairSync('x25519');
    const publicKey = Rfc9180.rawPublicKey(recipient.publicKey).toString('base64url');
    const payload = { text: 'Table for 2 at 19:30, Friday. Reply to change.' };
    for (const ciphertext of [
      await seal(publicKey, payload),
      Buffer.from(await sealBytes(publicKey, Buffer.from(JSON.stringify(payload)), { kem: 'portable' })).toString('base64'),
    ]) {
      const opened = Rfc9180.openBase(recipient.privateKey, CONTRACT_INFO, EMPTY_AAD, Buffer.from(ciphertext, 'base64'));
      expect(JSON.parse(opened.toString('utf8'))).toEqual(payload);
    }
  });

  it('disagrees whenever the info or the aad differs from the contract', async () => {
    const recipient = generateKeyPairSync('x25519');
    const ciphertext = Buffer.from(await seal(Rfc9180.rawPublicKey(recipient.publicKey).toString('base64url'), { text: 'hi' }), 'base64');
    expect(() => Rfc9180.openBase(recipient.privateKey, Buffer.from('consent-audiences/message/v2'), EMPTY_AAD, ciphertext)).toThrow();
    expect(() => Rfc9180.openBase(recipient.privateKey, CONTRACT_INFO, Buffer.from([0]), ciphertext)).toThrow();
    const pkR = Rfc9180.publicKeyFromRaw(Buffer.from(await publicKeyOf(bob), 'base64url'));
    const sealedWithAad = Rfc9180.sealBase(pkR, CONTRACT_INFO, Buffer.from('aad'), Buffer.from('{"text":"hi"}')).toString('base64');
    await expect(open(bob, sealedWithAad)).rejects.toMatchObject({ code: 'open-failed' });
  });
});
