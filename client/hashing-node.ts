/**
 * The customer-list hashing convention with Node's `createHash`: synchronous,
 * for the CLI's streaming path (one row at a time, no promise per cell). The
 * same normalisation and inputs as the WebCrypto `hashing.ts`; Node only.
 */
import { createHash } from 'node:crypto';
import { emailHashInput, normaliseEmail, normalisePhoneCell, phoneHashInput } from './identifiers';

/** Lowercase hex SHA-256 of the text's UTF-8 bytes. */
export const sha256HexSync = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** `PHONE_SHA256` of a number in E.164. */
export const phoneSha256Sync = (e164: string): string => sha256HexSync(phoneHashInput(e164));

/** `EMAIL_SHA256` of an address. */
export const emailSha256Sync = (email: string): string => sha256HexSync(emailHashInput(email));

/** `PHONE_SHA256` of a phone cell of a customer list, or undefined when it holds no valid number. */
export function phoneCellSha256Sync(value: string, defaultCountry: string): string | undefined {
  const e164 = normalisePhoneCell(value, defaultCountry);
  return e164 ? phoneSha256Sync(e164) : undefined;
}

/** `EMAIL_SHA256` of an email cell of a customer list, or undefined when it holds no valid address. */
export function emailCellSha256Sync(value: string): string | undefined {
  const email = normaliseEmail(value);
  return email ? emailSha256Sync(email) : undefined;
}
