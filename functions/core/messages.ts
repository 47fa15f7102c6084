/**
 * Business messages: pure rules, no I/O. A message is accepted, then either
 * delivered (its recipient acknowledged it) or expired (30 days passed first).
 * Its ciphertext is opaque: only its base64 form and decoded size are checked.
 */
import { randomBytes } from 'node:crypto';
import { isoSeconds } from '../shared/clock';

export const MESSAGE_CATEGORIES = ['receipt', 'reservation', 'delivery_update'] as const;
export type MessageCategory = (typeof MESSAGE_CATEGORIES)[number];

export const MESSAGE_STATUSES = ['accepted', 'delivered', 'expired'] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

/** Undelivered messages are kept exactly 30 days: 2,592,000 seconds. */
export const MESSAGE_TTL_SECONDS = 30 * 24 * 3600;
/** Status records (and clientMessageId records) outlive their message by 90 days. */
export const STATUS_RETENTION_SECONDS = 90 * 24 * 3600;
/** Largest ciphertext, decoded: 64 KiB. */
export const MAX_CIPHERTEXT_BYTES = 64 * 1024;
/** Longest base64 text of at most MAX_CIPHERTEXT_BYTES bytes. */
export const MAX_CIPHERTEXT_CHARS = 4 * Math.ceil(MAX_CIPHERTEXT_BYTES / 3);

// ------------------------------------------------------------------ ciphertext

/** 1 for the 64 characters of the standard base64 alphabet (RFC 4648 section 4), 0 otherwise. */
const BASE64_ALPHABET = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/') BASE64_ALPHABET[c.charCodeAt(0)] = 1;
const PAD = '='.charCodeAt(0);

/**
 * The number of bytes `text` decodes to if it is standard, padded base64
 * (RFC 4648 section 4: the `+/` alphabet, length a multiple of 4, at most two
 * `=` and only at the end, no whitespace); undefined otherwise. Measures,
 * never decodes: 3 bytes a 4-character group, less one a `=`.
 */
export function base64DecodedLength(text: string): number | undefined {
  const length = text.length;
  if (length % 4 !== 0) return undefined;
  let padding = 0;
  if (length > 0 && text.charCodeAt(length - 1) === PAD) padding = text.charCodeAt(length - 2) === PAD ? 2 : 1;
  for (let i = 0; i < length - padding; i++) {
    const code = text.charCodeAt(i);
    if (code >= 128 || BASE64_ALPHABET[code] !== 1) return undefined;
  }
  return (3 * length) / 4 - padding;
}

export type CiphertextProblem = 'empty' | 'not-base64' | 'too-large';

/** Why a ciphertext is not acceptable, or undefined when it is. */
export function ciphertextProblem(text: string): CiphertextProblem | undefined {
  // Longer than any base64 of 64 KiB: no need to look at it.
  if (text.length > MAX_CIPHERTEXT_CHARS) return 'too-large';
  const bytes = base64DecodedLength(text);
  if (bytes === undefined) return 'not-base64';
  if (bytes === 0) return 'empty';
  if (bytes > MAX_CIPHERTEXT_BYTES) return 'too-large';
  return undefined;
}

export const ciphertextProblemMessages: Record<CiphertextProblem, string> = {
  empty: 'Must not be empty',
  'not-base64': 'Must be standard base64 (A-Z, a-z, 0-9, + and /, padded with = to a multiple of 4 characters)',
  'too-large': `Must decode to at most ${MAX_CIPHERTEXT_BYTES} bytes`,
};

// ------------------------------------------------------------------ ids

/** Crockford's base32: in ASCII order, so ids sort as their times do. */
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const TIME_CHARS = 10; // 48 bits of milliseconds
const RANDOM_CHARS = 16; // 80 random bits
const RANDOM_LIMIT = 1n << 80n;

function encode(value: bigint, chars: number): string {
  let out = '';
  for (let i = 0; i < chars; i++) {
    out = CROCKFORD[Number(value & 31n)] + out;
    value >>= 5n;
  }
  return out;
}

/**
 * A factory of ULIDs (26 characters: 48-bit milliseconds, then 80 random
 * bits) that sort in the order they were made: within one millisecond the
 * random part counts up instead of being drawn again.
 */
export function messageIdFactory(random: (bytes: number) => Buffer = randomBytes) {
  let lastMs = -1;
  let lastRandom = 0n;
  return (nowMs: number): string => {
    if (!Number.isSafeInteger(nowMs) || nowMs < 0 || nowMs >= 2 ** 48) throw new RangeError('Time out of the ULID range');
    if (nowMs <= lastMs && lastRandom + 1n < RANDOM_LIMIT) {
      lastRandom += 1n;
    } else {
      lastMs = Math.max(nowMs, lastMs);
      lastRandom = BigInt(`0x${random(10).toString('hex')}`);
    }
    return encode(BigInt(lastMs), TIME_CHARS) + encode(lastRandom, RANDOM_CHARS);
  };
}

export const MESSAGE_ID = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;

/** The millisecond a message id was made, or undefined when it is not one. */
export function messageIdTime(id: string): number | undefined {
  if (!MESSAGE_ID.test(id)) return undefined;
  let ms = 0;
  for (const c of id.slice(0, TIME_CHARS)) ms = ms * 32 + CROCKFORD.indexOf(c);
  return ms;
}

// ------------------------------------------------------------------ time

export interface Acceptance {
  /** ISO 8601, whole seconds. */
  acceptedAt: string;
  /** ISO 8601, exactly MESSAGE_TTL_SECONDS after acceptedAt. */
  expiresAt: string;
  /** expiresAt in epoch seconds: the messages table's TTL attribute. */
  expiresAtSeconds: number;
  /** When the status record (and clientMessageId record) may go, epoch seconds. */
  statusExpiresAtSeconds: number;
}

/** The times of a message accepted at `now`: whole seconds, so expiresAt is exactly 30 days later. */
export function acceptance(now: Date): Acceptance {
  const acceptedAtSeconds = Math.floor(now.getTime() / 1000);
  const expiresAtSeconds = acceptedAtSeconds + MESSAGE_TTL_SECONDS;
  return {
    acceptedAt: isoSeconds(new Date(acceptedAtSeconds * 1000)),
    expiresAt: isoSeconds(new Date(expiresAtSeconds * 1000)),
    expiresAtSeconds,
    statusExpiresAtSeconds: expiresAtSeconds + STATUS_RETENTION_SECONDS,
  };
}

export const secondsToIso = (epochSeconds: number): string => isoSeconds(new Date(epochSeconds * 1000));

/** A message is expired from its expiresAt second on: never listed or acknowledged again. */
export const isExpired = (expiresAtSeconds: number, nowSeconds: number): boolean => expiresAtSeconds <= nowSeconds;

// ------------------------------------------------------------------ status

/** The principal of the stream records of DynamoDB's TTL deletions. */
export const TTL_PRINCIPAL = 'dynamodb.amazonaws.com';

/** What a removal from the messages table means: TTL deletions are expiries, every other removal is a delivery. */
export function removalStatus(userIdentity: { type?: string; principalId?: string } | undefined): 'delivered' | 'expired' {
  return userIdentity?.principalId === TTL_PRINCIPAL ? 'expired' : 'delivered';
}

/** A status only ever moves from accepted to one of the final ones; it never goes back. */
export function canMove(from: MessageStatus, to: MessageStatus): boolean {
  return from === 'accepted' && to !== 'accepted';
}

/**
 * After expiresAt, how long an accepted message is still reported as
 * accepted before a read may call it expired: longer than any acknowledgement
 * in flight (which checked the clock before expiresAt) can take to land.
 */
export const EXPIRY_GRACE_SECONDS = 60;

export interface StoredStatus {
  status: MessageStatus;
  acceptedAt: string;
  messageExpiresAt: number;
  updatedAt: string;
}

/**
 * Whether a read must look at the messages table before answering: an
 * accepted message whose expiry (plus grace) has passed but whose removal the
 * status function has not recorded yet.
 */
export const needsStoreCheck = (stored: StoredStatus, nowSeconds: number): boolean =>
  stored.status === 'accepted' && stored.messageExpiresAt + EXPIRY_GRACE_SECONDS <= nowSeconds;

/**
 * The status a sender is shown. A message that is past its expiry (and the
 * grace) and still in the store was certainly not acknowledged and never can
 * be: it is `expired` already, as of its expiresAt, even before DynamoDB's
 * TTL deletes it (which may take days). A message no longer in the store was
 * either acknowledged or deleted by TTL: the stored status stands until the
 * stream tells which, so a shown status never changes from expired to
 * delivered. An expired message's `updatedAt` is always its `expiresAt`,
 * however late DynamoDB's TTL process (which takes up to days) deleted it,
 * so the answer says nothing about when the deletion happened.
 */
export function shownStatus(stored: StoredStatus, nowSeconds: number, stillStored: boolean | undefined): StoredStatus {
  if (stored.status === 'expired' || (needsStoreCheck(stored, nowSeconds) && stillStored === true)) {
    return { ...stored, status: 'expired', updatedAt: secondsToIso(stored.messageExpiresAt) };
  }
  return stored;
}

// ------------------------------------------------------------------ limits

export const RATE_WINDOW_SECONDS = 60;

/** The fixed window `nowSeconds` falls in, and the seconds until the next one starts (at least 1). */
export function rateWindow(nowSeconds: number, windowSeconds = RATE_WINDOW_SECONDS): { start: number; end: number; retryAfter: number } {
  const start = nowSeconds - (((nowSeconds % windowSeconds) + windowSeconds) % windowSeconds);
  const end = start + windowSeconds;
  return { start, end, retryAfter: Math.max(1, end - nowSeconds) };
}

export const HOUR_SECONDS = 3600;
export const DAY_SECONDS = 86_400;

/**
 * A recipient is new to a business that has not looked up their key or sent
 * them a message for this long; each lookup or send starts it again.
 */
export const CONTACT_SECONDS = MESSAGE_TTL_SECONDS;
/** A contact is extended by a lookup or send only once less than this is left, so most sends write nothing for it. */
export const CONTACT_REFRESH_BELOW_SECONDS = CONTACT_SECONDS - DAY_SECONDS;

/**
 * New recipients are counted in hour buckets. A new recipient reached in
 * hour `h` is admitted only while the buckets `h - 24` to `h` hold fewer than
 * the limit, so any 24 hours (which span at most 25 buckets, that is, hours
 * `h - 24` to `h` for the hour `h` the window ends in) see at most the limit:
 * the rolling 24 hours are exact, and a recipient holds its place for 24 to
 * 25 hours. Only the current bucket is written; the earlier ones are read.
 */
export const NEW_RECIPIENT_BUCKETS = 25;

export const hourOf = (nowSeconds: number): number => Math.floor(nowSeconds / HOUR_SECONDS);

/** The earlier hours whose buckets count with the current one, oldest first. */
export const earlierHours = (hour: number): number[] => Array.from({ length: NEW_RECIPIENT_BUCKETS - 1 }, (_, i) => hour - (NEW_RECIPIENT_BUCKETS - 1) + i);

/** How many more new recipients the current hour's bucket may take, given the counts of the earlier hours. */
export function currentHourAllowance(limit: number, earlierCounts: ReadonlyMap<number, number>): number {
  let earlier = 0;
  for (const count of earlierCounts.values()) earlier += count;
  return Math.max(0, limit - earlier);
}

/**
 * Seconds until a new recipient can be admitted again, given the counts of
 * the window's buckets (earlier hours and the current one): until the start
 * of the first hour whose window holds fewer than the limit (at least 1).
 */
export function newRecipientRetryAfter(nowSeconds: number, limit: number, counts: ReadonlyMap<number, number>): number {
  const hour = hourOf(nowSeconds);
  for (let k = 1; k <= NEW_RECIPIENT_BUCKETS; k++) {
    let total = 0;
    for (const [h, count] of counts) if (h > hour - NEW_RECIPIENT_BUCKETS + k && h <= hour) total += count;
    if (total < limit) return Math.max(1, (hour + k) * HOUR_SECONDS - nowSeconds);
  }
  return Math.max(1, (hour + NEW_RECIPIENT_BUCKETS) * HOUR_SECONDS - nowSeconds);
}

/** The UTC day `nowSeconds` falls in (days since the epoch), and the seconds until the next one (at least 1). */
export function dayWindow(nowSeconds: number): { day: number; end: number; retryAfter: number } {
  const day = Math.floor(nowSeconds / DAY_SECONDS);
  const end = (day + 1) * DAY_SECONDS;
  return { day, end, retryAfter: Math.max(1, end - nowSeconds) };
}
