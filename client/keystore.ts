/**
 * A device's message keys in IndexedDB, for the web app. Each private key is
 * a non-extractable WebCrypto CryptoKey: IndexedDB stores the key object
 * itself (structured clone), so the page can use it to open messages after a
 * reload, but no script can ever read its bytes.
 *
 * Keys are kept by their public key; the `keyId` the service assigns on
 * `PUT /v1/me/keys` is added once known. Older keys stay until deleted, so
 * messages sealed to a previous key (inbox items carry their `keyId`) still
 * open after the device registers a new one.
 */
import { ClientCryptoError } from './errors';
import { generateKeyPair, publicKeyOf } from './keys';
import type { CryptoKeyPair } from './webcrypto';

/** One stored key. */
export interface DeviceKey {
  /** The contract's `publicKey` (base64url), the record's key. */
  readonly publicKey: string;
  /** The private key is non-extractable. */
  readonly keyPair: CryptoKeyPair;
  /** The service's id for this key, once registered. */
  readonly keyId?: string;
  readonly createdAt: string;
}

// The few IndexedDB members used here, typed structurally: a browser's `indexedDB` and test doubles both fit.
interface IdbRequest<T> {
  readonly result: T;
  readonly error: unknown;
  onsuccess: ((event: unknown) => void) | null;
  onerror: ((event: unknown) => void) | null;
}
interface IdbOpenRequest extends IdbRequest<IdbDatabase> {
  onupgradeneeded: ((event: unknown) => void) | null;
}
interface IdbObjectStore {
  get(key: string): IdbRequest<unknown>;
  getAll(): IdbRequest<unknown[]>;
  put(value: unknown): IdbRequest<unknown>;
  delete(key: string): IdbRequest<unknown>;
}
interface IdbTransaction {
  readonly error: unknown;
  objectStore(name: string): IdbObjectStore;
  oncomplete: ((event: unknown) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onabort: ((event: unknown) => void) | null;
}
interface IdbDatabase {
  readonly objectStoreNames: { contains(name: string): boolean };
  createObjectStore(name: string, options: { keyPath: string }): unknown;
  transaction(storeName: string, mode: 'readonly' | 'readwrite'): IdbTransaction;
  close(): void;
}
export interface IdbFactory {
  open(name: string, version?: number): IdbOpenRequest;
}

const DATABASE = 'consent-audiences';
const VERSION = 1;
const STORE = 'message-keys';

function done<T>(request: IdbRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function isDeviceKey(value: unknown): value is DeviceKey {
  const record = value as Partial<DeviceKey> | undefined;
  return typeof record?.publicKey === 'string' && typeof record.createdAt === 'string' && typeof record.keyPair?.privateKey === 'object';
}

export class DeviceKeyStore {
  private constructor(private readonly db: IdbDatabase) {}

  /** Opens (creating on first use) the key database; `indexedDB` defaults to the browser's. */
  static async open(options: { indexedDB?: IdbFactory; name?: string } = {}): Promise<DeviceKeyStore> {
    const factory = options.indexedDB ?? (globalThis as { indexedDB?: IdbFactory }).indexedDB;
    if (!factory) throw new ClientCryptoError('unsupported', 'this runtime has no IndexedDB to keep a device key in');
    const request = factory.open(options.name ?? DATABASE, VERSION);
    request.onupgradeneeded = () => {
      if (!request.result.objectStoreNames.contains(STORE)) request.result.createObjectStore(STORE, { keyPath: 'publicKey' });
    };
    return new DeviceKeyStore(await done(request));
  }

  private async run<T>(mode: 'readonly' | 'readwrite', action: (store: IdbObjectStore) => IdbRequest<T>): Promise<T> {
    const transaction = this.db.transaction(STORE, mode);
    const committed = new Promise<void>((resolve, reject) => {
      transaction.oncomplete = () => resolve();
      transaction.onerror = () => reject(transaction.error);
      transaction.onabort = () => reject(transaction.error);
    });
    const [result] = await Promise.all([done(action(transaction.objectStore(STORE))), committed]);
    return result;
  }

  /** Generates a non-extractable key pair and stores it; register its `publicKey`, then {@link setKeyId}. */
  async create(): Promise<DeviceKey> {
    const keyPair = await generateKeyPair({ extractable: false });
    const key: DeviceKey = { publicKey: await publicKeyOf(keyPair), keyPair, createdAt: new Date().toISOString() };
    await this.run('readwrite', (store) => store.put(key));
    return key;
  }

  /** Records the service's `keyId` for a stored key. */
  async setKeyId(publicKey: string, keyId: string): Promise<DeviceKey> {
    const key = await this.get(publicKey);
    if (!key) throw new ClientCryptoError('invalid-public-key', 'no stored key has this public key');
    const updated: DeviceKey = { ...key, keyId };
    await this.run('readwrite', (store) => store.put(updated));
    return updated;
  }

  async get(publicKey: string): Promise<DeviceKey | undefined> {
    const record = await this.run('readonly', (store) => store.get(publicKey));
    return isDeviceKey(record) ? record : undefined;
  }

  /** Every stored key, oldest first. */
  async list(): Promise<DeviceKey[]> {
    const records = await this.run('readonly', (store) => store.getAll());
    return records.filter(isDeviceKey).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** The newest key: the one to register and to open new messages with. */
  async current(): Promise<DeviceKey | undefined> {
    return (await this.list()).at(-1);
  }

  /** The key a message was sealed to, by the `keyId` its inbox item carries. */
  async byKeyId(keyId: string): Promise<DeviceKey | undefined> {
    return (await this.list()).find((key) => key.keyId === keyId);
  }

  async delete(publicKey: string): Promise<void> {
    await this.run('readwrite', (store) => store.delete(publicKey));
  }

  close(): void {
    this.db.close();
  }
}
