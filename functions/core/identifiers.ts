/**
 * Phone numbers and email addresses: normalisation, the public hashing
 * convention businesses use, and the keyed match keys the service stores.
 *
 * Convention (the same as the large ad platforms'): PHONE_SHA256 is the
 * lowercase hex SHA-256 of the E.164 number's digits without the `+`;
 * EMAIL_SHA256 is the lowercase hex SHA-256 of the trimmed, lower-cased address.
 * Match keys are HMAC-SHA256(pepper, "<KIND>:<sha256 hex>"), so the stored
 * keys are useless without the pepper and never equal an uploaded hash.
 */
import { createHash, createHmac } from 'node:crypto';
import { parsePhoneNumberFromString } from 'libphonenumber-js/min';
import * as z from 'zod';

export type IdentifierKind = 'PHONE' | 'EMAIL';

/** E.164, or undefined when the input is not a valid number. */
export function normalisePhone(input: string, defaultCountry?: string): string | undefined {
  const parsed = parsePhoneNumberFromString(input, defaultCountry as Parameters<typeof parsePhoneNumberFromString>[1]);
  if (!parsed || !parsed.isValid()) return undefined;
  return parsed.number;
}

const emailSchema = z.email();

/** Trimmed and lower-cased, or undefined when the input is not an address. */
export function normaliseEmail(input: string): string | undefined {
  const email = input.trim().toLowerCase();
  if (email.length > 254 || !emailSchema.safeParse(email).success) return undefined;
  return email;
}

export const sha256Hex = (value: string): string => createHash('sha256').update(value).digest('hex');

export const phoneSha256 = (e164: string): string => sha256Hex(e164.replace(/^\+/, ''));
export const emailSha256 = (email: string): string => sha256Hex(email.trim().toLowerCase());

/** Lowercase hex digits by character code: 1 for 0-9 and a-f. */
const HEX_DIGIT = new Uint8Array(128);
for (const c of '0123456789abcdef') HEX_DIGIT[c.charCodeAt(0)] = 1;

/** Whether `value` is 64 lowercase hex characters (a SHA-256 as the contract spells it). */
export function isSha256Hex(value: string): boolean {
  if (value.length !== 64) return false;
  for (let i = 0; i < 64; i++) if (HEX_DIGIT[value.charCodeAt(i)] !== 1) return false;
  return true;
}

const hmac = (pepper: Buffer, kind: IdentifierKind, hashHex: string) => createHmac('sha256', pepper).update(`${kind}:${hashHex}`);

/** The stored match key of one hashed identifier (hex, as the match index spells it). */
export function matchKey(pepper: Buffer, kind: IdentifierKind, hashHex: string): string {
  return hmac(pepper, kind, hashHex).digest('hex');
}

/** The bytes of a match key, written into `target` at `offset` (upload chunks carry them); returns the offset after them. */
export function writeMatchKey(pepper: Buffer, kind: IdentifierKind, hashHex: string, target: Buffer, offset: number): number {
  // A 'binary' (latin1) digest is a 32-character string of the key's bytes: written straight in, no Buffer per key.
  return offset + target.write(hmac(pepper, kind, hashHex).digest('binary'), offset, 'binary');
}

/** The match keys of an account's identifiers. */
export function accountMatchKeys(pepper: Buffer, account: { phoneNumber?: string; email?: string }): string[] {
  const keys: string[] = [];
  if (account.phoneNumber) keys.push(matchKey(pepper, 'PHONE', phoneSha256(account.phoneNumber)));
  if (account.email) keys.push(matchKey(pepper, 'EMAIL', emailSha256(account.email)));
  return keys;
}
