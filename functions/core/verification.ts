/**
 * Verifying that a caller holds a phone number or email: pure rules, no I/O
 * (services/verification.ts runs them).
 *
 * Codes. A verification's 6-digit code is not random and stored: it is
 * derived from the verification id under a secret key, as HOTP (RFC 4226)
 * derives one from a counter: HMAC-SHA256(key, "code/v1:<id>"), dynamically
 * truncated to 31 bits, modulo 10^6. So the code is never stored and never
 * travels through the outbox queue: the queue carries the verification id
 * only, and the sender, which holds the key, derives the code just before
 * sending it. Without the key a code cannot be told from a random one. A
 * submitted code is compared in constant time.
 *
 * Limits. A rolling window: the times of the last starts, kept per account
 * and per identifier; a start is admitted while fewer than `limit` fall
 * within `windowSeconds`, and a refusal says when the oldest of them leaves.
 * The counter of an identifier is keyed by an HMAC of the value under the
 * same key, so it holds no number or address.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export type VerifiedField = 'phoneNumber' | 'email';

/** How long a code works. */
export const CODE_TTL_SECONDS = 600;
/** Wrong codes a verification takes; the last of them ends it (410). */
export const MAX_WRONG_CODES = 5;
export const CODE_DIGITS = 6;

/** The app's name, the only sender a message names (never the requester). */
export const APP_NAME = 'Consent Audiences';

/** An opaque, unguessable verification id (128 random bits, base64url). */
export const newVerificationId = (): string => randomBytes(16).toString('base64url');

/** The code of a verification (CODE_DIGITS digits, zero-padded). */
export function verificationCode(key: Buffer, verificationId: string): string {
  const mac = createHmac('sha256', key).update(`code/v1:${verificationId}`).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const value = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(value % 10 ** CODE_DIGITS).padStart(CODE_DIGITS, '0');
}

/** Whether `code` is the verification's code, compared in constant time. */
export function codeMatches(key: Buffer, verificationId: string, code: string): boolean {
  const expected = Buffer.from(verificationCode(key, verificationId), 'utf8');
  const given = Buffer.from(code, 'utf8');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The key of an identifier's rate counter: an HMAC of the value, so the counter holds no number or address. */
export const identifierTag = (key: Buffer, field: VerifiedField, value: string): string =>
  createHmac('sha256', key).update(`limit/v1:${field}:${value}`).digest('hex');

export interface WindowDecision {
  readonly admitted: boolean;
  /** The start times to keep (inside the window), with `now` added when admitted. */
  readonly times: number[];
  /** Seconds until a start would be admitted (0 when admitted). */
  readonly retryAfter: number;
}

/** A start at `now` (epoch seconds) against the earlier starts `times`: at most `limit` within any `windowSeconds`. */
export function admit(times: readonly number[], now: number, limit: number, windowSeconds: number): WindowDecision {
  const recent = times.filter((t) => t > now - windowSeconds).sort((a, b) => a - b);
  if (recent.length < limit) return { admitted: true, times: [...recent, now], retryAfter: 0 };
  const oldest = recent[recent.length - limit]!;
  return { admitted: false, times: recent, retryAfter: Math.max(1, oldest + windowSeconds - now) };
}

/** What is sent: it names the app and never who asked for the code. */
export function verificationMessage(code: string): { subject: string; text: string } {
  return {
    subject: `Your ${APP_NAME} code`,
    text: `${code} is your ${APP_NAME} verification code. It expires in ${CODE_TTL_SECONDS / 60} minutes. Never share it; nobody from ${APP_NAME} will ask for it.`,
  };
}

/** The kind of match key an identifier field makes (core/identifiers.ts). */
export const identifierKind = (field: VerifiedField): 'PHONE' | 'EMAIL' => (field === 'phoneNumber' ? 'PHONE' : 'EMAIL');

/** Whether a verification can still take a code (and be sent one) at `nowSeconds`. */
export const isLive = <V extends { readonly expiresAt: number; readonly wrongCodes: number }>(v: V | undefined, nowSeconds: number): v is V =>
  v !== undefined && v.expiresAt > nowSeconds && v.wrongCodes < MAX_WRONG_CODES;
