import { createHash } from 'node:crypto';
import {
  CHUNK_MAX_BYTES,
  ChunkMessage,
  INVALID_SAMPLES,
  admitBatch,
  batchDigest,
  bucketCounts,
  bucketDeltas,
  decodeKeys,
  decodeRows,
  effectiveExpiry,
  encodeRows,
  expiresAtOf,
  expiryDay,
  isMemberNow,
  keyBatch,
  parseSessionId,
  sessionAfter,
} from '../../functions/core/audiences';
import { DEFAULT_RELEASE_SETTINGS, visibleSessionStage } from '../../functions/core/size-release';
import type { SessionState } from '../../functions/core/audiences';
import { emailSha256, matchKey, phoneSha256 } from '../../functions/core/identifiers';
import { Problem } from '../../functions/shared/problems';

const pepper = Buffer.from('unit-test-pepper-0123456789abcdef0123456789', 'utf8');
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/** Every row of a keyed batch, by its match keys (hex). */
const rowsOf = (batch: { chunks: Buffer[] }) => batch.chunks.flatMap((chunk) => decodeRows(chunk.toString('base64')));

describe('keyBatch: validation and keying at the edge', () => {
  it('keys every known cell with the pepper, as the match index does', () => {
    // Prepare
    const phone = phoneSha256('+14155550123');
    const email = emailSha256('Ana@Example.com ');
    // Act
    const batch = keyBatch(
      pepper,
      ['PHONE_SHA256', 'EMAIL_SHA256'],
      [
        [phone, email],
        [phone, ''],
        ['', email],
      ],
    );
    // Assess
    expect(batch).toEqual(expect.objectContaining({ numReceived: 3, numInvalid: 0, invalidSamples: [], numKeyed: 3 }));
    expect(rowsOf(batch)).toEqual([
      { phone: matchKey(pepper, 'PHONE', phone), email: matchKey(pepper, 'EMAIL', email) },
      { phone: matchKey(pepper, 'PHONE', phone) },
      { email: matchKey(pepper, 'EMAIL', email) },
    ]);
  });

  it('follows the schema order', () => {
    const email = sha('ana@example.com');
    const phone = sha('14155550123');
    const batch = keyBatch(
      pepper,
      ['EMAIL_SHA256', 'PHONE_SHA256'],
      [
        [email, ''],
        [email, phone],
      ],
    );
    expect(rowsOf(batch)).toEqual([
      { email: matchKey(pepper, 'EMAIL', email) },
      { phone: matchKey(pepper, 'PHONE', phone), email: matchKey(pepper, 'EMAIL', email) },
    ]);
  });

  it('counts rows with a cell that is not 64 lowercase hex as invalid, sampling indexes only', () => {
    // Prepare: plain numbers and emails, upper case hex, short, long and non-hex cells, wrong arity, non-strings
    const good = sha('14155550123');
    const data: unknown[] = [
      ['+14155550123'],
      [good],
      ['ana@example.com'],
      [good.toUpperCase()],
      [good.slice(0, 63)],
      [good, good],
      [42],
      'not a row',
      [''],
      [`${good}0`],
      [`${good.slice(0, 63)}g`],
      [`${good.slice(0, 63)}/`],
      [`${good.slice(0, 63)}:`],
      [`${good.slice(0, 63)}\u00e9`],
      [null],
    ];
    // Act
    const batch = keyBatch(pepper, ['PHONE_SHA256'], data);
    // Assess
    expect(batch).toEqual(expect.objectContaining({ numReceived: 15, numInvalid: 13, invalidSamples: [0, 2, 3, 4, 5, 6, 7, 9, 10, 11], numKeyed: 1 }));
    expect(rowsOf(batch)).toHaveLength(1); // the all-empty row is valid but matches nobody
    expect(JSON.stringify(batch)).not.toMatch(/4155550123|ana@/);
  });

  it('samples at most a few invalid rows', () => {
    const batch = keyBatch(
      pepper,
      ['PHONE_SHA256'],
      Array.from({ length: 100 }, () => ['+14155550123']),
    );
    expect(batch.numInvalid).toBe(100);
    expect(batch.invalidSamples).toEqual(Array.from({ length: INVALID_SAMPLES }, (_, i) => i));
    expect(batch.chunks).toEqual([]);
  });

  it('never lets an uploaded SHA-256 value through: keys differ from the cells', () => {
    const cells = Array.from({ length: 50 }, (_, i) => sha(`1415555${String(i).padStart(4, '0')}`));
    const batch = keyBatch(
      pepper,
      ['PHONE_SHA256'],
      cells.map((c) => [c]),
    );
    const keys = new Set(rowsOf(batch).map((row) => row.phone));
    expect(keys.size).toBe(50);
    for (const cell of cells) expect(keys.has(cell)).toBe(false);
    const bytes = Buffer.concat(batch.chunks);
    for (const cell of cells) expect(bytes.includes(Buffer.from(cell, 'hex').subarray(0, 8))).toBe(false);
  });
});

describe('chunks: keyed rows on the queue', () => {
  const key = (i: number) => createHash('sha256').update(String(i)).digest('hex');

  it('round-trips rows with one or both keys', () => {
    const rows = [{ phone: key(1) }, { email: key(2) }, { phone: key(3), email: key(4) }];
    expect(decodeRows(encodeRows(rows))).toEqual(rows);
    expect(decodeKeys(encodeRows(rows))).toEqual({ rows: 3, keys: [key(1), key(2), key(3), key(4)], kinds: ['PHONE', 'EMAIL', 'PHONE', 'EMAIL'] });
  });

  it('keeps every message of a full 10,000-row two-key batch under the 256 KB SQS limit, rows whole and in order', () => {
    // Prepare
    const phones = Array.from({ length: 10_000 }, (_, i) => sha(`p${i}`));
    const emails = Array.from({ length: 10_000 }, (_, i) => sha(`e${i}`));
    // Act
    const batch = keyBatch(
      pepper,
      ['PHONE_SHA256', 'EMAIL_SHA256'],
      phones.map((p, i) => [p, emails[i]!]),
    );
    const encoded = batch.chunks.map((chunk) => chunk.toString('base64'));
    // Assess
    expect(batch.numKeyed).toBe(10_000);
    expect(batch.chunks.length).toBeLessThanOrEqual(4);
    expect(rowsOf(batch).map((row) => row.phone)).toEqual(phones.map((p) => matchKey(pepper, 'PHONE', p)));
    for (const rows64 of encoded) {
      const message = {
        v: 1,
        operation: 'add',
        businessId: 'b'.repeat(128),
        audienceId: `aud-${'0'.repeat(32)}`,
        sessionId: Number.MAX_SAFE_INTEGER,
        batchSeq: 1_000_000,
        chunk: 3,
        chunks: 4,
        batchDigest: '0'.repeat(64),
        sentAtMs: 1_800_000_000_000,
        rows: rows64,
      };
      expect(ChunkMessage.parse(message)).toEqual(message);
      expect(Buffer.byteLength(JSON.stringify(message))).toBeLessThan(256 * 1024);
    }
    for (const chunk of batch.chunks) expect(chunk.length).toBeLessThanOrEqual(CHUNK_MAX_BYTES);
  });

  it('cuts chunks at row boundaries whatever the limit', () => {
    const cells = Array.from({ length: 40 }, (_, i) => [sha(`p${i}`), i % 3 === 0 ? '' : sha(`e${i}`)]);
    const whole = rowsOf(keyBatch(pepper, ['PHONE_SHA256', 'EMAIL_SHA256'], cells));
    for (const limit of [65, 66, 100, 131, 1000]) {
      const batch = keyBatch(pepper, ['PHONE_SHA256', 'EMAIL_SHA256'], cells, limit);
      for (const chunk of batch.chunks) expect(chunk.length).toBeLessThanOrEqual(limit);
      expect(rowsOf(batch)).toEqual(whole);
    }
  });

  it('rejects a malformed chunk', () => {
    for (const decode of [decodeRows, decodeKeys]) {
      expect(() => decode(Buffer.from([7]).toString('base64'))).toThrow(/flags/);
      expect(() => decode(Buffer.from([1, 2, 3]).toString('base64'))).toThrow(/truncated/);
    }
  });

  it("digests a batch's chunks in order, chunk boundaries included", () => {
    const [a, b] = [Buffer.from('a'), Buffer.from('b')];
    expect(batchDigest([a, b])).not.toBe(batchDigest([b, a]));
    expect(batchDigest([Buffer.from('ab')])).not.toBe(batchDigest([a, b]));
    expect(batchDigest([a, b])).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('upload sessions', () => {
  const MIN = 60_000;
  const timeout = 90 * MIN;
  const t0 = Date.UTC(2026, 10, 25, 12);
  const request = (batchSeq: number, lastBatch = false, operation: 'add' | 'remove' = 'add') => ({ operation, batchSeq, lastBatch });
  const after = (s: SessionState | undefined, seq: number, last = false, now = t0) => {
    admitBatch(s, request(seq, last), now, timeout);
    return sessionAfter(s, request(seq, last), { numReceived: 10, numInvalid: 1, chunks: 2 }, now, timeout);
  };
  /** The stage as shown, with no settle time to wait for (size-release.test.ts tests the settle time). */
  const stage = (s: SessionState, now: number) => visibleSessionStage({ ...s, settleUntilMs: 0, matchedAtMs: 0 }, now, DEFAULT_RELEASE_SETTINGS);
  const expectConflict = (fn: () => void, slug: string) => {
    try {
      fn();
    } catch (error) {
      expect(error).toBeInstanceOf(Problem);
      expect((error as Problem).status).toBe(409);
      expect((error as Problem).slug).toBe(slug);
      return;
    }
    throw new Error('expected a 409');
  };

  it('is receiving until the last batch and every earlier one are in, then processing until matched, then done', () => {
    // Prepare and Act
    let s = after(undefined, 1);
    expect(stage(s, t0)).toBe('receiving');
    s = after(s, 3, true);
    expect(stage(s, t0)).toBe('receiving'); // batch 2 is missing
    s = after(s, 2);
    // Assess
    expect(s).toEqual(expect.objectContaining({ batchesReceived: 3, numReceived: 30, numInvalid: 3, chunksExpected: 6, lastBatchSeq: 3, maxSeq: 3, rev: 3 }));
    expect(stage(s, t0)).toBe('processing');
    expect(stage({ ...s, chunksMatched: 6 }, t0)).toBe('done');
  });

  it('closes 90 minutes after its first batch even if the last batch never arrives', () => {
    const s = after(after(undefined, 1, false, t0), 2, false, t0 + 30 * MIN);
    expect(s.deadlineAtMs).toBe(t0 + timeout);
    expect(stage(s, t0 + 89 * MIN)).toBe('receiving');
    expect(stage(s, t0 + 90 * MIN)).toBe('processing');
    expect(stage({ ...s, chunksMatched: 4 }, t0 + 90 * MIN)).toBe('done');
    expectConflict(() => admitBatch(s, request(3), t0 + 90 * MIN, timeout), 'session-closed');
  });

  it('refuses batches after the last one, a second last batch, and the other operation', () => {
    const s = after(after(undefined, 1), 4, true);
    expectConflict(() => admitBatch(s, request(5), t0, timeout), 'session-last-batch');
    expectConflict(() => admitBatch(s, request(3, true), t0, timeout), 'session-last-batch');
    expectConflict(() => admitBatch(s, request(2, false, 'remove'), t0, timeout), 'session-operation-mismatch');
    expect(() => admitBatch(s, request(2), t0, timeout)).not.toThrow();
    expectConflict(() => admitBatch(after(undefined, 5), request(3, true), t0, timeout), 'session-last-batch');
    const complete = after(after(s, 2), 3);
    expectConflict(() => admitBatch(complete, request(5), t0, timeout), 'session-closed');
  });

  it('parses session ids from paths', () => {
    expect(parseSessionId('42')).toBe(42);
    expect(parseSessionId('0')).toBe(0);
    for (const bad of ['-1', '1.5', 'abc', '', '99999999999999999']) expect(parseSessionId(bad)).toBeUndefined();
  });
});

describe('expiry buckets and membership states', () => {
  const DAY = 86_400;
  const upload = Date.UTC(2026, 0, 10, 15, 30);

  it('expires a membership at the end of the UTC day 540 days after the upload', () => {
    const expiresAt = expiresAtOf(expiryDay(upload, 540));
    const elapsedDays = (expiresAt * 1000 - upload) / 86_400_000;
    expect(elapsedDays).toBeGreaterThan(540);
    expect(elapsedDays).toBeLessThanOrEqual(541);
    expect(expiresAt % DAY).toBe(0);
  });

  it('counts alive members exactly from per-day buckets', () => {
    const today = Math.floor(upload / 1000 / DAY);
    const buckets = { [today - 1]: 4, [today]: 2, [today + 1]: 5, [today + 540]: 7 };
    expect(bucketCounts(buckets, today * DAY + 10)).toEqual({ alive: 12, expired: 6 });
  });

  it('turns (before, after) states into per-day changes that cancel out', () => {
    const d = (day: number) => day * DAY;
    const deltas = bucketDeltas([
      { before: null, after: d(10) },
      { before: d(5), after: d(10) },
      { before: d(10), after: d(10) },
      { before: d(7), after: null },
    ]);
    expect(Object.fromEntries(deltas)).toEqual({ 5: -1, 7: -1, 10: 2 });
  });

  it('reads an item written by a chunk that has not committed as its previous state', () => {
    const item = { userId: 'u', expiresAt: 2000 * DAY, lastChunk: '1:1:0', prevExpiresAt: 1500 * DAY };
    expect(effectiveExpiry(item, new Set())).toBe(2000 * DAY);
    expect(effectiveExpiry(item, new Set(['1:1:0']))).toBe(1500 * DAY);
    expect(effectiveExpiry({ ...item, prevExpiresAt: 0 }, new Set(['1:1:0']))).toBeNull();
    expect(effectiveExpiry({ ...item, removing: true }, new Set())).toBeNull();
    expect(effectiveExpiry({ ...item, removing: true }, new Set(['1:1:0']))).toBe(1500 * DAY);
    expect(effectiveExpiry(undefined, new Set())).toBeNull();
    expect(isMemberNow(item, new Set(), 1999 * DAY)).toBe(true);
    expect(isMemberNow(item, new Set(), 2000 * DAY)).toBe(false);
  });
});
