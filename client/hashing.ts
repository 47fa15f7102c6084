/**
 * The customer-list hashing convention on WebCrypto (`crypto.subtle.digest`,
 * async): what a browser upload uses. `hashing-node.ts` gives the same hashes
 * synchronously with Node's `createHash`, for the CLI's streaming path.
 */
import { toHex, utf8 } from './encoding';
import { emailHashInput, normaliseEmail, normalisePhoneCell, phoneHashInput } from './identifiers';
import { subtle } from './webcrypto';

/** Lowercase hex SHA-256 of the text's UTF-8 bytes. */
export async function sha256Hex(text: string): Promise<string> {
  return toHex(new Uint8Array(await subtle().digest('SHA-256', utf8(text))));
}

/** `PHONE_SHA256` of a number in E.164. */
export const phoneSha256 = async (e164: string): Promise<string> => sha256Hex(phoneHashInput(e164));

/** `EMAIL_SHA256` of an address. */
export const emailSha256 = async (email: string): Promise<string> => sha256Hex(emailHashInput(email));

/** `PHONE_SHA256` of a phone cell of a customer list, or undefined when it holds no valid number. */
export async function phoneCellSha256(value: string, defaultCountry: string): Promise<string | undefined> {
  const e164 = normalisePhoneCell(value, defaultCountry);
  return e164 ? phoneSha256(e164) : undefined;
}

/** `EMAIL_SHA256` of an email cell of a customer list, or undefined when it holds no valid address. */
export async function emailCellSha256(value: string): Promise<string | undefined> {
  const email = normaliseEmail(value);
  return email ? emailSha256(email) : undefined;
}
