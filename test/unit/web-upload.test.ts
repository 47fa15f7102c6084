/**
 * The web console's upload (web/src/upload.ts), in Node's WebCrypto with a
 * fake API: the CLI's parser options, column names, normalisation, hashes and
 * batch cuts; one session; resuming sends no acknowledged batch again;
 * retries on 503; the resume record holds counters only.
 */
import { createReadStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createApi } from '../../client/api';
import { batchRows, detectKnownColumns, hashRecord } from '../../client/customer-list';
import { readHashedCsv } from '../../cli/csv';
import { ApiError } from '../../web/src/api';
import {
  fingerprintOf,
  newSessionId,
  parseList,
  planUpload,
  readState,
  runUpload,
  sameSettings,
  stateKey,
  type StateStorage,
  type UploadSettings,
} from '../../web/src/upload';

const CUSTOMERS = join(__dirname, '..', '..', 'examples', 'customers.csv');
const text = readFileSync(CUSTOMERS, 'utf8');

class MemoryStorage implements StateStorage {
  readonly items = new Map<string, string>();
  getItem = (key: string) => this.items.get(key) ?? null;
  setItem = (key: string, value: string) => void this.items.set(key, value);
  removeItem = (key: string) => void this.items.delete(key);
}

interface Sent {
  session: { id: number; batchSeq: number; lastBatch: boolean; estimatedTotal: number };
  schema: string[];
  data: string[][];
}

/** A fake API answering uploads: `answer(body, attempt)` gives the status (202 by default). */
function fakeApi(answer: (body: Sent, attempt: number) => number = () => 202) {
  const sent: Sent[] = [];
  const api = createApi({
    baseUrl: 'http://api.test',
    token: 'token',
    fetch: async (request) => {
      const body = (await request.json()) as Sent;
      sent.push(body);
      const status = answer(body, sent.filter((s) => s.session.batchSeq === body.session.batchSeq).length);
      const json =
        status === 202
          ? { sessionId: body.session.id, numReceived: body.data.length, numInvalid: 0, invalidSamples: [] }
          : { type: '/problems/x', title: 'Failed', status, detail: 'no' };
      return new Response(JSON.stringify(json), { status, headers: { 'content-type': status === 202 ? 'application/json' : 'application/problem+json' } });
    },
  });
  return { api, sent };
}

const file = () => new File([text], 'customers.csv', { lastModified: 1_700_000_000_000, type: 'text/csv' });

async function prepared(batchSize = 4) {
  const list = parseList(text);
  const settings: UploadSettings = { country: 'US', batchSize, columns: detectKnownColumns(list.header) };
  const plan = await planUpload(list, settings);
  const fingerprint = await fingerprintOf(file());
  const key = await stateKey('shop', 'aud-1', fingerprint);
  return { list, settings, plan, fingerprint, key };
}

/** What the CLI sends for the same file, row by row. */
async function cliRows(): Promise<string[][]> {
  const csv = await readHashedCsv(createReadStream(CUSTOMERS), { country: 'US' });
  const rows: string[][] = [];
  for await (const row of csv.rows) rows.push(row);
  return rows;
}

describe('parsing and planning a customer list', () => {
  it('reads the header, the records with their lines, and finds the columns by their names', () => {
    const list = parseList(text);
    expect(list.header).toEqual(['first_name', 'last_name', 'Phone Number', 'E-mail', 'country']);
    expect(list.delimiter).toBe(',');
    expect(list.records.map((r) => r.line)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    expect(detectKnownColumns(list.header)).toEqual({
      phone: { index: 2, name: 'Phone Number' },
      email: { index: 3, name: 'E-mail' },
      country: { index: 4, name: 'country' },
    });
  });

  it('detects a semicolon-separated list and skips a malformed record by its line', () => {
    const list = parseList('name;phone\nAna;+1 415 555 0101\nBen;"415 555 0102\n');
    expect(list.delimiter).toBe(';');
    expect(list.records).toEqual([{ cells: ['Ana', '+1 415 555 0101'], line: 2 }]);
    expect(list.malformedLines).toEqual([3]);
  });

  it('skips a row with neither a valid number nor an address, by line only, and cuts batches as the CLI does', async () => {
    const { plan } = await prepared(4);
    expect(plan.rows).toHaveLength(11);
    expect(plan.skippedLines).toEqual([13]);
    expect(plan.estimatedTotal).toBe(12);
    expect(plan.schema).toEqual(['PHONE_SHA256', 'EMAIL_SHA256']);
    expect(plan.batches.map((b) => [b.seq, b.end - b.start, b.last])).toEqual([
      [1, 4, false],
      [2, 4, false],
      [3, 3, true],
    ]);
    const cli: number[] = [];
    for await (const batch of batchRows(await cliRows(), 4)) cli.push(batch.rows.length);
    expect(plan.batches.map((b) => b.end - b.start)).toEqual(cli);
  });

  it('refuses a country it does not know and a batch size out of range', async () => {
    const list = parseList(text);
    const columns = detectKnownColumns(list.header);
    await expect(planUpload(list, { country: 'XX', batchSize: 10, columns })).rejects.toThrow('country');
    await expect(planUpload(list, { country: 'US', batchSize: 10_001, columns })).rejects.toThrow('Rows per batch');
    await expect(planUpload(list, { country: 'US', batchSize: 10, columns: {} })).rejects.toThrow('column');
  });

  it('hashes each record as the CLI does (WebCrypto here, Node hashing there)', async () => {
    const list = parseList(text);
    const columns = detectKnownColumns(list.header);
    const browser = (await Promise.all(list.records.map((r) => hashRecord(r.cells, columns, 'US')))).filter((row) => row !== undefined);
    expect(browser).toEqual(await cliRows());
  });
});

describe('runUpload', () => {
  it('sends every batch of one session, only hashes, and records the acknowledgements', async () => {
    const { plan, settings, fingerprint, key } = await prepared(4);
    const { api, sent } = fakeApi();
    const storage = new MemoryStorage();
    const progress: number[] = [];
    const state = await runUpload({ api, storage, key, audienceId: 'aud-1', fingerprint, settings, plan, onProgress: (p) => progress.push(p.batchesDone) });

    expect(sent.map((b) => [b.session.batchSeq, b.session.lastBatch, b.session.estimatedTotal])).toEqual([
      [1, false, 12],
      [2, false, 12],
      [3, true, 12],
    ]);
    expect(new Set(sent.map((b) => b.session.id))).toEqual(new Set([state.sessionId]));
    expect(sent.flatMap((b) => b.data)).toEqual(await cliRows());
    expect(progress).toEqual([0, 1, 2, 3]);
    expect(state).toEqual(expect.objectContaining({ lastAckedBatchSeq: 3, rowsAcked: 11, numReceived: 11, numInvalid: 0, completed: true }));
    // The record in the browser's storage: counters and settings, never a row, a value or a hash.
    const stored = storage.getItem(key)!;
    expect(readState(storage, key)).toEqual(state);
    // The one digest in it is the file's fingerprint (its first 64 KiB), as in the CLI's resume file.
    expect(stored.replace(state.fingerprint.headSha256, '')).not.toMatch(/[0-9a-f]{64}/);
    expect(stored).not.toMatch(/555|example\.com/i);
  });

  it('resumes a stopped session from the batch after the last acknowledged one, with the same session id', async () => {
    const { plan, settings, fingerprint, key } = await prepared(4);
    const storage = new MemoryStorage();
    const failing = fakeApi((body) => (body.session.batchSeq === 2 ? 400 : 202));
    await expect(runUpload({ api: failing.api, storage, key, audienceId: 'aud-1', fingerprint, settings, plan })).rejects.toBeInstanceOf(ApiError);
    const stopped = readState(storage, key)!;
    expect(stopped).toEqual(expect.objectContaining({ lastAckedBatchSeq: 1, rowsAcked: 4, completed: false }));
    expect(sameSettings(stopped, settings, plan)).toBe(true);
    expect(sameSettings(stopped, { ...settings, batchSize: 5 }, await planUpload(parseList(text), { ...settings, batchSize: 5 }))).toBe(false);

    const resumed = fakeApi();
    const state = await runUpload({ api: resumed.api, storage, key, audienceId: 'aud-1', fingerprint, settings, plan, resume: stopped });
    expect(resumed.sent.map((b) => b.session.batchSeq)).toEqual([2, 3]);
    expect(resumed.sent.every((b) => b.session.id === stopped.sessionId)).toBe(true);
    expect(state).toEqual(expect.objectContaining({ sessionId: stopped.sessionId, lastAckedBatchSeq: 3, rowsAcked: 11, completed: true }));
  });

  it('retries a batch the service could not take (503), and stops on other answers', async () => {
    const { plan, settings, fingerprint, key } = await prepared(10_000);
    const waits: number[] = [];
    const flaky = fakeApi((_body, attempt) => (attempt < 3 ? 503 : 202));
    const state = await runUpload({
      api: flaky.api,
      storage: new MemoryStorage(),
      key,
      audienceId: 'aud-1',
      fingerprint,
      settings,
      plan,
      sleep: async (ms) => void waits.push(ms),
    });
    expect(flaky.sent).toHaveLength(3);
    expect(waits).toHaveLength(2);
    expect(state.completed).toBe(true);
  });

  it('fingerprints a file by name, size, time and its first bytes; keys records by account, audience and file', async () => {
    const a = await fingerprintOf(file());
    const changed = await fingerprintOf(new File([text.replace('Ana', 'Ann')], 'customers.csv', { lastModified: 1_700_000_000_000 }));
    expect(a).toEqual(expect.objectContaining({ name: 'customers.csv', size: Buffer.byteLength(text), lastModified: 1_700_000_000_000 }));
    expect(changed.headSha256).not.toBe(a.headSha256);
    expect(await stateKey('shop', 'aud-1', a)).not.toBe(await stateKey('shop', 'aud-1', changed));
    expect(await stateKey('shop', 'aud-1', a)).not.toBe(await stateKey('other-shop', 'aud-1', a));
    for (let i = 0; i < 100; i++) {
      const id = newSessionId();
      expect(Number.isSafeInteger(id) && id >= 1 && id < 2 ** 47).toBe(true);
    }
  });
});
