/** The client library for Node: everything in `index.ts`, plus key files and synchronous hashing. */
export * from './index';
export { KEY_FILE_MODE, KEY_FILE_TYPE, createKeyFile, readKeyFile, setKeyFileKeyId, type FileKey, type KeyFile } from './keyfile';
export { emailCellSha256Sync, emailSha256Sync, phoneCellSha256Sync, phoneSha256Sync, sha256HexSync } from './hashing-node';
