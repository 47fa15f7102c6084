/**
 * Reading a business's customer list, shared by the CLI (streaming, Node) and
 * the web console (in the browser): which columns hold phone numbers, emails
 * and countries, the hashed row of a record (the contract's convention, after
 * the normalisation in identifiers.ts), and how rows fall into upload batches
 * under the API's limits. No Node module: both runtimes use these.
 *
 * Nothing here returns or reports a cell's value: a record that cannot be
 * used is reported by the caller by line number only.
 */
import type { components } from './api/schema';
import { emailSha256, phoneSha256 } from './hashing';
import { countryCode, normaliseEmail, normalisePhoneCell } from './identifiers';

/** What a cell holds, as the API names it. */
export type SchemaKey = components['schemas']['SchemaKey'];

/** Header names recognised as a column, compared after {@link headerKey}; earlier names win. */
export const PHONE_HEADERS = [
  'phone',
  'phonenumber',
  'phoneno',
  'mobile',
  'mobilephone',
  'mobilenumber',
  'mobileno',
  'cell',
  'cellphone',
  'cellnumber',
  'tel',
  'telephone',
  'telephonenumber',
  'msisdn',
  'contactnumber',
  'phone1',
] as const;
export const EMAIL_HEADERS = ['email', 'emailaddress', 'mail', 'emailid', 'contactemail', 'email1'] as const;
export const COUNTRY_HEADERS = ['country', 'countrycode', 'countryiso', 'iso2'] as const;

/** "E-Mail Address " → "emailaddress": lower case, letters and digits only. */
export const headerKey = (name: string): string => name.toLowerCase().replace(/[^a-z0-9]/g, '');

export interface Column {
  /** Zero-based position in each record. */
  readonly index: number;
  /** The header cell as written in the file (header names are not personal data). */
  readonly name: string;
}

export interface Columns {
  readonly phone?: Column;
  readonly email?: Column;
  /** Optional per-row ISO 3166 country, used instead of the default country when it is a valid code. */
  readonly country?: Column;
}

/** The first header that one of `names` recognises (by {@link headerKey}), or undefined. */
export function findKnownColumn(header: readonly string[], names: readonly string[]): Column | undefined {
  const keys = header.map(headerKey);
  for (const name of names) {
    const index = keys.indexOf(name);
    if (index >= 0) return { index, name: header[index] ?? name };
  }
  return undefined;
}

/** The phone, email and country columns found by their common header names (none may be found). */
export function detectKnownColumns(header: readonly string[]): Columns {
  const phone = findKnownColumn(header, PHONE_HEADERS);
  const email = findKnownColumn(header, EMAIL_HEADERS);
  const country = findKnownColumn(header, COUNTRY_HEADERS);
  return { ...(phone && { phone }), ...(email && { email }), ...(country && { country }) };
}

/** The upload's `schema`: phone first, then email, for the columns present. */
export const schemaOf = (columns: Columns): SchemaKey[] => [
  ...(columns.phone ? (['PHONE_SHA256'] as const) : []),
  ...(columns.email ? (['EMAIL_SHA256'] as const) : []),
];

/** Comma, semicolon, tab or pipe: whichever the header line has most of (comma on a tie or none). */
export function detectDelimiter(headerLine: string): string {
  const candidates = [',', ';', '\t', '|'];
  let best = ',';
  let bestCount = 0;
  for (const candidate of candidates) {
    const count = headerLine.split(candidate).length - 1;
    if (count > bestCount) {
      best = candidate;
      bestCount = count;
    }
  }
  return best;
}

/** Counters of cells, in rows that were kept, that were present but unusable; never their values. */
export interface CellStats {
  invalidPhoneCells: number;
  invalidEmailCells: number;
}

/** One row of an upload: a hash per schema key, `""` for unknown. */
export type HashedRow = string[];

/** A record's normalised cells before hashing, and whether a present cell was unusable. */
interface NormalisedRecord {
  readonly phone?: string;
  readonly email?: string;
  readonly badPhone: boolean;
  readonly badEmail: boolean;
}

/** Normalises a record's phone (E.164, per the row's country column or the default) and email. */
export function normaliseRecord(record: readonly string[], columns: Columns, defaultCountry: string): NormalisedRecord {
  let phone: string | undefined;
  let email: string | undefined;
  let badPhone = false;
  let badEmail = false;
  if (columns.phone) {
    const raw = record[columns.phone.index] ?? '';
    const country = (columns.country && countryCode(record[columns.country.index])) || defaultCountry;
    phone = normalisePhoneCell(raw, country);
    badPhone = !phone && raw.trim() !== '';
  }
  if (columns.email) {
    const raw = record[columns.email.index] ?? '';
    email = raw.trim() === '' ? undefined : normaliseEmail(raw);
    badEmail = !email && raw.trim() !== '';
  }
  return { ...(phone && { phone }), ...(email && { email }), badPhone, badEmail };
}

/**
 * One record's cells in schema order, hashed with WebCrypto, `""` for
 * unknown; undefined when the record has neither a valid phone nor a valid
 * email. The CLI does the same synchronously with Node's hashing.
 */
export async function hashRecord(record: readonly string[], columns: Columns, defaultCountry: string, stats?: CellStats): Promise<HashedRow | undefined> {
  const normalised = normaliseRecord(record, columns, defaultCountry);
  if (!normalised.phone && !normalised.email) return undefined;
  const cells: string[] = [];
  if (columns.phone) cells.push(normalised.phone ? await phoneSha256(normalised.phone) : '');
  if (columns.email) cells.push(normalised.email ? await emailSha256(normalised.email) : '');
  if (stats) {
    stats.invalidPhoneCells += normalised.badPhone ? 1 : 0;
    stats.invalidEmailCells += normalised.badEmail ? 1 : 0;
  }
  return cells;
}

/** The contract's maximum rows per request. */
export const MAX_BATCH_ROWS = 10_000;
/**
 * The contract's maximum body size (1 MiB) less room for the envelope. With
 * both a phone and an email column a row is about 136 bytes, so a batch of
 * 10,000 such rows would be over 1 MiB: batches are cut at whichever limit
 * comes first.
 */
export const MAX_BATCH_DATA_BYTES = 1024 * 1024 - 2048;

/** The JSON size of one row inside `data`, with its separating comma. */
export const rowBytes = (row: HashedRow): number => row.reduce((n, cell) => n + cell.length + 2, 0) + row.length - 1 + 2 + 1;

export interface Batch {
  readonly seq: number;
  readonly rows: HashedRow[];
  readonly last: boolean;
}

/**
 * Groups rows into batches of at most `maxRows` rows and `maxBytes` bytes of
 * JSON. Holds one batch: a full batch is yielded only once a further row has
 * arrived, so the one yielded with `last: true` really is the last. Yields
 * nothing for no rows.
 */
export async function* batchRows(
  rows: AsyncIterable<HashedRow> | Iterable<HashedRow>,
  maxRows: number = MAX_BATCH_ROWS,
  maxBytes: number = MAX_BATCH_DATA_BYTES,
): AsyncGenerator<Batch, void, undefined> {
  let seq = 0;
  let current: HashedRow[] = [];
  let bytes = 0;
  for await (const row of rows) {
    const size = rowBytes(row);
    if (current.length > 0 && (current.length >= maxRows || bytes + size > maxBytes)) {
      seq += 1;
      yield { seq, rows: current, last: false };
      current = [];
      bytes = 0;
    }
    current.push(row);
    bytes += size;
  }
  if (current.length > 0) yield { seq: seq + 1, rows: current, last: true };
}
