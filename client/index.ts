/**
 * The client library: message encryption (HPKE as the contract names it),
 * the typed API calls for keys, sending, the inbox and blocks (`messages.ts`),
 * X25519 keys, a device key store in IndexedDB, and the customer-list hashing
 * convention. This entry imports no Node module and runs in browsers; Node
 * code (CLI, scripts, tests) imports `client/node`, which adds key files and
 * synchronous hashing.
 */
export { ClientCryptoError, type ClientCryptoErrorCode } from './errors';
export { fromBase64, fromBase64Url, toBase64, toBase64Url } from './encoding';
export {
  ENC_BYTES,
  MAX_CIPHERTEXT_BYTES,
  MESSAGE_INFO,
  TAG_BYTES,
  messageSuite,
  open,
  openBytes,
  seal,
  sealBytes,
  type HpkeOptions,
  type KemImplementation,
  type MessagePayload,
  type RecipientKey,
} from './hpke';
export {
  PUBLIC_KEY_BYTES,
  decodePublicKey,
  derivePublicKey,
  exportPrivateJwk,
  generateKeyPair,
  importPrivateJwk,
  importPublicKey,
  publicKeyOf,
  type X25519PrivateJwk,
} from './keys';
export { DeviceKeyStore, type DeviceKey, type IdbFactory } from './keystore';
export { countryCode, emailHashInput, normaliseEmail, normalisePhone, normalisePhoneCell, phoneHashInput } from './identifiers';
export { emailCellSha256, emailSha256, phoneCellSha256, phoneSha256, sha256Hex } from './hashing';
export {
  COUNTRY_HEADERS,
  EMAIL_HEADERS,
  MAX_BATCH_DATA_BYTES,
  MAX_BATCH_ROWS,
  PHONE_HEADERS,
  batchRows,
  detectDelimiter,
  detectKnownColumns,
  findKnownColumn,
  hashRecord,
  headerKey,
  normaliseRecord,
  rowBytes,
  schemaOf,
  type Batch,
  type CellStats,
  type Column,
  type Columns,
  type HashedRow,
  type SchemaKey,
} from './customer-list';
export { hasWebCryptoX25519, type CryptoKey, type CryptoKeyPair } from './webcrypto';
export {
  MAX_ACK_IDS,
  acknowledge,
  blockBusiness,
  blocks,
  inbox,
  inboxPage,
  messageStatus,
  openInbox,
  publishKey,
  recipientKey,
  sendMessage,
  sendSealed,
  unblockBusiness,
  type Block,
  type CallOptions,
  type InboxMessage,
  type MessageAccepted,
  type MessageCategory,
  type MessageKey,
  type MessageStatus,
  type OpenedMessage,
  type RecipientPublicKey,
  type SealedSend,
  type SealedSendOptions,
} from './messages';
export { ApiError, createApi, ok, type Api, type ApiOptions } from './api';
export {
  receiptHashOf,
  receiptSigningBytes,
  verifyExport,
  verifyReceiptChain,
  type ChainReceipt,
  type ChainVerification,
  type KeySet,
  type ReceiptExport,
  type ReceiptProblem,
} from './receipts';
