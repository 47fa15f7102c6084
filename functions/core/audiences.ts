/**
 * Custom audiences: pure rules, no I/O.
 *
 * - Rows: validated and keyed at the edge. A cell is "" (unknown) or 64
 *   lowercase hex characters; anything else makes its row invalid (counted,
 *   sampled by index only). Valid cells are replaced at once by their match
 *   key, HMAC-SHA256(pepper, "<KIND>:<sha256>") (core/identifiers.ts), so the
 *   business's SHA-256 values never leave the request's memory.
 * - Chunks: keyed rows travel to the matcher as compact binary (a flag byte
 *   and 32 bytes per key), base64, cut to stay well under SQS's 256 KB.
 *   Keys are written straight into the chunks as they are made: no object
 *   or buffer per row, which matters at 10,000 rows a request.
 * - Sessions: `batchSeq` from 1, one `lastBatch`, closed when every batch up
 *   to the last is in or `sessionTimeoutMinutes` after the first batch.
 * - Counts: exact, per expiry day ("buckets"), so the number of members alive
 *   now is exact without waiting for DynamoDB's TTL to delete expired items.
 */
import { createHash } from 'node:crypto';
import * as z from 'zod';
import { isSha256Hex, writeMatchKey } from './identifiers';
import { conflict } from '../shared/problems';

export const SCHEMA_KEYS = ['PHONE_SHA256', 'EMAIL_SHA256'] as const;
export type SchemaKey = (typeof SCHEMA_KEYS)[number];

export const CUSTOMER_FILE_SOURCES = ['USER_PROVIDED_ONLY', 'PARTNER_PROVIDED_ONLY', 'BOTH_USER_AND_PARTNER_PROVIDED'] as const;
export type CustomerFileSource = (typeof CUSTOMER_FILE_SOURCES)[number];

export type Operation = 'add' | 'remove';

/** The kind of identifier a match key was made from (phone first in a row). */
export type MatchKeyKind = 'PHONE' | 'EMAIL';

/** Rows a request may carry (more: 413). */
export const MAX_ROWS = 10_000;
/** Invalid rows named in a receipt, by index. */
export const INVALID_SAMPLES = 10;
/** Bytes of one match key. */
export const KEY_BYTES = 32;

/**
 * Raw bytes of keyed rows a chunk carries. Base64 makes 4/3 of it: 240,000
 * characters plus a small JSON envelope stays under SQS's 262,144-byte limit.
 * At 65 bytes a two-key row, that is about 2,769 rows; 10,000 rows make 4 chunks.
 */
export const CHUNK_MAX_BYTES = 180_000;

const PHONE_FLAG = 1;
const EMAIL_FLAG = 2;

export interface KeyedBatch {
  readonly numReceived: number;
  readonly numInvalid: number;
  readonly invalidSamples: number[];
  /** Valid rows with at least one known cell. Rows whose cells are all "" match nobody and are left out. */
  readonly numKeyed: number;
  /**
   * The keyed rows in order, encoded, cut into chunks of at most
   * `maxChunkBytes`: per row a flag byte (1 phone, 2 email, 3 both) then
   * the 32-byte match keys present, phone first.
   */
  readonly chunks: Buffer[];
}

/**
 * Validates and keys a batch, writing the match keys straight into its
 * chunks. Invalid rows are counted and sampled by index; their cells are
 * never copied, keyed, logged or returned.
 */
export function keyBatch(pepper: Buffer, schema: readonly SchemaKey[], data: readonly unknown[], maxChunkBytes = CHUNK_MAX_BYTES): KeyedBatch {
  const invalidSamples: number[] = [];
  let numInvalid = 0;
  let numKeyed = 0;
  const width = schema.length;
  const phoneAt = schema.indexOf('PHONE_SHA256');
  const emailAt = schema.indexOf('EMAIL_SHA256');
  const maxRowBytes = 1 + KEY_BYTES * width;
  const chunks: Buffer[] = [];
  let chunk = Buffer.alloc(0);
  let at = 0;
  for (let i = 0; i < data.length; i++) {
    const row = data[i];
    let valid = Array.isArray(row) && row.length === width;
    if (valid) {
      for (const cell of row as unknown[]) {
        if (typeof cell !== 'string' || (cell !== '' && !isSha256Hex(cell))) {
          valid = false;
          break;
        }
      }
    }
    if (!valid) {
      numInvalid += 1;
      if (invalidSamples.length < INVALID_SAMPLES) invalidSamples.push(i);
      continue;
    }
    const phone = phoneAt < 0 ? '' : (row as string[])[phoneAt]!;
    const email = emailAt < 0 ? '' : (row as string[])[emailAt]!;
    if (phone === '' && email === '') continue;
    if (at + maxRowBytes > chunk.length) {
      if (at > 0) chunks.push(chunk.subarray(0, at));
      // Room for the rest of the batch, up to a chunk's worth.
      chunk = Buffer.allocUnsafe(Math.min(maxChunkBytes, (data.length - i) * maxRowBytes));
      at = 0;
    }
    chunk[at++] = (phone === '' ? 0 : PHONE_FLAG) | (email === '' ? 0 : EMAIL_FLAG);
    if (phone !== '') at = writeMatchKey(pepper, 'PHONE', phone, chunk, at);
    if (email !== '') at = writeMatchKey(pepper, 'EMAIL', email, chunk, at);
    numKeyed += 1;
  }
  if (at > 0) chunks.push(chunk.subarray(0, at));
  return { numReceived: data.length, numInvalid, invalidSamples, numKeyed, chunks };
}

/** The end of the row starting at `at` (its flag byte), checked. */
function rowEnd(buffer: Buffer, at: number): number {
  const flags = buffer[at]!;
  if (flags === 0 || flags > (PHONE_FLAG | EMAIL_FLAG)) throw new Error('Malformed chunk: bad row flags');
  const end = at + 1 + (flags & PHONE_FLAG ? KEY_BYTES : 0) + (flags & EMAIL_FLAG ? KEY_BYTES : 0);
  if (end > buffer.length) throw new Error('Malformed chunk: truncated key');
  return end;
}

/**
 * What the matcher needs of a chunk (base64): its row count and the rows'
 * match keys as the match index spells them (hex), in order, with the kind
 * of identifier each key came from (the row's flag byte says), so a
 * membership can record what it was matched through.
 */
export function decodeKeys(encoded: string): { rows: number; keys: string[]; kinds: MatchKeyKind[] } {
  const buffer = Buffer.from(encoded, 'base64');
  const keys: string[] = [];
  const kinds: MatchKeyKind[] = [];
  let rows = 0;
  for (let at = 0; at < buffer.length; rows++) {
    const end = rowEnd(buffer, at);
    const flags = buffer[at]!;
    at += 1;
    if (flags & PHONE_FLAG) {
      keys.push(buffer.toString('hex', at, (at += KEY_BYTES)));
      kinds.push('PHONE');
    }
    if (flags & EMAIL_FLAG) {
      keys.push(buffer.toString('hex', at, (at += KEY_BYTES)));
      kinds.push('EMAIL');
    }
    if (at !== end) throw new Error('Malformed chunk');
  }
  return { rows, keys, kinds };
}

/** Encodes rows given by their match keys (hex) as a chunk (base64): the inverse of decodeRows. */
export function encodeRows(rows: readonly { phone?: string; email?: string }[]): string {
  const parts: Buffer[] = [];
  for (const { phone, email } of rows) {
    parts.push(Buffer.from([(phone ? PHONE_FLAG : 0) | (email ? EMAIL_FLAG : 0)]));
    for (const key of [phone, email]) if (key) parts.push(Buffer.from(key, 'hex'));
  }
  return Buffer.concat(parts).toString('base64');
}

/** A chunk's rows, each as its match keys (hex): the inverse of encodeRows. */
export function decodeRows(encoded: string): { phone?: string; email?: string }[] {
  const buffer = Buffer.from(encoded, 'base64');
  const rows: { phone?: string; email?: string }[] = [];
  for (let at = 0; at < buffer.length;) {
    const end = rowEnd(buffer, at);
    const flags = buffer[at]!;
    const row: { phone?: string; email?: string } = {};
    at += 1;
    if (flags & PHONE_FLAG) row.phone = buffer.toString('hex', at, (at += KEY_BYTES));
    if (flags & EMAIL_FLAG) row.email = buffer.toString('hex', at, (at += KEY_BYTES));
    rows.push(row);
    if (at !== end) throw new Error('Malformed chunk');
  }
  return rows;
}

/** A digest of a batch's chunks, in order: ties chunks to the attempt that recorded the batch. */
export function batchDigest(chunks: readonly Buffer[]): string {
  const hash = createHash('sha256');
  const length = Buffer.alloc(4);
  for (const chunk of chunks) {
    length.writeUInt32BE(chunk.length);
    hash.update(length).update(chunk);
  }
  return hash.digest('hex');
}

// ------------------------------------------------------------------ sessions

export interface SessionState {
  readonly operation: Operation;
  readonly firstBatchAtMs: number;
  readonly deadlineAtMs: number;
  /** Highest batchSeq received. */
  readonly maxSeq: number;
  /** batchSeq of the batch flagged lastBatch, once received. */
  readonly lastBatchSeq?: number;
  readonly batchesReceived: number;
  readonly numReceived: number;
  readonly numInvalid: number;
  readonly chunksExpected: number;
  readonly chunksMatched: number;
  /** Optimistic-concurrency revision of the upload-owned fields. */
  readonly rev: number;
  readonly estimatedTotal?: number;
}

export type SessionStage = 'receiving' | 'processing' | 'done';

/** No more batches: every batch up to the last is in, or the timeout after the first batch passed. */
export function sessionClosed(s: SessionState, nowMs: number): boolean {
  return (s.lastBatchSeq !== undefined && s.batchesReceived >= s.lastBatchSeq) || nowMs >= s.deadlineAtMs;
}

export interface BatchRequest {
  readonly operation: Operation;
  readonly batchSeq: number;
  readonly lastBatch: boolean;
  readonly estimatedTotal?: number;
}

/**
 * Whether a new batch (one whose batchSeq the session has not recorded) may
 * join the session; throws a 409 problem when it may not. Batches may arrive
 * in any order; after the last batch only missing earlier ones are accepted.
 */
export function admitBatch(session: SessionState | undefined, request: BatchRequest, nowMs: number, timeoutMs: number): void {
  if (!session) return;
  if (session.operation !== request.operation) {
    throw conflict(
      'session-operation-mismatch',
      `This session ${session.operation === 'add' ? 'adds' : 'removes'} users; use a new session id to ${request.operation === 'add' ? 'add' : 'remove'} users.`,
    );
  }
  if (sessionClosed(session, nowMs)) {
    throw conflict(
      'session-closed',
      nowMs >= session.deadlineAtMs
        ? `The session closed ${Math.round(timeoutMs / 60_000)} minutes after its first batch; start a new session.`
        : 'The session received its last batch; start a new session.',
    );
  }
  if (session.lastBatchSeq !== undefined) {
    if (request.lastBatch) throw conflict('session-last-batch', `The session's last batch was batchSeq ${session.lastBatchSeq}.`);
    if (request.batchSeq > session.lastBatchSeq) {
      throw conflict('session-last-batch', `The session's last batch was batchSeq ${session.lastBatchSeq}; no later batch is accepted.`);
    }
  }
  if (request.lastBatch && request.batchSeq < session.maxSeq) {
    throw conflict('session-last-batch', `A batch with a higher batchSeq (${session.maxSeq}) was already received.`);
  }
}

/** The session after a batch joins it (counters of the upload side; the matcher adds chunksMatched). */
export function sessionAfter(
  session: SessionState | undefined,
  request: BatchRequest,
  batch: { numReceived: number; numInvalid: number; chunks: number },
  nowMs: number,
  timeoutMs: number,
): SessionState {
  const base: SessionState = session ?? {
    operation: request.operation,
    firstBatchAtMs: nowMs,
    deadlineAtMs: nowMs + timeoutMs,
    maxSeq: 0,
    batchesReceived: 0,
    numReceived: 0,
    numInvalid: 0,
    chunksExpected: 0,
    chunksMatched: 0,
    rev: 0,
  };
  return {
    ...base,
    maxSeq: Math.max(base.maxSeq, request.batchSeq),
    ...(request.lastBatch ? { lastBatchSeq: request.batchSeq } : {}),
    ...(request.estimatedTotal !== undefined ? { estimatedTotal: request.estimatedTotal } : {}),
    batchesReceived: base.batchesReceived + 1,
    numReceived: base.numReceived + batch.numReceived,
    numInvalid: base.numInvalid + batch.numInvalid,
    chunksExpected: base.chunksExpected + batch.chunks,
    rev: base.rev + 1,
  };
}

// ------------------------------------------------------------------ audiences

export type AudienceStatus = 'empty' | 'processing' | 'ready';

// ------------------------------------------------------------------ expiry buckets

export const DAY_SECONDS = 86_400;

/**
 * Day number (days since the epoch, UTC) at whose start a membership matched
 * by an upload at `uploadedAtMs` expires: the end of the UTC day `ttlDays`
 * after the upload. Aligning expiry to whole days lets the audience keep one
 * exact counter per expiry day.
 */
export const expiryDay = (uploadedAtMs: number, ttlDays: number): number => Math.floor(uploadedAtMs / 1000 / DAY_SECONDS) + ttlDays + 1;
export const dayOf = (expiresAt: number): number => Math.floor(expiresAt / DAY_SECONDS);
export const expiresAtOf = (day: number): number => day * DAY_SECONDS;

/** Members alive now (buckets of days after today) and memberships expired by time (the rest). */
export function bucketCounts(buckets: Readonly<Record<string, number>>, nowSeconds: number): { alive: number; expired: number } {
  const today = Math.floor(nowSeconds / DAY_SECONDS);
  let alive = 0;
  let expired = 0;
  for (const [day, count] of Object.entries(buckets)) {
    if (Number(day) > today) alive += count;
    else expired += count;
  }
  return { alive, expired };
}

// ------------------------------------------------------------------ memberships

/**
 * A membership item as stored. Every write by the matcher records the
 * attempt that made it (`lastChunk`: `<chunk id>/<attempt>`) and the item's
 * effective expiry before that write (`prevExpiresAt`, 0 for "not a
 * member"). The audience keeps the set of attempts that have written but not
 * committed their count change (`pending`): while an attempt is pending, its
 * items count as their previous state. An attempt that dies after writing
 * stays pending for good, so what it wrote changes nothing that anyone sees
 * or counts, and its retry (or any other chunk) starts from exactly the
 * committed state. `removing` items are not members: their count was taken
 * off, only the physical delete is left.
 */
export interface MembershipItem {
  readonly userId: string;
  readonly expiresAt: number;
  readonly lastChunk?: string;
  readonly prevExpiresAt?: number;
  readonly removing?: boolean;
}

/** The committed state of a membership item: its expiry (epoch seconds) if the user is counted as a member, else null. */
export function effectiveExpiry(item: MembershipItem | undefined, pending: ReadonlySet<string>): number | null {
  if (!item) return null;
  if (item.lastChunk !== undefined && pending.has(item.lastChunk)) return item.prevExpiresAt ? item.prevExpiresAt : null;
  if (item.removing) return null;
  return item.expiresAt;
}

/** Whether the item makes its user a member now. */
export function isMemberNow(item: MembershipItem, pending: ReadonlySet<string>, nowSeconds: number): boolean {
  const expiry = effectiveExpiry(item, pending);
  return expiry !== null && expiry > nowSeconds;
}

/** Per-day count changes from a set of (before, after) expiries; null = not a member. */
export function bucketDeltas(changes: Iterable<{ before: number | null; after: number | null }>): Map<number, number> {
  const deltas = new Map<number, number>();
  const add = (expiresAt: number, d: number) => {
    const day = dayOf(expiresAt);
    deltas.set(day, (deltas.get(day) ?? 0) + d);
  };
  for (const { before, after } of changes) {
    if (before !== null) add(before, -1);
    if (after !== null) add(after, +1);
  }
  for (const [day, d] of deltas) if (d === 0) deltas.delete(day);
  return deltas;
}

/** The id of one chunk of one batch: unique within an audience. */
export const chunkId = (sessionId: number, batchSeq: number, chunk: number): string => `${sessionId}:${batchSeq}:${chunk}`;

// ------------------------------------------------------------------ ids

/** Audience ids: `aud-` and 32 hex digits. Anything else names no audience (404). */
export const AUDIENCE_ID = /^aud-[0-9a-f]{32}$/;
/** Session ids in paths: a non-negative safe integer in decimal. */
export function parseSessionId(raw: string): number | undefined {
  if (!/^\d{1,16}$/.test(raw)) return undefined;
  const n = Number(raw);
  return Number.isSafeInteger(n) ? n : undefined;
}
/** User ids (token subjects) in the ops path: 1-128 printable ASCII characters. */
export const USER_ID = /^[\x21-\x7e]{1,128}$/;

// ------------------------------------------------------------------ queue messages

/**
 * One chunk of an accepted batch on the matching queue: match keys only
 * (base64 of the binary rows above), never a business's hash, and ids.
 */
export const ChunkMessage = z.strictObject({
  v: z.literal(1),
  operation: z.enum(['add', 'remove']),
  businessId: z.string().min(1),
  audienceId: z.string().regex(AUDIENCE_ID),
  sessionId: z.number().int().min(0),
  batchSeq: z.number().int().min(1),
  chunk: z.number().int().min(0),
  chunks: z.number().int().min(1),
  batchDigest: z.string().regex(/^[0-9a-f]{64}$/),
  /** When the upload function sent it (the service clock, epoch ms). */
  sentAtMs: z.number().int(),
  rows: z.string().min(1),
});
export type ChunkMessage = z.infer<typeof ChunkMessage>;

/** A deleted audience whose memberships are to be removed, from `cursor` on. */
export const CleanupMessage = z.strictObject({
  v: z.literal(1),
  businessId: z.string().min(1),
  audienceId: z.string().regex(AUDIENCE_ID),
  /** 1: the first sweep; 2: a second one a little later, for index lag and late writers. */
  pass: z.union([z.literal(1), z.literal(2)]),
  cursor: z.record(z.string(), z.string()).optional(),
  requestedAtMs: z.number().int(),
});
export type CleanupMessage = z.infer<typeof CleanupMessage>;
