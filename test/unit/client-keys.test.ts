/**
 * Keys in the client library: X25519 pairs and the contract's public key
 * spelling, JWK import and export, Node key files (mode 0600), and the
 * browser's device key store in IndexedDB holding non-extractable keys that
 * still open messages after the store is reopened.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IDBFactory } from 'fake-indexeddb';
import {
  ClientCryptoError,
  DeviceKeyStore,
  KEY_FILE_TYPE,
  createKeyFile,
  decodePublicKey,
  derivePublicKey,
  exportPrivateJwk,
  generateKeyPair,
  importPrivateJwk,
  importPublicKey,
  open,
  publicKeyOf,
  readKeyFile,
  seal,
  setKeyFileKeyId,
} from '../../client/node';

async function failure(promise: Promise<unknown>): Promise<ClientCryptoError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ClientCryptoError);
  return error as ClientCryptoError;
}

describe('key pairs', () => {
  it('generates X25519 pairs whose private key is non-extractable unless asked', async () => {
    const device = await generateKeyPair();
    expect(device.privateKey.algorithm).toEqual({ name: 'X25519' });
    expect(device.privateKey.extractable).toBe(false);
    expect(device.privateKey.usages).toEqual(['deriveBits']);
    await expect(crypto.subtle.exportKey('jwk', device.privateKey)).rejects.toThrow();
    await expect(crypto.subtle.exportKey('pkcs8', device.privateKey)).rejects.toThrow();
    expect((await generateKeyPair({ extractable: true })).privateKey.extractable).toBe(true);
  });

  it("spells the public key as the contract's base64url of 32 raw bytes", async () => {
    const pair = await generateKeyPair();
    const publicKey = await publicKeyOf(pair);
    expect(publicKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(publicKey, 'base64url')).toEqual(Buffer.from(await crypto.subtle.exportKey('raw', pair.publicKey)));
    expect(decodePublicKey(publicKey)).toEqual(new Uint8Array(Buffer.from(publicKey, 'base64url')));
    expect(await publicKeyOf(await importPublicKey(publicKey))).toBe(publicKey);
    // The public key of a non-extractable private key, computed without exporting it.
    expect(Buffer.from(await derivePublicKey(pair.privateKey)).toString('base64url')).toBe(publicKey);
    expect((await failure(publicKeyOf(pair.privateKey as never))).code).toBe('invalid-public-key');
  });

  it('refuses public keys that are not 32 bytes of base64url', async () => {
    for (const bad of ['', 'AAAA', 'A'.repeat(44), `${'A'.repeat(42)}=`, `${'A'.repeat(42)}+`]) {
      expect((await failure(importPublicKey(bad))).code).toBe('invalid-public-key');
    }
  });

  it('round-trips a private key through a JWK into a non-extractable pair', async () => {
    const extractable = await generateKeyPair({ extractable: true });
    const jwk = await exportPrivateJwk(extractable);
    expect(Object.keys(jwk).sort()).toEqual(['crv', 'd', 'kty', 'x']);
    expect(jwk).toMatchObject({ kty: 'OKP', crv: 'X25519', x: await publicKeyOf(extractable) });
    const imported = await importPrivateJwk(jwk);
    expect(imported.privateKey.extractable).toBe(false);
    expect(await publicKeyOf(imported)).toBe(jwk.x);
    expect(await open(imported, await seal(jwk.x, { text: 'hello' }))).toEqual({ text: 'hello' });
    expect((await failure(exportPrivateJwk(imported))).code).toBe('invalid-private-key');
  });

  it('refuses a JWK whose x is not the public key of its d', async () => {
    const jwk = await exportPrivateJwk(await generateKeyPair({ extractable: true }));
    const other = await exportPrivateJwk(await generateKeyPair({ extractable: true }));
    const error = await failure(importPrivateJwk({ ...jwk, x: other.x }));
    expect(error.code).toBe('invalid-private-key');
    expect(error.message).not.toContain(jwk.d);
    expect((await failure(importPrivateJwk({ ...jwk, d: 'short' }))).code).toBe('invalid-private-key');
    expect((await failure(importPrivateJwk({ ...jwk, crv: 'Ed25519' } as never))).code).toBe('invalid-private-key');
  });
});

describe('key files (Node)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'client-keys-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a new key to a 0600 JSON file holding a JWK, and reads it back non-extractable', async () => {
    const path = join(dir, 'bob.key.json');
    const created = await createKeyFile(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const file = JSON.parse(readFileSync(path, 'utf8'));
    expect(file).toEqual({
      type: KEY_FILE_TYPE,
      version: 1,
      publicKey: created.publicKey,
      createdAt: created.createdAt,
      privateKey: { kty: 'OKP', crv: 'X25519', x: created.publicKey, d: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) },
    });
    expect(created.keyPair.privateKey.extractable).toBe(false);

    const read = await readKeyFile(path);
    expect(read).toMatchObject({ path, publicKey: created.publicKey, createdAt: created.createdAt });
    expect(read.keyId).toBeUndefined();
    expect(read.keyPair.privateKey.extractable).toBe(false);
    expect(await open(read.keyPair, await seal(read.publicKey, { text: 'from a file' }))).toEqual({ text: 'from a file' });
  });

  it('never overwrites a key file unless asked', async () => {
    const path = join(dir, 'keep.key.json');
    const first = await createKeyFile(path);
    expect((await failure(createKeyFile(path))).code).toBe('key-file');
    expect((await readKeyFile(path)).publicKey).toBe(first.publicKey);
    const second = await createKeyFile(path, { overwrite: true });
    expect(second.publicKey).not.toBe(first.publicKey);
    expect((await readKeyFile(path)).publicKey).toBe(second.publicKey);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('records the keyId the service assigns, keeping the file private', async () => {
    const path = join(dir, 'assigned.key.json');
    const created = await createKeyFile(path);
    const updated = await setKeyFileKeyId(path, 'key_01HZX');
    expect(updated).toMatchObject({ publicKey: created.publicKey, keyId: 'key_01HZX' });
    expect((await readKeyFile(path)).keyId).toBe('key_01HZX');
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('refuses a key file other users can read, as ssh does', async () => {
    const path = join(dir, 'open.key.json');
    await createKeyFile(path);
    chmodSync(path, 0o644);
    const error = await failure(readKeyFile(path));
    expect(error.code).toBe('key-file');
    expect(error.message).toContain('mode 644');
    expect(error.message).toContain('chmod 600');
  });

  it('refuses a missing, malformed or mismatched file without echoing what it holds', async () => {
    expect((await failure(readKeyFile(join(dir, 'missing.json')))).message).toContain('ENOENT');
    const path = join(dir, 'bad.key.json');
    const created = await createKeyFile(path);
    const file = JSON.parse(readFileSync(path, 'utf8'));
    const other = await createKeyFile(join(dir, 'other.key.json'));
    const cases: unknown[] = [
      'not json {',
      { ...file, type: 'something-else' },
      { ...file, privateKey: { ...file.privateKey, d: 'x' } },
      { ...file, publicKey: other.publicKey },
      { ...file, publicKey: other.publicKey, privateKey: { ...file.privateKey, x: other.publicKey } },
    ];
    for (const content of cases) {
      writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content), { mode: 0o600 });
      const error = await failure(readKeyFile(path));
      expect(error.code).toBe('key-file');
      expect(error.message).not.toContain(file.privateKey.d);
      expect(error.message).not.toContain(created.publicKey);
    }
  });
});

describe('the device key store (IndexedDB)', () => {
  it('keeps a non-extractable key that opens messages after the store is reopened', async () => {
    const indexedDB = new IDBFactory();
    const store = await DeviceKeyStore.open({ indexedDB });
    const created = await store.create();
    expect(created.keyPair.privateKey.extractable).toBe(false);
    store.close();

    const reopened = await DeviceKeyStore.open({ indexedDB });
    const current = await reopened.current();
    expect(current?.publicKey).toBe(created.publicKey);
    expect(current?.keyPair.privateKey.extractable).toBe(false);
    await expect(crypto.subtle.exportKey('jwk', current!.keyPair.privateKey)).rejects.toThrow();
    expect(await open(current!.keyPair, await seal(created.publicKey, { text: 'after reload' }))).toEqual({ text: 'after reload' });
    reopened.close();
  });

  it('keeps older keys by keyId, so messages sealed to a replaced key still open', async () => {
    const store = await DeviceKeyStore.open({ indexedDB: new IDBFactory() });
    expect(await store.current()).toBeUndefined();
    const first = await store.create();
    await store.setKeyId(first.publicKey, 'key_1');
    const oldMessage = await seal(first.publicKey, { text: 'sealed to the first key' });
    await new Promise((resolve) => setTimeout(resolve, 5));
    const second = await store.create();
    await store.setKeyId(second.publicKey, 'key_2');

    expect((await store.current())?.publicKey).toBe(second.publicKey);
    expect((await store.list()).map((key) => key.keyId)).toEqual(['key_1', 'key_2']);
    const byId = await store.byKeyId('key_1');
    expect(await open(byId!.keyPair, oldMessage)).toEqual({ text: 'sealed to the first key' });
    await expect(open(second.keyPair, oldMessage)).rejects.toMatchObject({ code: 'open-failed' });

    await store.delete(first.publicKey);
    expect(await store.byKeyId('key_1')).toBeUndefined();
    expect((await store.list()).map((key) => key.publicKey)).toEqual([second.publicKey]);
    expect((await failure(store.setKeyId(first.publicKey, 'key_9'))).code).toBe('invalid-public-key');
    store.close();
  });

  it('says so when the runtime has no IndexedDB', async () => {
    expect((await failure(DeviceKeyStore.open())).code).toBe('unsupported');
  });
});
