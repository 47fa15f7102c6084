/**
 * A message key in a file, for Node (the CLI, scripts, tests): JSON with the
 * private key as a JWK (RFC 8037), written with mode 0600 and refused when
 * other users can read it, as ssh refuses an open private key.
 *
 *     {
 *       "type": "consent-audiences/message-key",
 *       "version": 1,
 *       "publicKey": "<base64url of the 32-byte X25519 public key>",
 *       "keyId": "<the service's id, once registered with PUT /v1/me/keys>",
 *       "createdAt": "2026-01-01T00:00:00.000Z",
 *       "privateKey": { "kty": "OKP", "crv": "X25519", "x": "<= publicKey>", "d": "<private key>" }
 *     }
 *
 * Reading a file gives a key pair whose private key is non-extractable.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import * as z from 'zod';
import { ClientCryptoError } from './errors';
import { exportPrivateJwk, generateKeyPair, importPrivateJwk } from './keys';
import type { CryptoKeyPair } from './webcrypto';

export const KEY_FILE_TYPE = 'consent-audiences/message-key';
export const KEY_FILE_MODE = 0o600;

const base64url32 = z.string().regex(/^[A-Za-z0-9_-]{43}$/);

const keyFileSchema = z.object({
  type: z.literal(KEY_FILE_TYPE),
  version: z.literal(1),
  publicKey: base64url32,
  keyId: z.string().min(1).optional(),
  createdAt: z.iso.datetime(),
  privateKey: z.object({ kty: z.literal('OKP'), crv: z.literal('X25519'), x: base64url32, d: base64url32 }),
});

export type KeyFile = z.infer<typeof keyFileSchema>;

/** A key read from (or just written to) a key file. */
export interface FileKey {
  readonly path: string;
  /** The private key is non-extractable. */
  readonly keyPair: CryptoKeyPair;
  readonly publicKey: string;
  readonly keyId?: string;
  readonly createdAt: string;
}

const errorCode = (error: unknown): string | undefined => (error as { code?: string } | undefined)?.code;

async function writeNew(path: string, text: string): Promise<void> {
  const handle = await open(path, 'wx', KEY_FILE_MODE);
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes the file atomically (a private temporary file renamed over the path), mode 0600. */
async function writeKeyFile(path: string, file: KeyFile, overwrite: boolean): Promise<void> {
  const text = `${JSON.stringify(file, null, 2)}\n`;
  if (!overwrite) {
    try {
      await writeNew(path, text);
    } catch (error) {
      if (errorCode(error) === 'EEXIST') throw new ClientCryptoError('key-file', `${path} already exists; a key file is never overwritten unless asked`);
      throw error;
    }
    return;
  }
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeNew(temporary, text);
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
}

/** Generates a key pair and writes it to a new key file (mode 0600); `overwrite` replaces an existing file. */
export async function createKeyFile(path: string, options: { overwrite?: boolean } = {}): Promise<FileKey> {
  const extractable = await generateKeyPair({ extractable: true });
  const privateKey = await exportPrivateJwk(extractable);
  const file: KeyFile = { type: KEY_FILE_TYPE, version: 1, publicKey: privateKey.x, createdAt: new Date().toISOString(), privateKey };
  await writeKeyFile(path, file, options.overwrite ?? false);
  return { path, keyPair: await importPrivateJwk(privateKey), publicKey: file.publicKey, createdAt: file.createdAt };
}

async function readChecked(path: string): Promise<KeyFile> {
  let text: string;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new ClientCryptoError('key-file', `${path} is not a file`);
    if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
      const mode = (info.mode & 0o777).toString(8).padStart(3, '0');
      throw new ClientCryptoError('key-file', `${path} holds a private key but other users can access it (mode ${mode}); run: chmod 600 ${path}`);
    }
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (error instanceof ClientCryptoError) throw error;
    throw new ClientCryptoError('key-file', `${path} cannot be read (${errorCode(error) ?? 'error'})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const parsed = keyFileSchema.safeParse(json);
  // Only the paths of bad fields are named: never a value from a file holding a private key.
  if (!parsed.success) {
    const fields = [...new Set(parsed.error.issues.map((issue) => issue.path.join('.') || '(file)'))].join(', ');
    throw new ClientCryptoError('key-file', `${path} is not a ${KEY_FILE_TYPE} file (check: ${fields})`);
  }
  if (parsed.data.publicKey !== parsed.data.privateKey.x) throw new ClientCryptoError('key-file', `${path}: "publicKey" differs from "privateKey.x"`);
  return parsed.data;
}

/** Reads a key file: the key pair (private key non-extractable), its public key and keyId. */
export async function readKeyFile(path: string): Promise<FileKey> {
  const file = await readChecked(path);
  let keyPair: CryptoKeyPair;
  try {
    keyPair = await importPrivateJwk(file.privateKey);
  } catch (error) {
    throw new ClientCryptoError('key-file', `${path}: ${error instanceof ClientCryptoError ? error.message : 'not a usable X25519 private key'}`);
  }
  return { path, keyPair, publicKey: file.publicKey, ...(file.keyId !== undefined && { keyId: file.keyId }), createdAt: file.createdAt };
}

/** Records the `keyId` the service assigned to the file's key (after `PUT /v1/me/keys`). */
export async function setKeyFileKeyId(path: string, keyId: string): Promise<FileKey> {
  const file = await readChecked(path);
  await writeKeyFile(path, { ...file, keyId }, true);
  return readKeyFile(path);
}
