/**
 * Sealing and opening messages with the client library: round trips with a
 * non-extractable key, failure with any other key and on any truncated or
 * altered ciphertext, the wire format, payload rules, and errors that never
 * carry the bytes or the text.
 */
import {
  ClientCryptoError,
  ENC_BYTES,
  MAX_CIPHERTEXT_BYTES,
  TAG_BYTES,
  fromBase64,
  generateKeyPair,
  open,
  openBytes,
  publicKeyOf,
  seal,
  sealBytes,
  toBase64,
  toBase64Url,
  type CryptoKeyPair,
} from '../../client';

const TEXT = 'Your receipt: 12 red tulips, $42.00. Thank you, Bloom & Co.';

let bob: CryptoKeyPair;
let bobPublicKey: string;
let mallory: CryptoKeyPair;

beforeAll(async () => {
  bob = await generateKeyPair();
  bobPublicKey = await publicKeyOf(bob);
  mallory = await generateKeyPair();
});

/** The error `promise` rejects with, which must be a ClientCryptoError. */
async function failure(promise: Promise<unknown>): Promise<ClientCryptoError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ClientCryptoError);
  return error as ClientCryptoError;
}

/** `bytes` with one bit flipped at `index`. */
function flipped(bytes: Uint8Array, index: number): Uint8Array {
  const copy = bytes.slice();
  copy[index]! ^= 0x01;
  return copy;
}

describe('seal and open', () => {
  it("opens with the recipient's non-extractable key what was sealed to its public key", async () => {
    expect(bob.privateKey.extractable).toBe(false);
    const ciphertext = await seal(bobPublicKey, { text: TEXT });
    expect(await open(bob, ciphertext)).toEqual({ text: TEXT });
    // With the private key alone, too: its public key is derived without exporting it.
    expect(await open(bob.privateKey, ciphertext)).toEqual({ text: TEXT });
  });

  it('keeps further payload fields and any Unicode text', async () => {
    const payload = { text: 'Grüße 🌷 — ありがとう\n"quoted"', orderId: 'A-17', items: [{ sku: 'tulip', qty: 12 }] };
    expect(await open(bob, await seal(bobPublicKey, payload))).toEqual(payload);
    expect(await open(bob, await seal(bobPublicKey, { text: '' }))).toEqual({ text: '' });
  });

  it('seals to the raw 32 bytes of a public key as well as to its base64url', async () => {
    const raw = fromBase64(toBase64(Buffer.from(bobPublicKey, 'base64url')))!;
    expect(raw).toHaveLength(32);
    expect(await open(bob, await seal(raw, { text: TEXT }))).toEqual({ text: TEXT });
  });

  it('seals with the pure-JavaScript X25519 as well, opened by the WebCrypto one', async () => {
    const sealed = await sealBytes(bobPublicKey, new TextEncoder().encode(JSON.stringify({ text: TEXT })), { kem: 'portable' });
    expect(await open(bob, toBase64(sealed))).toEqual({ text: TEXT });
  });

  it('fails with any other key, naming nothing of the message', async () => {
    const ciphertext = await seal(bobPublicKey, { text: TEXT });
    for (const key of [mallory, mallory.privateKey, await generateKeyPair({ extractable: true })]) {
      const error = await failure(open(key, ciphertext));
      expect(error.code).toBe('open-failed');
      expect(error.message).not.toContain(ciphertext.slice(0, 16));
      expect(error.message).not.toContain('tulips');
    }
  });

  it('fails with a key pair whose public half is not its private half', async () => {
    const ciphertext = await seal(bobPublicKey, { text: TEXT });
    expect((await failure(open({ privateKey: bob.privateKey, publicKey: mallory.publicKey }, ciphertext))).code).toBe('open-failed');
  });
});

describe('the wire format', () => {
  it('is base64 of the 32-byte encapsulated key, then the sealed UTF-8 JSON and its 16-byte tag', async () => {
    const payload = { text: TEXT };
    const ciphertext = await seal(bobPublicKey, payload);
    expect(ciphertext).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
    const bytes = fromBase64(ciphertext)!;
    expect(bytes).toHaveLength(ENC_BYTES + Buffer.byteLength(JSON.stringify(payload)) + TAG_BYTES);
    // The plaintext never appears in the bytes.
    expect(Buffer.from(bytes).includes(Buffer.from('tulips'))).toBe(false);
  });

  it('uses a fresh ephemeral key for every message', async () => {
    const a = fromBase64(await seal(bobPublicKey, { text: TEXT }))!;
    const b = fromBase64(await seal(bobPublicKey, { text: TEXT }))!;
    expect(Buffer.from(a.subarray(0, ENC_BYTES)).equals(Buffer.from(b.subarray(0, ENC_BYTES)))).toBe(false);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
  });
});

describe('a truncated or altered ciphertext', () => {
  let bytes: Uint8Array;
  beforeAll(async () => {
    bytes = fromBase64(await seal(bobPublicKey, { text: TEXT }))!;
  });

  it('fails when any single bit of the encapsulated key, the sealed text or the tag changes', async () => {
    const positions = [0, 1, 15, 30, ENC_BYTES, ENC_BYTES + 1, ENC_BYTES + 20, bytes.length - TAG_BYTES - 1, bytes.length - TAG_BYTES, bytes.length - 1];
    for (const index of positions) {
      expect({ index, code: (await failure(open(bob, toBase64(flipped(bytes, index))))).code }).toEqual({ index, code: 'open-failed' });
    }
  });

  it('fails when bytes are cut from the end or the start, or added', async () => {
    for (const cut of [1, 16, bytes.length - ENC_BYTES - TAG_BYTES]) {
      expect((await failure(open(bob, toBase64(bytes.subarray(0, bytes.length - cut))))).code).toBe('open-failed');
    }
    expect((await failure(open(bob, toBase64(bytes.subarray(1))))).code).toBe('open-failed');
    expect((await failure(open(bob, toBase64(new Uint8Array([...bytes, 0]))))).code).toBe('open-failed');
  });

  it('is malformed when too short to hold a key and a tag, or over the 64 KiB limit', async () => {
    for (const length of [0, 1, ENC_BYTES, ENC_BYTES + TAG_BYTES - 1]) {
      expect((await failure(open(bob, toBase64(bytes.subarray(0, length))))).code).toBe('malformed-ciphertext');
    }
    expect((await failure(open(bob, toBase64(new Uint8Array(MAX_CIPHERTEXT_BYTES + 1))))).code).toBe('malformed-ciphertext');
  });

  it('is malformed when not canonical standard base64', async () => {
    const good = toBase64(bytes);
    for (const bad of [`${good} `, ` ${good}`, good.replace(/=+$/, ''), toBase64Url(bytes), `${good.slice(0, 10)}\n${good.slice(10)}`, 'not base64!', '']) {
      if (bad === good) continue;
      expect((await failure(open(bob, bad))).code).toBe('malformed-ciphertext');
    }
    // "QR==" decodes like "QQ==" but is not canonical.
    expect((await failure(open(bob, `${good.slice(0, -4)}QR==`))).code).toBe('malformed-ciphertext');
  });
});

describe('payloads', () => {
  it('refuses to seal a payload without a string text', async () => {
    for (const payload of [{}, { text: 42 }, { text: null }, [], null, 'text']) {
      expect((await failure(seal(bobPublicKey, payload as never))).code).toBe('invalid-payload');
    }
  });

  it('seals up to the 64 KiB limit and refuses one byte more', async () => {
    const room = MAX_CIPHERTEXT_BYTES - ENC_BYTES - TAG_BYTES - Buffer.byteLength('{"text":""}');
    const largest = await seal(bobPublicKey, { text: 'a'.repeat(room) });
    expect(fromBase64(largest)).toHaveLength(MAX_CIPHERTEXT_BYTES);
    expect((await open(bob, largest)).text).toHaveLength(room);
    expect((await failure(seal(bobPublicKey, { text: 'a'.repeat(room + 1) }))).code).toBe('payload-too-large');
  });

  it('reports an authentic message that is not UTF-8 JSON with a string text as an invalid payload', async () => {
    for (const plaintext of ['plain words', '[]', 'null', '{"text": 1}', '{"body": "hi"}', '{"text": "hi"']) {
      const sealed = await sealBytes(bobPublicKey, new TextEncoder().encode(plaintext));
      const error = await failure(open(bob, toBase64(sealed)));
      expect(error.code).toBe('invalid-payload');
      expect(error.message).not.toContain(plaintext);
    }
    const notUtf8 = await sealBytes(bobPublicKey, new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]));
    expect((await failure(open(bob, toBase64(notUtf8)))).code).toBe('invalid-payload');
  });
});

describe('public keys', () => {
  it('refuses what is not the base64url of 32 bytes', async () => {
    const raw = Buffer.from(bobPublicKey, 'base64url');
    for (const bad of [
      '',
      bobPublicKey.slice(1),
      `${bobPublicKey}A`,
      `${bobPublicKey}=`,
      raw.toString('base64'),
      Buffer.concat([raw, Buffer.from([0])]).toString('base64url'),
      new Uint8Array(31),
    ]) {
      if (bad === bobPublicKey) continue;
      expect((await failure(seal(bad, { text: TEXT }))).code).toBe('invalid-public-key');
    }
  });

  it('refuses a low-order point, whose shared secret would be all zero', async () => {
    expect((await failure(seal(new Uint8Array(32), { text: TEXT }))).code).toBe('invalid-public-key');
    expect((await failure(sealBytes(new Uint8Array(32), new Uint8Array(1), { kem: 'portable' }))).code).toBe('invalid-public-key');
  });

  it('opens only with what the message was sealed to, whatever the options', async () => {
    const sealed = await sealBytes(bobPublicKey, new Uint8Array([1, 2, 3]), { info: new TextEncoder().encode('another/app/v1') });
    expect((await failure(openBytes(bob, sealed))).code).toBe('open-failed');
    expect(await openBytes(bob, sealed, { info: new TextEncoder().encode('another/app/v1') })).toEqual(new Uint8Array([1, 2, 3]));
  });
});
