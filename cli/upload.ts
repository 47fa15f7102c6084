/**
 * Uploading (or removing) a customer CSV in batches, one session per upload,
 * resumable from the last acknowledged batch.
 *
 * Memory: rows are pulled from the CSV stream one at a time and at most one
 * batch is held. A full batch is sent only when the next row shows it is not
 * the last one (so the last batch carries `lastBatch: true` and no empty batch
 * is ever sent), and reading waits while it is in flight.
 *
 * Resume: after every acknowledged batch a small state file records the
 * session, the file's fingerprint and the last acknowledged `batchSeq`. A rerun
 * of the same session re-reads and re-hashes the file to rebuild the batches
 * but sends only those after it: no batch is sent twice by a resumed session.
 * The state file holds counters only, never a row, a hash or a value.
 */
import { randomInt } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { MAX_BATCH_DATA_BYTES, MAX_BATCH_ROWS, batchRows } from '../client/customer-list';
import { api, type ApiClient, type BatchReceipt } from './api';
import { detectDelimiter, readHashedCsv, scanFile, type CellStats, type ColumnFlags, type Columns, type FileScan, type HashedRow, type SchemaKey } from './csv';
import { CliError, UsageError } from './errors';

// Batching under the API's limits is shared with browser uploads (client/customer-list.ts).
export { MAX_BATCH_DATA_BYTES, MAX_BATCH_ROWS, batchRows, rowBytes, type Batch } from '../client/customer-list';

export type Operation = 'add' | 'remove';

// ----- Resume state -----

export interface UploadState {
  readonly version: 1;
  readonly operation: Operation;
  readonly audienceId: string;
  readonly sessionId: number;
  /** Absolute path of the CSV. */
  readonly file: string;
  readonly fingerprint: { readonly size: number; readonly mtimeMs: number; readonly headSha256: string };
  /** What decides how rows fall into batches: a resumed session must use the same. */
  readonly settings: {
    readonly country: string;
    readonly delimiter: string;
    readonly batchSize: number;
    readonly columns: { readonly phone?: number; readonly email?: number; readonly country?: number };
  };
  readonly estimatedTotal: number;
  lastAckedBatchSeq: number;
  rowsAcked: number;
  numReceived: number;
  numInvalid: number;
  completed: boolean;
  readonly startedAt: string;
  updatedAt: string;
}

const safeName = (value: string): string => value.replace(/[^A-Za-z0-9_-]/g, '_');

const statePrefix = (operation: Operation, audienceId: string): string => `.audiences-${operation === 'add' ? 'upload' : 'remove'}-${safeName(audienceId)}-`;

/** `.audiences-upload-<audience>-<session>.json` (or `-remove-`) in the state directory. */
export const stateFileName = (operation: Operation, audienceId: string, sessionId: number): string => `${statePrefix(operation, audienceId)}${sessionId}.json`;

async function readState(path: string): Promise<UploadState | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const state = JSON.parse(text) as UploadState;
    return state.version === 1 ? state : undefined;
  } catch {
    throw new UsageError(`the resume state file ${path} is damaged; delete it or use a new --session`);
  }
}

async function writeState(path: string, state: UploadState): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await rename(temporary, path);
}

const sameFingerprint = (state: UploadState, file: string, scan: FileScan): boolean =>
  state.file === file && state.fingerprint.size === scan.size && state.fingerprint.mtimeMs === scan.mtimeMs && state.fingerprint.headSha256 === scan.headSha256;

/** An unfinished session of this audience, operation and (unchanged) file, the most recent first. */
async function findUnfinished(stateDir: string, operation: Operation, audienceId: string, file: string, scan: FileScan): Promise<UploadState | undefined> {
  let names: string[];
  try {
    names = await readdir(stateDir);
  } catch {
    return undefined;
  }
  const prefix = statePrefix(operation, audienceId);
  const candidates: UploadState[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.json')) continue;
    const state = await readState(join(stateDir, name)).catch(() => undefined);
    if (state && !state.completed && state.audienceId === audienceId && state.operation === operation && sameFingerprint(state, file, scan)) {
      candidates.push(state);
    }
  }
  candidates.sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
  return candidates[0];
}

// ----- Upload -----

export interface UploadProgress {
  readonly rowsRead: number;
  readonly batchesSent: number;
  readonly lastBatchSeq: number;
  readonly estimatedTotal: number;
}

export interface UploadStart {
  readonly sessionId: number;
  readonly resumed: boolean;
  /** Batches up to this one were acknowledged earlier and will not be sent again. */
  readonly resumeAfterBatchSeq: number;
  readonly estimatedTotal: number;
  readonly columns: Columns;
  readonly schema: readonly SchemaKey[];
  readonly stateFile: string;
}

export interface UploadOptions extends ColumnFlags {
  readonly client: ApiClient;
  readonly file: string;
  readonly audienceId: string;
  readonly operation: Operation;
  /** ISO 3166-1 alpha-2 country of numbers written without a country code. */
  readonly country: string;
  /** Resume or start this session; without it an unfinished session of the same file is resumed, or a new one started. */
  readonly sessionId?: number;
  readonly delimiter?: string;
  readonly batchSize?: number;
  readonly maxBatchBytes?: number;
  /** Where state files go; the CSV's directory by default. */
  readonly stateDir?: string;
  /** Skipped line numbers kept for the report (all are counted). */
  readonly maxReportedLines?: number;
  readonly onStart?: (start: UploadStart) => void;
  readonly onProgress?: (progress: UploadProgress) => void;
  /** Opens the CSV for the upload pass (tests wrap it to watch reading). */
  readonly openInput?: (file: string) => Readable;
  readonly newSessionId?: () => number;
}

export interface SkippedReport {
  /** Rows with neither a valid phone nor a valid email, or that could not be parsed. */
  readonly count: number;
  /** Their line numbers (1 is the header), the first `maxReportedLines`. */
  readonly lines: number[];
  readonly truncated: boolean;
}

export interface UploadResult {
  readonly operation: Operation;
  readonly audienceId: string;
  readonly sessionId: number;
  readonly resumed: boolean;
  /** The session had already finished: nothing was read or sent. */
  readonly alreadyComplete: boolean;
  readonly columns: { readonly phone?: string; readonly email?: string; readonly country?: string };
  readonly schema: readonly SchemaKey[];
  readonly estimatedTotal: number;
  /** Data records read from the CSV. */
  readonly rowsRead: number;
  /** Rows with at least one valid identifier, in all batches of the session. */
  readonly rowsUploaded: number;
  readonly batches: number;
  /** Batches sent by this run. */
  readonly batchesSent: number;
  /** Batches acknowledged by an earlier run and not sent again. */
  readonly batchesSkipped: number;
  readonly lastBatchSeq: number;
  /** Totals of the server's receipts over the whole session. */
  readonly numReceived: number;
  readonly numInvalid: number;
  readonly skipped: SkippedReport;
  readonly invalidPhoneCells: number;
  readonly invalidEmailCells: number;
  readonly stateFile: string;
}

/** The upload stopped; the session can be resumed from `lastAckedBatchSeq`. */
export class UploadInterrupted extends CliError {
  constructor(
    readonly sessionId: number,
    readonly lastAckedBatchSeq: number,
    readonly stateFile: string,
    cause: unknown,
  ) {
    super(
      `upload interrupted after ${lastAckedBatchSeq} acknowledged batch${lastAckedBatchSeq === 1 ? '' : 'es'}: ${(cause as Error)?.message ?? String(cause)}`,
      { sessionId, lastAckedBatchSeq, stateFile },
      { cause },
    );
  }
}

/** A session id: a positive integer (the contract's `session.id`). */
export const newSessionId = (): number => randomInt(1, 2 ** 47);

export function parseSessionId(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`--session must be a positive integer (got "${value}")`);
  return n;
}

export async function runUpload(options: UploadOptions): Promise<UploadResult> {
  const file = resolve(options.file);
  const batchSize = options.batchSize ?? MAX_BATCH_ROWS;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_ROWS) {
    throw new UsageError(`--batch-size must be an integer from 1 to ${MAX_BATCH_ROWS}`);
  }
  let scan: FileScan;
  try {
    scan = await scanFile(file);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`cannot read ${options.file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const delimiter = options.delimiter ?? detectDelimiter(scan.headerLine);
  const stateDir = resolve(options.stateDir ?? dirname(file));
  const country = options.country.trim().toUpperCase();

  let state: UploadState | undefined;
  if (options.sessionId !== undefined) {
    state = await readState(join(stateDir, stateFileName(options.operation, options.audienceId, options.sessionId)));
    if (state && !sameFingerprint(state, file, scan)) {
      throw new UsageError(
        `session ${options.sessionId} was started with ${state.file === file ? 'a different version of this file' : basename(state.file)}; ` +
          'resume it with the unchanged file, or start a new session',
      );
    }
  } else {
    state = await findUnfinished(stateDir, options.operation, options.audienceId, file, scan);
  }
  const sessionId = state?.sessionId ?? options.sessionId ?? (options.newSessionId ?? newSessionId)();
  const stateFile = join(stateDir, stateFileName(options.operation, options.audienceId, sessionId));

  const skippedLines: number[] = [];
  let skippedCount = 0;
  const maxLines = options.maxReportedLines ?? 1000;
  const stats: CellStats = { invalidPhoneCells: 0, invalidEmailCells: 0 };

  const input = (options.openInput ?? ((path: string) => createReadStream(path)))(file);
  const csv = await readHashedCsv(input, {
    country,
    delimiter,
    ...(options.phoneColumn !== undefined && { phoneColumn: options.phoneColumn }),
    ...(options.emailColumn !== undefined && { emailColumn: options.emailColumn }),
    ...(options.countryColumn !== undefined && { countryColumn: options.countryColumn }),
    stats,
    onSkip: (line) => {
      skippedCount += 1;
      if (skippedLines.length < maxLines) skippedLines.push(line);
    },
  }).catch((error: unknown) => {
    input.destroy();
    throw error;
  });
  const columnIndexes = {
    ...(csv.columns.phone && { phone: csv.columns.phone.index }),
    ...(csv.columns.email && { email: csv.columns.email.index }),
    ...(csv.columns.country && { country: csv.columns.country.index }),
  };
  const settings: UploadState['settings'] = { country, delimiter, batchSize, columns: columnIndexes };

  const columnNames = {
    ...(csv.columns.phone && { phone: csv.columns.phone.name }),
    ...(csv.columns.email && { email: csv.columns.email.name }),
    ...(csv.columns.country && { country: csv.columns.country.name }),
  };

  const resumed = state !== undefined;
  if (state && JSON.stringify(state.settings) !== JSON.stringify(settings)) {
    await csv.rows.return();
    throw new UsageError(
      `session ${sessionId} was started with other settings (country, columns, delimiter or batch size); ` +
        'resume it with the same ones, or start a new session',
    );
  }
  if (state?.completed) {
    await csv.rows.return();
    return {
      operation: options.operation,
      audienceId: options.audienceId,
      sessionId,
      resumed: true,
      alreadyComplete: true,
      columns: columnNames,
      schema: csv.schema,
      estimatedTotal: state.estimatedTotal,
      rowsRead: 0,
      rowsUploaded: state.rowsAcked,
      batches: state.lastAckedBatchSeq,
      batchesSent: 0,
      batchesSkipped: state.lastAckedBatchSeq,
      lastBatchSeq: state.lastAckedBatchSeq,
      numReceived: state.numReceived,
      numInvalid: state.numInvalid,
      skipped: { count: 0, lines: [], truncated: false },
      invalidPhoneCells: 0,
      invalidEmailCells: 0,
      stateFile,
    };
  }

  const now = new Date().toISOString();
  const current: UploadState = state ?? {
    version: 1,
    operation: options.operation,
    audienceId: options.audienceId,
    sessionId,
    file,
    fingerprint: { size: scan.size, mtimeMs: scan.mtimeMs, headSha256: scan.headSha256 },
    settings,
    estimatedTotal: scan.dataLines,
    lastAckedBatchSeq: 0,
    rowsAcked: 0,
    numReceived: 0,
    numInvalid: 0,
    completed: false,
    startedAt: now,
    updatedAt: now,
  };
  const resumeAfter = current.lastAckedBatchSeq;
  options.onStart?.({
    sessionId,
    resumed,
    resumeAfterBatchSeq: resumeAfter,
    estimatedTotal: current.estimatedTotal,
    columns: csv.columns,
    schema: csv.schema,
    stateFile,
  });
  if (!resumed) {
    try {
      await mkdir(stateDir, { recursive: true });
      await writeState(stateFile, current);
    } catch (error) {
      await csv.rows.return();
      throw new UsageError(
        `cannot write the resume state in ${stateDir} (${(error as NodeJS.ErrnoException).code ?? 'error'}); choose another place with --state-dir`,
      );
    }
  }

  let batchesSent = 0;
  let batchesSkipped = 0;
  let rowsUploaded = 0;
  let lastSeq = 0;
  const progress = (): void =>
    options.onProgress?.({ rowsRead: csv.recordsRead(), batchesSent, lastBatchSeq: lastSeq, estimatedTotal: current.estimatedTotal });

  /** Reports progress every 2,000 rows while reading (and after every batch, below). */
  async function* counted(rows: AsyncIterable<HashedRow>): AsyncGenerator<HashedRow, void, undefined> {
    let sinceReport = 0;
    for await (const row of rows) {
      sinceReport += 1;
      if (sinceReport === 2000) {
        sinceReport = 0;
        progress();
      }
      yield row;
    }
  }

  try {
    for await (const batch of batchRows(counted(csv.rows), batchSize, options.maxBatchBytes ?? MAX_BATCH_DATA_BYTES)) {
      lastSeq = batch.seq;
      rowsUploaded += batch.rows.length;
      if (batch.seq <= resumeAfter) {
        batchesSkipped += 1;
        continue;
      }
      const receipt: BatchReceipt = await api.sendBatch(options.client, options.audienceId, options.operation, {
        session: { id: sessionId, batchSeq: batch.seq, lastBatch: batch.last, estimatedTotal: current.estimatedTotal },
        schema: csv.schema,
        data: batch.rows,
      });
      batchesSent += 1;
      current.lastAckedBatchSeq = batch.seq;
      current.rowsAcked = rowsUploaded;
      current.numReceived += receipt?.numReceived ?? 0;
      current.numInvalid += receipt?.numInvalid ?? 0;
      current.completed = batch.last;
      current.updatedAt = new Date().toISOString();
      await writeState(stateFile, current);
      progress();
    }
  } catch (error) {
    await csv.rows.return();
    throw new UploadInterrupted(sessionId, current.lastAckedBatchSeq, stateFile, error);
  }
  const rowsRead = csv.recordsRead();
  progress();

  if (lastSeq === 0) {
    if (!resumed) await unlink(stateFile).catch(() => undefined);
    throw new CliError('no row has a valid phone number or email address: nothing was uploaded', {
      rowsRead,
      skipped: { count: skippedCount, lines: skippedLines, truncated: skippedCount > skippedLines.length },
    });
  }
  return {
    operation: options.operation,
    audienceId: options.audienceId,
    sessionId,
    resumed,
    alreadyComplete: false,
    columns: columnNames,
    schema: csv.schema,
    estimatedTotal: current.estimatedTotal,
    rowsRead,
    rowsUploaded,
    batches: lastSeq,
    batchesSent,
    batchesSkipped,
    lastBatchSeq: lastSeq,
    numReceived: current.numReceived,
    numInvalid: current.numInvalid,
    skipped: { count: skippedCount, lines: skippedLines, truncated: skippedCount > skippedLines.length },
    invalidPhoneCells: stats.invalidPhoneCells,
    invalidEmailCells: stats.invalidEmailCells,
    stateFile,
  };
}
