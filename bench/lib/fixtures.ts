/**
 * Deterministic benchmark data: phone numbers, the rows a business uploads
 * (hashed as the contract says), and their match keys.
 *
 * Rows: row `g` belongs to a consenting user when `g % 10 < 3` (30%);
 * the other 70% are numbers no user has. Users' numbers are +1 415 2xx xxxx,
 * the others +1 212 2xx xxxx: valid North American numbers, distinct.
 */
import { phoneSha256 } from '../../functions/core/identifiers';

const line = (n: number) => String(n % 10_000).padStart(4, '0');
/** The E.164 number of consenting user `u` (0-based). */
export const userPhone = (u: number): string => `+1415${200 + Math.floor(u / 10_000)}${line(u)}`;
/** The E.164 number of non-user `n` (0-based): nobody has it. */
export const strangerPhone = (n: number): string => `+1212${200 + Math.floor(n / 10_000)}${line(n)}`;
export const benchUserId = (u: number): string => `bench-u-${u}`;

/** PHONE_SHA256 of the contract: SHA-256 of the E.164 digits without the `+`. */
export const phoneHash = phoneSha256;

/** Whether upload row `g` is a consenting user's, and whose. */
export function rowOwner(g: number): { user: true; index: number } | { user: false; index: number } {
  const block = Math.floor(g / 10);
  const pos = g % 10;
  return pos < 3 ? { user: true, index: block * 3 + pos } : { user: false, index: block * 7 + (pos - 3) };
}

/** Consenting users among the first `rows` rows. */
export const usersIn = (rows: number): number => Math.floor(rows / 10) * 3 + Math.min(3, rows % 10);

/** The phone hash cells of rows [from, to), one cell a row (schema ["PHONE_SHA256"]). */
export function uploadRows(from: number, to: number): string[][] {
  const rows: string[][] = [];
  for (let g = from; g < to; g++) {
    const owner = rowOwner(g);
    rows.push([phoneHash(owner.user ? userPhone(owner.index) : strangerPhone(owner.index))]);
  }
  return rows;
}

/** Batches of an upload: `batches` x `rowsPerBatch` rows. */
export function uploadBatches(batches: number, rowsPerBatch: number): string[][][] {
  return Array.from({ length: batches }, (_, b) => uploadRows(b * rowsPerBatch, (b + 1) * rowsPerBatch));
}

/** The request body of batch `seq` (from 1) of a session, as the contract and the CLI spell it. */
export function batchBody(sessionId: number, seq: number, batches: number, rows: string[][], estimatedTotal: number) {
  return {
    session: { id: sessionId, batchSeq: seq, lastBatch: seq === batches, estimatedTotal },
    schema: ['PHONE_SHA256'],
    data: rows,
  };
}
