/**
 * Normalising phone numbers and email addresses before hashing, with the
 * rules the service applies to its own users' numbers and addresses, so a
 * business's hash of a customer matches the service's hash of that person.
 * No Node dependency: the CLI and a browser upload share these rules.
 *
 * Hashing convention (the same as the large ad platforms'): `PHONE_SHA256` is
 * the lowercase hex SHA-256 of the E.164 number's digits without the `+`
 * (`"14155550123"`); `EMAIL_SHA256` is the lowercase hex SHA-256 of the
 * trimmed, lower-cased address. `hashing.ts` (WebCrypto, async) and
 * `hashing-node.ts` (Node, synchronous) hash what {@link phoneHashInput} and
 * {@link emailHashInput} give.
 */
import { type CountryCode, isSupportedCountry, parsePhoneNumberFromString } from 'libphonenumber-js/min';
import * as z from 'zod/mini';

const E164 = /^\+[1-9]\d{1,14}$/;

/** E.164 (`+14155550123`), or undefined when the input is not a valid number. */
export function normalisePhone(input: string, defaultCountry?: string): string | undefined {
  const parsed = parsePhoneNumberFromString(input, defaultCountry as CountryCode | undefined);
  if (!parsed || !parsed.isValid()) return undefined;
  return parsed.number;
}

/** An ISO 3166-1 alpha-2 code libphonenumber knows, upper-cased; undefined otherwise. */
export function countryCode(value: string | undefined): CountryCode | undefined {
  const code = value?.trim().toUpperCase();
  return code && /^[A-Z]{2}$/.test(code) && isSupportedCountry(code) ? (code as CountryCode) : undefined;
}

/**
 * A phone number as customer lists write it, in E.164, or undefined. Accepts
 * what libphonenumber accepts for the default country (spaces, dashes, dots,
 * parentheses, national format with its trunk zero, `+` international, the
 * country's own international prefix) and, when that fails, a leading `00`
 * international prefix (`0044 …`), which many lists use whatever the default
 * country's own prefix is.
 */
export function normalisePhoneCell(value: string, defaultCountry: string): string | undefined {
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  const direct = normalisePhone(trimmed, defaultCountry);
  if (direct) return direct;
  const compact = trimmed.replace(/[\s().\-/]/g, '');
  if (/^00[1-9]\d{5,}$/.test(compact)) return normalisePhone(`+${compact.slice(2)}`, defaultCountry);
  return undefined;
}

const emailSchema = z.email();

/** Trimmed and lower-cased, or undefined when the input is not an address. */
export function normaliseEmail(input: string): string | undefined {
  const email = input.trim().toLowerCase();
  if (email.length > 254 || !emailSchema.safeParse(email).success) return undefined;
  return email;
}

/** What `PHONE_SHA256` hashes: the E.164 number's digits without the `+`. Throws (without the value) on anything but E.164. */
export function phoneHashInput(e164: string): string {
  if (!E164.test(e164)) throw new TypeError('expected a number in E.164 (normalise it first)');
  return e164.slice(1);
}

/** What `EMAIL_SHA256` hashes: the trimmed, lower-cased address. */
export const emailHashInput = (email: string): string => email.trim().toLowerCase();
