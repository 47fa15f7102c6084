import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ApiClient } from '../../cli/api';
import { UsageError } from '../../cli/errors';
import { batchRows, MAX_BATCH_DATA_BYTES, rowBytes, runUpload, stateFileName, UploadInterrupted, type UploadOptions } from '../../cli/upload';
import { type FakeApi, problem, startFakeApi } from './cli-fake-api';

const sha256 = (value: string): string => createHash('sha256').update(value).digest('hex');

async function* rowsOf(n: number, cells = 1): AsyncGenerator<string[]> {
  for (let i = 0; i < n; i += 1) yield Array.from({ length: cells }, (_, c) => sha256(`${i}:${c}`));
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** An email-only CSV of `n` rows (emails are quick to validate; phones are covered in cli-csv). */
async function writeEmailCsv(path: string, n: number, invalidEvery = 0): Promise<void> {
  async function* lines() {
    yield 'customer_id,Email\n';
    for (let i = 1; i <= n; i += 1)
      yield invalidEvery > 0 && i % invalidEvery === 0 ? `${i},not-an-email\n` : `${i},user${String(i).padStart(7, '0')}@example.com\n`;
  }
  await pipeline(lines, createWriteStream(path));
}

describe('CLI upload: batching', () => {
  it('cuts 25,001 rows into 10,000 / 10,000 / 5,001 with lastBatch only on the last', async () => {
    const batches = await collect(batchRows(rowsOf(25_001)));
    expect(batches.map((b) => [b.seq, b.rows.length, b.last])).toEqual([
      [1, 10_000, false],
      [2, 10_000, false],
      [3, 5_001, true],
    ]);
  });

  it('marks an exactly full last batch as last and yields nothing for no rows', async () => {
    expect((await collect(batchRows(rowsOf(20_000)))).map((b) => [b.rows.length, b.last])).toEqual([
      [10_000, false],
      [10_000, true],
    ]);
    expect(await collect(batchRows(rowsOf(0)))).toEqual([]);
    expect((await collect(batchRows(rowsOf(1)))).map((b) => [b.seq, b.rows.length, b.last])).toEqual([[1, 1, true]]);
  });

  it('keeps every batch body under 1 MiB when rows have two cells', async () => {
    const batches = await collect(batchRows(rowsOf(25_001, 2)));
    for (const batch of batches) {
      expect(batch.rows.length).toBeLessThanOrEqual(10_000);
      expect(JSON.stringify(batch.rows).length).toBeLessThanOrEqual(MAX_BATCH_DATA_BYTES);
      const body = JSON.stringify({
        session: { id: 2 ** 47, batchSeq: 999, lastBatch: false, estimatedTotal: 1_000_000 },
        schema: ['PHONE_SHA256', 'EMAIL_SHA256'],
        data: batch.rows,
      });
      expect(Buffer.byteLength(body)).toBeLessThanOrEqual(1024 * 1024);
    }
    expect(batches.reduce((n, b) => n + b.rows.length, 0)).toBe(25_001);
    expect(batches.filter((b) => b.last)).toHaveLength(1);
    expect(rowBytes([sha256('a'), ''])).toBe(JSON.stringify([[sha256('a'), '']]).length - 1);
  });
});

describe('CLI upload: sessions and resume', () => {
  let dir: string;
  let fake: FakeApi;
  const client = (): ApiClient => new ApiClient({ baseUrl: fake.url, token: 'test-token', retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 } });
  const upload = (overrides: Partial<UploadOptions> & Pick<UploadOptions, 'file'>) =>
    runUpload({ client: client(), audienceId: 'aud-1', operation: 'add', country: 'US', stateDir: dir, ...overrides });

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cli-upload-'));
    fake = await startFakeApi();
  });
  afterEach(async () => {
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('uploads hashed rows with session, batchSeq, lastBatch, estimatedTotal and schema', async () => {
    const file = join(dir, 'customers.csv');
    writeFileSync(file, 'name,phone,email\nAna,(415) 555-0101,Ana@Example.com\nBo,n/a,nope\nCy,415-555-0102,\n');
    const result = await upload({ file, sessionId: 7 });
    expect(fake.batches).toHaveLength(1);
    const [batch] = fake.batches;
    expect(batch).toMatchObject({
      method: 'POST',
      audienceId: 'aud-1',
      sessionId: 7,
      batchSeq: 1,
      lastBatch: true,
      estimatedTotal: 3,
      schema: ['PHONE_SHA256', 'EMAIL_SHA256'],
    });
    expect(batch?.data).toEqual([
      [sha256('14155550101'), sha256('ana@example.com')],
      [sha256('14155550102'), ''],
    ]);
    expect(fake.requests[0]?.headers.authorization).toBe('Bearer test-token');
    expect(result).toMatchObject({ sessionId: 7, rowsRead: 3, rowsUploaded: 2, batches: 1, batchesSent: 1, numReceived: 2, skipped: { count: 1, lines: [3] } });
  });

  it('sends removals with DELETE and the same batching', async () => {
    const file = join(dir, 'gone.csv');
    await writeEmailCsv(file, 25);
    await upload({ file, operation: 'remove', batchSize: 10 });
    expect(fake.batches.map((b) => [b.method, b.batchSeq, b.rows, b.lastBatch])).toEqual([
      ['DELETE', 1, 10, false],
      ['DELETE', 2, 10, false],
      ['DELETE', 3, 5, true],
    ]);
  });

  it('resumes after a failure at batch 3: the rerun sends batches 3.. only, and no batch is acknowledged twice', async () => {
    const file = join(dir, 'customers.csv');
    await writeEmailCsv(file, 25_001);
    fake.respond = (_request, batch) => (batch && batch.batchSeq === 3 ? problem(503, 'Service Unavailable', 'Try again later.') : undefined);

    const first = upload({ file, sessionId: 42 });
    await expect(first).rejects.toBeInstanceOf(UploadInterrupted);
    await expect(first).rejects.toMatchObject({ sessionId: 42, lastAckedBatchSeq: 2 });
    const acceptedFirst = fake.batches.filter((b) => b.status === 202).map((b) => b.batchSeq);
    expect(acceptedFirst).toEqual([1, 2]);
    // Every try at batch 3 (the client retried 503) failed.
    expect(fake.batches.filter((b) => b.batchSeq === 3).every((b) => b.status === 503)).toBe(true);

    const stateText = readFileSync(join(dir, stateFileName('add', 'aud-1', 42)), 'utf8');
    expect(JSON.parse(stateText)).toMatchObject({ sessionId: 42, lastAckedBatchSeq: 2, completed: false });
    // The state holds counters only: no uploaded hash and no address.
    expect(stateText).not.toContain('@example.com');
    expect(fake.batches[0]?.data.slice(0, 100).some(([hash]) => stateText.includes(hash ?? '-'))).toBe(false);

    fake.respond = undefined;
    const sentBefore = fake.batches.length;
    const second = await upload({ file, sessionId: 42 });
    const rerun = fake.batches.slice(sentBefore);
    expect(rerun.map((b) => [b.batchSeq, b.rows, b.lastBatch])).toEqual([[3, 5_001, true]]);
    expect(second).toMatchObject({ resumed: true, batchesSkipped: 2, batchesSent: 1, batches: 3, rowsUploaded: 25_001, numReceived: 25_001 });

    const acknowledged = fake.batches.filter((b) => b.status === 202).map((b) => b.batchSeq);
    expect(acknowledged).toEqual([1, 2, 3]);
    expect(new Set(acknowledged).size).toBe(acknowledged.length);
    // All batches of the session carried the same session id and estimate.
    expect(new Set(fake.batches.map((b) => `${b.sessionId}/${b.estimatedTotal}`))).toEqual(new Set(['42/25001']));
  });

  it('resumes the unfinished session of the same file without --session, and sends nothing for a finished one', async () => {
    const file = join(dir, 'customers.csv');
    await writeEmailCsv(file, 50);
    fake.respond = (_request, batch) => (batch && batch.batchSeq === 4 ? { status: 400, body: { title: 'Bad Request', detail: 'Simulated.' } } : undefined);
    await expect(upload({ file, batchSize: 10, newSessionId: () => 1234 })).rejects.toMatchObject({ lastAckedBatchSeq: 3 });
    fake.respond = undefined;
    const before = fake.batches.length;
    const resumed = await upload({ file, batchSize: 10, newSessionId: () => 9999 });
    expect(resumed).toMatchObject({ sessionId: 1234, resumed: true, batchesSkipped: 3 });
    expect(fake.batches.slice(before).map((b) => [b.sessionId, b.batchSeq])).toEqual([
      [1234, 4],
      [1234, 5],
    ]);

    const afterDone = fake.batches.length;
    const again = await upload({ file, batchSize: 10, sessionId: 1234 });
    expect(again).toMatchObject({ alreadyComplete: true, batchesSent: 0 });
    expect(fake.batches.length).toBe(afterDone);
    // Without --session, a finished session is not picked: a new one starts.
    const fresh = await upload({ file, batchSize: 10, newSessionId: () => 77 });
    expect(fresh).toMatchObject({ sessionId: 77, resumed: false, batchesSent: 5 });
  });

  it('refuses to resume a session with a changed file or other settings', async () => {
    const file = join(dir, 'customers.csv');
    await writeEmailCsv(file, 30);
    fake.respond = (_request, batch) => (batch && batch.batchSeq === 2 ? { status: 400, body: { title: 'Bad Request', detail: 'Simulated.' } } : undefined);
    await expect(upload({ file, batchSize: 10, sessionId: 5 })).rejects.toBeInstanceOf(UploadInterrupted);
    fake.respond = undefined;
    await expect(upload({ file, batchSize: 20, sessionId: 5 })).rejects.toThrow(/other settings/);
    await writeEmailCsv(file, 31);
    await expect(upload({ file, batchSize: 10, sessionId: 5 })).rejects.toThrow(UsageError);
    expect(fake.batches.filter((b) => b.batchSeq === 1)).toHaveLength(1);
  });

  it('fails without sending anything when no row is usable, and leaves no state behind', async () => {
    const file = join(dir, 'bad.csv');
    writeFileSync(file, 'phone\nn/a\n12\n');
    await expect(upload({ file })).rejects.toThrow(/no row has a valid phone number or email/);
    expect(fake.batches).toHaveLength(0);
    expect(readdirSync(dir).filter((name) => name.startsWith('.audiences-'))).toEqual([]);
  });

  it('streams: batches reach the server while most of a large file is still unread (one batch held at a time)', async () => {
    const file = join(dir, 'large.csv');
    const rows = 100_000;
    const batchSize = 5_000;
    await writeEmailCsv(file, rows);
    const size = readFileSync(file).length;
    const lineBytes = Math.ceil(size / rows);
    let bytesRead = 0;
    const readAtArrival: number[] = [];
    fake.respond = (_request, batch) => {
      if (batch) readAtArrival.push(bytesRead);
      return undefined;
    };
    const openInput = (path: string) =>
      createReadStream(path).pipe(
        new Transform({
          transform(chunk: Buffer, _encoding, callback) {
            bytesRead += chunk.length;
            callback(null, chunk);
          },
        }),
      );
    const result = await upload({ file, batchSize, openInput });
    expect(result.batches).toBe(rows / batchSize);
    expect(readAtArrival).toHaveLength(rows / batchSize);
    // When batch k arrives, the reader has got at most batch k, the one row
    // that showed it was not the last, and what the stream buffers hold.
    const slack = 512 * 1024;
    readAtArrival.forEach((read, i) => {
      expect(read).toBeLessThanOrEqual((i + 1) * batchSize * lineBytes + slack);
    });
    expect(readAtArrival[0]).toBeLessThan(size / 4);
    expect(fake.batches.map((b) => b.lastBatch).lastIndexOf(true)).toBe(rows / batchSize - 1);
    expect(fake.batches.filter((b) => b.lastBatch)).toHaveLength(1);
  }, 60_000);
});
