/**
 * A customer list uploaded from the browser, as the CLI uploads one: the
 * same parser (csv-parse) and column names, the same normalisation and
 * hashing convention through the client library (hashed here with WebCrypto:
 * no phone number or address leaves the browser), the same batches under the
 * API's limits, one session per upload, and resumable.
 *
 * Resume: after each acknowledged batch a small record in the browser's
 * storage notes the session, the file's fingerprint (name, size, last
 * modification and a SHA-256 of its first 64 KiB) and the last acknowledged
 * `batchSeq`; never a row, a value or a hash. Choosing the same file again
 * after a reload finds it, and the upload goes on from the next batch: no
 * acknowledged batch is sent twice.
 */
import { parse } from 'csv-parse/sync';
import {
  batchRows,
  detectDelimiter,
  detectKnownColumns,
  MAX_BATCH_ROWS,
  normaliseRecord,
  schemaOf,
  type CellStats,
  type Columns,
  type HashedRow,
  type SchemaKey,
} from '../../client/customer-list';
import { emailSha256, phoneSha256, sha256Hex } from '../../client/hashing';
import { countryCode } from '../../client/identifiers';
import { toHex } from '../../client/encoding';
import { ApiError, ok, type Api } from './api';

/** What the browser gives for a chosen file (a `File`). */
export interface ListFile {
  readonly name: string;
  readonly size: number;
  readonly lastModified: number;
  text(): Promise<string>;
  slice(start: number, end: number): { arrayBuffer(): Promise<ArrayBuffer> };
}

export interface Fingerprint {
  readonly name: string;
  readonly size: number;
  readonly lastModified: number;
  readonly headSha256: string;
}

const HEAD_BYTES = 64 * 1024;

export async function fingerprintOf(file: ListFile): Promise<Fingerprint> {
  const head = new Uint8Array(await file.slice(0, HEAD_BYTES).arrayBuffer());
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', head));
  return { name: file.name, size: file.size, lastModified: file.lastModified, headSha256: toHex(digest) };
}

export interface ParsedList {
  readonly header: string[];
  readonly delimiter: string;
  /** Data records with the line each starts on (the header is line 1). */
  readonly records: { readonly cells: string[]; readonly line: number }[];
  /** Lines of records the parser could not read (a stray quote, say). */
  readonly malformedLines: number[];
}

/** Parses the whole list with the CLI's csv-parse options; the delimiter is detected from the header unless given. */
export function parseList(text: string, delimiter?: string): ParsedList {
  const firstLine = text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/, 1)[0] ?? '';
  const chosen = delimiter ?? detectDelimiter(firstLine);
  const malformedLines: number[] = [];
  const rows = parse(text, {
    bom: true,
    info: true,
    trim: true,
    delimiter: chosen,
    record_delimiter: ['\r\n', '\n', '\r'],
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    on_skip: (error) => {
      if (error && typeof error.lines === 'number') malformedLines.push(error.lines);
    },
  }) as unknown as { record: string[]; info: { lines: number } }[];
  const [header, ...data] = rows;
  if (!header) throw new Error('The file is empty: it needs a header row naming its columns.');
  let previous = header.info.lines;
  const records = data.map(({ record, info }) => {
    const line = previous + 1;
    previous = info.lines;
    return { cells: record, line };
  });
  return { header: header.record, delimiter: chosen, records, malformedLines };
}

export { detectKnownColumns };

export interface UploadSettings {
  /** ISO 3166-1 alpha-2: the country of numbers written without a country code. */
  readonly country: string;
  readonly batchSize: number;
  readonly columns: Columns;
}

interface PlannedBatch {
  readonly seq: number;
  /** Rows [start, end) of the plan. */
  readonly start: number;
  readonly end: number;
  readonly last: boolean;
}

export interface UploadPlan {
  readonly schema: SchemaKey[];
  /** Normalised values, in memory only; hashed batch by batch when sent. */
  readonly rows: readonly { readonly phone?: string; readonly email?: string }[];
  readonly batches: readonly PlannedBatch[];
  /** Records that hold neither a valid phone number nor a valid email, by line; never by content. */
  readonly skippedLines: readonly number[];
  readonly stats: CellStats;
  /** Data records in the file: the session's `estimatedTotal`. */
  readonly estimatedTotal: number;
}

const HEX64 = '0'.repeat(64);

/** Normalises every record and cuts the rows into batches exactly as the CLI does. */
export async function planUpload(list: ParsedList, settings: UploadSettings): Promise<UploadPlan> {
  const country = countryCode(settings.country);
  if (!country) throw new Error('Choose the country of numbers written without a country code.');
  if (!Number.isInteger(settings.batchSize) || settings.batchSize < 1 || settings.batchSize > MAX_BATCH_ROWS) {
    throw new Error(`Rows per batch must be a whole number from 1 to ${MAX_BATCH_ROWS}.`);
  }
  const { columns } = settings;
  if (!columns.phone && !columns.email) throw new Error('Choose the column of phone numbers, of email addresses, or both.');
  const schema = schemaOf(columns);
  const stats: CellStats = { invalidPhoneCells: 0, invalidEmailCells: 0 };
  const rows: { phone?: string; email?: string }[] = [];
  const skippedLines = [...list.malformedLines];
  for (const { cells, line } of list.records) {
    const normalised = normaliseRecord(cells, columns, country);
    if (!normalised.phone && !normalised.email) {
      skippedLines.push(line);
      continue;
    }
    stats.invalidPhoneCells += normalised.badPhone ? 1 : 0;
    stats.invalidEmailCells += normalised.badEmail ? 1 : 0;
    rows.push({ ...(normalised.phone && { phone: normalised.phone }), ...(normalised.email && { email: normalised.email }) });
  }
  // Cut with the CLI's own rule, on rows of the sizes the hashed rows will have.
  const sized = rows.map((row) => schema.map((key) => ((key === 'PHONE_SHA256' ? row.phone : row.email) ? HEX64 : '')));
  const batches: PlannedBatch[] = [];
  let start = 0;
  for await (const batch of batchRows(sized, settings.batchSize)) {
    batches.push({ seq: batch.seq, start, end: start + batch.rows.length, last: batch.last });
    start += batch.rows.length;
  }
  return { schema, rows, batches, skippedLines: skippedLines.sort((a, b) => a - b), stats, estimatedTotal: list.records.length };
}

async function hashRows(plan: UploadPlan, batch: PlannedBatch): Promise<HashedRow[]> {
  return Promise.all(
    plan.rows.slice(batch.start, batch.end).map(async (row) => {
      const cells: string[] = [];
      for (const key of plan.schema) {
        const value = key === 'PHONE_SHA256' ? row.phone : row.email;
        cells.push(value === undefined ? '' : key === 'PHONE_SHA256' ? await phoneSha256(value) : await emailSha256(value));
      }
      return cells;
    }),
  );
}

/** The resume record of one upload session: counters and settings, never a row. */
export interface UploadState {
  readonly version: 1;
  readonly audienceId: string;
  readonly sessionId: number;
  readonly fingerprint: Fingerprint;
  readonly settings: { readonly country: string; readonly batchSize: number; readonly columns: { phone?: number; email?: number; country?: number } };
  readonly estimatedTotal: number;
  readonly batches: number;
  readonly rows: number;
  lastAckedBatchSeq: number;
  rowsAcked: number;
  numReceived: number;
  numInvalid: number;
  completed: boolean;
  readonly startedAt: string;
  updatedAt: string;
}

/** Where resume records live: the browser's localStorage, or a test's map. */
export interface StateStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** One record per account, audience and file. */
export async function stateKey(owner: string, audienceId: string, fingerprint: Fingerprint): Promise<string> {
  const id = await sha256Hex(JSON.stringify([fingerprint.name, fingerprint.size, fingerprint.lastModified, fingerprint.headSha256]));
  return `consent-audiences.upload:${owner}:${audienceId}:${id.slice(0, 32)}`;
}

export function readState(storage: StateStorage, key: string): UploadState | undefined {
  try {
    const state = JSON.parse(storage.getItem(key) ?? 'null') as UploadState | null;
    return state?.version === 1 ? state : undefined;
  } catch {
    return undefined;
  }
}

const columnIndexes = (columns: Columns) => ({
  ...(columns.phone && { phone: columns.phone.index }),
  ...(columns.email && { email: columns.email.index }),
  ...(columns.country && { country: columns.country.index }),
});

/** Whether a recorded session can go on with these settings: the batches must fall exactly as before. */
export function sameSettings(state: UploadState, settings: UploadSettings, plan: UploadPlan): boolean {
  const a = state.settings;
  const b = columnIndexes(settings.columns);
  return (
    a.country === settings.country.toUpperCase() &&
    a.batchSize === settings.batchSize &&
    a.columns.phone === b.phone &&
    a.columns.email === b.email &&
    a.columns.country === b.country &&
    state.batches === plan.batches.length &&
    state.rows === plan.rows.length
  );
}

/** A positive session id, as the CLI draws one (below 2^47). */
export function newSessionId(): number {
  const [high, low] = crypto.getRandomValues(new Uint32Array(2)) as unknown as [number, number];
  return (((high & 0x7fff) * 2 ** 32 + low) % (2 ** 47 - 1)) + 1;
}

export interface Progress {
  readonly batchesDone: number;
  readonly batches: number;
  readonly rowsDone: number;
  readonly rows: number;
  readonly skippedBatches: number;
}

export interface UploadRun {
  readonly api: Api;
  readonly storage: StateStorage;
  readonly key: string;
  readonly audienceId: string;
  readonly fingerprint: Fingerprint;
  readonly settings: UploadSettings;
  readonly plan: UploadPlan;
  /** A recorded session of this file to go on with; a new session otherwise. */
  readonly resume?: UploadState;
  onProgress?(progress: Progress): void;
  readonly signal?: AbortSignal;
  /** Waits before a retry (tests pass a quick one). */
  readonly sleep?: (ms: number) => Promise<void>;
}

const retryable = (error: unknown): boolean => !(error instanceof ApiError) || error.status === 429 || error.status >= 500;

/** Exponential backoff with jitter: about 0.5 s, 1 s, 2 s, ... up to 8 s. */
const backoffMs = (attempt: number): number => Math.min(8_000, 500 * 2 ** attempt) * (0.5 + Math.random() / 2);

/** Sends every batch the session has not had acknowledged, recording each acknowledgement; returns the final state. */
export async function runUpload(run: UploadRun): Promise<UploadState> {
  const { plan } = run;
  const now = () => new Date().toISOString();
  const sleep = run.sleep ?? ((ms: number) => new Promise<void>((done) => setTimeout(done, ms)));
  const state: UploadState = run.resume
    ? { ...run.resume }
    : {
        version: 1,
        audienceId: run.audienceId,
        sessionId: newSessionId(),
        fingerprint: run.fingerprint,
        settings: { country: run.settings.country.toUpperCase(), batchSize: run.settings.batchSize, columns: columnIndexes(run.settings.columns) },
        estimatedTotal: plan.estimatedTotal,
        batches: plan.batches.length,
        rows: plan.rows.length,
        lastAckedBatchSeq: 0,
        rowsAcked: 0,
        numReceived: 0,
        numInvalid: 0,
        completed: false,
        startedAt: now(),
        updatedAt: now(),
      };
  const skippedBatches = state.lastAckedBatchSeq;
  const report = () =>
    run.onProgress?.({ batchesDone: state.lastAckedBatchSeq, batches: plan.batches.length, rowsDone: state.rowsAcked, rows: plan.rows.length, skippedBatches });
  report();
  for (const batch of plan.batches) {
    if (batch.seq <= state.lastAckedBatchSeq) continue;
    run.signal?.throwIfAborted();
    const data = await hashRows(plan, batch);
    const body = {
      session: { id: state.sessionId, batchSeq: batch.seq, lastBatch: batch.last, estimatedTotal: plan.estimatedTotal },
      schema: plan.schema,
      data,
    };
    let receipt;
    for (let attempt = 0; ; attempt++) {
      try {
        receipt = await ok(run.api.POST('/v1/audiences/{id}/users', { params: { path: { id: run.audienceId } }, body, signal: run.signal }));
        break;
      } catch (error) {
        if (run.signal?.aborted || !retryable(error) || attempt >= 5) throw error;
        await sleep(backoffMs(attempt));
      }
    }
    state.lastAckedBatchSeq = batch.seq;
    state.rowsAcked += batch.end - batch.start;
    state.numReceived += receipt.numReceived;
    state.numInvalid += receipt.numInvalid;
    state.completed = batch.last;
    state.updatedAt = now();
    run.storage.setItem(run.key, JSON.stringify(state));
    report();
  }
  return state;
}
