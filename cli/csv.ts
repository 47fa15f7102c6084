/**
 * Reading a customer CSV as a stream: header and delimiter detection, choosing
 * the phone / email / country columns, normalising each row and hashing it on
 * this machine with the contract's convention. Nothing here ever prints or
 * logs a cell: rows that cannot be used are reported by line number only.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { parse, type CsvError, type Info } from 'csv-parse';
import {
  COUNTRY_HEADERS,
  EMAIL_HEADERS,
  PHONE_HEADERS,
  findKnownColumn,
  headerKey,
  normaliseRecord,
  schemaOf,
  type CellStats,
  type Column,
  type Columns,
  type HashedRow,
  type SchemaKey,
} from '../client/customer-list';
import { emailSha256Sync, phoneSha256Sync } from '../client/hashing-node';
import { countryCode, normalisePhoneCell } from '../client/identifiers';
import { UsageError } from './errors';

// The column names, normalisation and hashing rules live in the client library, shared with browser uploads.
export { countryCode, normalisePhoneCell };
export { COUNTRY_HEADERS, EMAIL_HEADERS, PHONE_HEADERS, detectDelimiter, headerKey, schemaOf } from '../client/customer-list';
export type { CellStats, Column, Columns, HashedRow, SchemaKey } from '../client/customer-list';

export interface ColumnFlags {
  readonly phoneColumn?: string;
  readonly emailColumn?: string;
  readonly countryColumn?: string;
}

function findNamed(header: readonly string[], wanted: string, flag: string): Column {
  const target = wanted.trim().toLowerCase();
  let index = header.findIndex((h) => h.trim().toLowerCase() === target);
  if (index < 0) index = header.findIndex((h) => headerKey(h) === headerKey(wanted) && headerKey(wanted) !== '');
  if (index < 0) {
    throw new UsageError(`${flag} "${wanted}" is not a column of the CSV header (columns: ${header.map((h) => JSON.stringify(h)).join(', ')})`);
  }
  return { index, name: header[index] ?? wanted };
}

/**
 * The columns to read: named by flags (exact header text, case-insensitive),
 * otherwise detected from common header names. At least one of phone / email.
 */
export function detectColumns(header: readonly string[], flags: ColumnFlags = {}): Columns {
  const phone = flags.phoneColumn !== undefined ? findNamed(header, flags.phoneColumn, '--phone-column') : findKnownColumn(header, PHONE_HEADERS);
  const email = flags.emailColumn !== undefined ? findNamed(header, flags.emailColumn, '--email-column') : findKnownColumn(header, EMAIL_HEADERS);
  const country = flags.countryColumn !== undefined ? findNamed(header, flags.countryColumn, '--country-column') : findKnownColumn(header, COUNTRY_HEADERS);
  if (!phone && !email) {
    throw new UsageError(
      `no phone or email column found in the CSV header (columns: ${header.map((h) => JSON.stringify(h)).join(', ')}); ` +
        'name them with --phone-column and/or --email-column',
    );
  }
  if (phone && email && phone.index === email.index) throw new UsageError('the phone and email columns must differ');
  return { ...(phone && { phone }), ...(email && { email }), ...(country && { country }) };
}

/**
 * One record's cells in schema order, hashed, `""` for unknown; undefined when
 * the record has neither a valid phone nor a valid email.
 */
export function hashRecord(record: readonly string[], columns: Columns, defaultCountry: string, stats?: CellStats): HashedRow | undefined {
  const normalised = normaliseRecord(record, columns, defaultCountry);
  if (!normalised.phone && !normalised.email) return undefined;
  const cells: string[] = [];
  if (columns.phone) cells.push(normalised.phone ? phoneSha256Sync(normalised.phone) : '');
  if (columns.email) cells.push(normalised.email ? emailSha256Sync(normalised.email) : '');
  if (stats) {
    stats.invalidPhoneCells += normalised.badPhone ? 1 : 0;
    stats.invalidEmailCells += normalised.badEmail ? 1 : 0;
  }
  return cells;
}

export interface FileScan {
  readonly size: number;
  readonly mtimeMs: number;
  /** SHA-256 of the first 64 KiB: with size and mtime, the file's fingerprint for resuming. */
  readonly headSha256: string;
  /** The first line (the header), without its line break. */
  readonly headerLine: string;
  /** Non-blank lines after the first: the estimated number of rows. */
  readonly dataLines: number;
}

const HEAD_BYTES = 64 * 1024;

/** Fingerprints the file and counts its lines in one streaming pass (no record is parsed or kept). */
export async function scanFile(path: string): Promise<FileScan> {
  const info = await stat(path);
  if (!info.isFile()) throw new UsageError(`${path} is not a file`);
  const handle = await open(path, 'r');
  let head: Buffer;
  try {
    const buffer = Buffer.alloc(Math.min(HEAD_BYTES, info.size));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    head = buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
  const firstBreak = head.indexOf(0x0a);
  const headerLine = head.subarray(0, firstBreak < 0 ? head.length : firstBreak).toString('utf8');
  let lines = 0;
  let seenHeader = false;
  let lineHasContent = false;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    for (let i = 0; i < chunk.length; i += 1) {
      const byte = chunk[i];
      if (byte === 0x0a) {
        if (seenHeader && lineHasContent) lines += 1;
        seenHeader = true;
        lineHasContent = false;
      } else if (byte !== 0x0d && byte !== 0x20 && byte !== 0x09) {
        lineHasContent = true;
      }
    }
  }
  if (seenHeader && lineHasContent) lines += 1;
  return {
    size: info.size,
    mtimeMs: Math.trunc(info.mtimeMs),
    headSha256: createHash('sha256').update(head).digest('hex'),
    headerLine: headerLine.replace(/^\uFEFF/, '').replace(/\r$/, ''),
    dataLines: lines,
  };
}

export interface CsvReadOptions extends ColumnFlags {
  /** ISO 3166-1 alpha-2, e.g. "US": the country of numbers written without a country code. */
  readonly country: string;
  /** Field delimiter; detected from the header line when omitted. */
  readonly delimiter?: string;
  /** Called for each record that cannot be used, with its line number (1 = the header). */
  readonly onSkip?: (line: number, reason: SkipReason) => void;
  readonly stats?: CellStats;
}

export type SkipReason = 'no-valid-identifier' | 'malformed';

export interface HashedCsv {
  readonly header: readonly string[];
  readonly columns: Columns;
  readonly schema: SchemaKey[];
  /**
   * Hashed rows, pulled one at a time from the stream: while the consumer
   * awaits, nothing more is read (back-pressure through the parser).
   */
  readonly rows: AsyncGenerator<HashedRow, void, undefined>;
  /** Records parsed so far (data rows, used or not). */
  recordsRead(): number;
}

/**
 * Line breaks inside quoted fields, to find the line a record starts on:
 * `breaks` as a text editor counts them, and `crlf` the "\r\n" pairs among
 * them, which csv-parse's line counter counts twice.
 */
function embeddedLineBreaks(record: readonly string[]): { breaks: number; crlf: number } {
  let breaks = 0;
  let crlf = 0;
  for (const field of record) {
    for (let i = 0; i < field.length; i += 1) {
      const c = field.charCodeAt(i);
      if (c === 0x0a) breaks += 1;
      else if (c === 0x0d) {
        if (field.charCodeAt(i + 1) === 0x0a) crlf += 1;
        else breaks += 1;
      }
    }
  }
  return { breaks, crlf };
}

/**
 * Parses a CSV stream with a header row and hashes its rows. The header is
 * read before this resolves, so the columns and schema are known up front.
 */
export async function readHashedCsv(input: Readable, options: CsvReadOptions): Promise<HashedCsv> {
  if (!countryCode(options.country)) throw new UsageError(`--country must be an ISO 3166-1 alpha-2 code such as US or GB (got "${options.country}")`);
  const country = options.country.trim().toUpperCase();
  const parser = input.pipe(
    parse({
      bom: true,
      info: true,
      trim: true,
      delimiter: options.delimiter ?? ',',
      record_delimiter: ['\r\n', '\n', '\r'],
      relax_column_count: true,
      relax_quotes: true,
      skip_empty_lines: true,
      skip_records_with_error: true,
    }),
  );
  // A record the parser cannot read (e.g. a stray quote) is skipped, reported by line number only.
  // csv-parse counts a "\r\n" inside quotes as two lines; `overcount` corrects the lines of later records.
  let overcount = 0;
  parser.on('skip', (err: CsvError) => {
    options.onSkip?.(typeof err.lines === 'number' ? err.lines - overcount : 0, 'malformed');
  });
  input.on('error', (err) => parser.destroy(err));

  const iterator = (parser as AsyncIterable<{ record: string[]; info: Info }>)[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.done) throw new UsageError('the CSV is empty: it needs a header row naming its columns');
  const header = first.value.record;
  const columns = detectColumns(header, options);
  let records = 0;
  let lastLine = first.value.info.lines;

  async function* rows(): AsyncGenerator<HashedRow, void, undefined> {
    try {
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        records += 1;
        const { record, info } = next.value;
        // Only a record spanning lines can hold line breaks: skip the scan for the usual one-line record.
        const spans = info.lines - overcount > lastLine + 1;
        const { breaks, crlf } = spans ? embeddedLineBreaks(record) : { breaks: 0, crlf: 0 };
        overcount += crlf;
        lastLine = info.lines - overcount;
        const hashed = hashRecord(record, columns, country, options.stats);
        if (hashed) yield hashed;
        else options.onSkip?.(lastLine - breaks, 'no-valid-identifier');
      }
    } finally {
      await iterator.return?.();
      input.destroy();
    }
  }

  return { header, columns, schema: schemaOf(columns), rows: rows(), recordsRead: () => records };
}
