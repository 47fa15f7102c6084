/**
 * The RFC 9180 test vector of the contract's suite reproduces through the
 * library: its cipher suite, with either X25519 implementation, derives the
 * vector's keys, encapsulates to the vector's `enc` from its ephemeral input
 * keying material, seals to the vector's ciphertexts and exports its values;
 * and the library's open, with the vector's private key imported as a
 * non-extractable CryptoKey, opens the vector's ciphertexts.
 */
import { ENC_BYTES, importPrivateJwk, type KemImplementation, messageSuite, openBytes, toBase64Url } from '../../client';
import { RFC9180_X25519_SHA256_CHACHA20POLY1305_BASE as vector } from './fixtures/hpke-rfc9180-x25519-chacha20poly1305';

const hex = (value: string): Uint8Array => new Uint8Array(Buffer.from(value, 'hex'));
const toHex = (bytes: ArrayBuffer | Uint8Array): string => Buffer.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)).toString('hex');
const ascii = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'ascii'));

const LAST_SEQUENCE = Math.max(...vector.encryptions.map((e) => e.sequence_number));
const printed = new Map<number, (typeof vector.encryptions)[number]>(vector.encryptions.map((e) => [e.sequence_number, e]));
/** The vector's aad for a sequence number: ASCII "Count-<n>" (the printed ones carry it in hex). */
const aadOf = (sequence: number): Uint8Array => ascii(`Count-${sequence}`);

describe('the fixture', () => {
  it('is the base-mode vector of the contract suite', () => {
    expect([vector.mode, vector.kem_id, vector.kdf_id, vector.aead_id]).toEqual([0, 0x0020, 0x0001, 0x0003]);
    for (const e of vector.encryptions) expect(e.aad).toBe(toHex(aadOf(e.sequence_number)));
  });
});

describe.each<KemImplementation>(['webcrypto', 'portable'])('RFC 9180 A.2.1 through the library suite (%s X25519)', (kem) => {
  const suite = messageSuite(kem);

  it('identifies as KEM 0x0020, KDF 0x0001, AEAD 0x0003', () => {
    expect([suite.kem.id, suite.kdf.id, suite.aead.id]).toEqual([0x0020, 0x0001, 0x0003]);
  });

  it('derives the recipient and ephemeral key pairs from ikmR and ikmE', async () => {
    const recipient = await suite.kem.deriveKeyPair(hex(vector.ikmR));
    expect(toHex(await suite.kem.serializePublicKey(recipient.publicKey))).toBe(vector.pkRm);
    expect(toHex(await suite.kem.serializePrivateKey(recipient.privateKey))).toBe(vector.skRm);
    const ephemeral = await suite.kem.deriveKeyPair(hex(vector.ikmE));
    expect(toHex(await suite.kem.serializePublicKey(ephemeral.publicKey))).toBe(vector.pkEm);
    expect(toHex(await suite.kem.serializePrivateKey(ephemeral.privateKey))).toBe(vector.skEm);
  });

  it("encapsulates to the vector's enc and seals the vector's ciphertexts, from seq 0 to 256", async () => {
    const recipientPublicKey = await suite.kem.deserializePublicKey(hex(vector.pkRm));
    const sender = await suite.createSenderContext({ recipientPublicKey, info: hex(vector.info), ekm: hex(vector.ikmE) });
    expect(toHex(sender.enc)).toBe(vector.enc);
    let checked = 0;
    for (let sequence = 0; sequence <= LAST_SEQUENCE; sequence++) {
      const expected = printed.get(sequence);
      const ct = await sender.seal(expected ? hex(expected.pt) : ascii('filler'), aadOf(sequence));
      if (expected) {
        expect({ sequence, ct: toHex(ct) }).toEqual({ sequence, ct: expected.ct });
        checked++;
      }
    }
    expect(checked).toBe(vector.encryptions.length);
    for (const e of vector.exports) expect(toHex(await sender.export(hex(e.exporter_context), e.L))).toBe(e.exported_value);
  });
});

describe("RFC 9180 A.2.1: the library opens the vector's ciphertexts with a non-extractable key", () => {
  const jwk = { kty: 'OKP', crv: 'X25519', x: toBase64Url(hex(vector.pkRm)), d: toBase64Url(hex(vector.skRm)) } as const;

  it('opens sequence 0 with the single-shot open (enc || ct on the wire)', async () => {
    const keyPair = await importPrivateJwk(jwk);
    expect(keyPair.privateKey.extractable).toBe(false);
    const first = vector.encryptions[0]!;
    const wire = new Uint8Array([...hex(vector.enc), ...hex(first.ct)]);
    expect(wire.subarray(0, ENC_BYTES)).toEqual(hex(vector.pkEm));
    const plaintext = await openBytes(keyPair, wire, { info: hex(vector.info), aad: hex(first.aad) });
    expect(Buffer.from(plaintext).toString('ascii')).toBe('Beauty is truth, truth beauty');
    expect(toHex(plaintext)).toBe(first.pt);
    // The private key alone (its public key derived without exporting it) opens too.
    expect(toHex(await openBytes(keyPair.privateKey, wire, { info: hex(vector.info), aad: hex(first.aad) }))).toBe(first.pt);
  });

  it('opens every printed ciphertext in a recipient context, from seq 0 to 256', async () => {
    const keyPair = await importPrivateJwk(jwk);
    const suite = messageSuite('webcrypto');
    const sender = await suite.createSenderContext({
      recipientPublicKey: await suite.kem.deserializePublicKey(hex(vector.pkRm)),
      info: hex(vector.info),
      ekm: hex(vector.ikmE),
    });
    const recipient = await suite.createRecipientContext({ recipientKey: keyPair, enc: hex(vector.enc), info: hex(vector.info) });
    let opened = 0;
    for (let sequence = 0; sequence <= LAST_SEQUENCE; sequence++) {
      const expected = printed.get(sequence);
      // Unprinted sequence numbers are filled by the sender, so the recipient's counter advances as it would.
      const ct = expected ? hex(expected.ct) : new Uint8Array(await sender.seal(ascii('filler'), aadOf(sequence)));
      if (expected) await sender.seal(hex(expected.pt), aadOf(sequence));
      const pt = await recipient.open(ct, aadOf(sequence));
      if (expected) {
        expect({ sequence, pt: toHex(pt) }).toEqual({ sequence, pt: expected.pt });
        opened++;
      }
    }
    expect(opened).toBe(vector.encryptions.length);
    for (const e of vector.exports) expect(toHex(await recipient.export(hex(e.exporter_context), e.L))).toBe(e.exported_value);
  });

  it("fails on the vector's ciphertext under the wrong aad or info", async () => {
    const keyPair = await importPrivateJwk(jwk);
    const first = vector.encryptions[0]!;
    const wire = new Uint8Array([...hex(vector.enc), ...hex(first.ct)]);
    await expect(openBytes(keyPair, wire, { info: hex(vector.info) })).rejects.toMatchObject({ code: 'open-failed' });
    await expect(openBytes(keyPair, wire, { aad: hex(first.aad) })).rejects.toMatchObject({ code: 'open-failed' });
  });
});
