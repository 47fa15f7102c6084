import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  detectColumns,
  detectDelimiter,
  hashRecord,
  headerKey,
  normalisePhoneCell,
  readHashedCsv,
  scanFile,
  schemaOf,
  type CellStats,
  type HashedRow,
} from '../../cli/csv';
import { UsageError } from '../../cli/errors';

const sha256 = (value: string): string => createHash('sha256').update(value).digest('hex');

async function hashAll(csv: string, options: { country: string; phoneColumn?: string; emailColumn?: string; delimiter?: string }) {
  const skipped: number[] = [];
  const stats: CellStats = { invalidPhoneCells: 0, invalidEmailCells: 0 };
  const parsed = await readHashedCsv(Readable.from([csv]), { ...options, stats, onSkip: (line) => skipped.push(line) });
  const rows: HashedRow[] = [];
  for await (const row of parsed.rows) rows.push(row);
  return { ...parsed, rows, skipped, stats };
}

describe('CLI CSV: column detection', () => {
  it.each([
    [['Name', 'Phone', 'Email'], 'Phone', 'Email'],
    [['name', 'phone_number', 'email_address'], 'phone_number', 'email_address'],
    [['MOBILE', 'E-Mail'], 'MOBILE', 'E-Mail'],
    [['Tel', 'mail'], 'Tel', 'mail'],
    [['msisdn'], 'msisdn', undefined],
    [['Phone Number ', 'id'], 'Phone Number ', undefined],
    [['customer', 'Email Address'], undefined, 'Email Address'],
    [['cell_phone', 'telephone', 'e_mail'], 'cell_phone', 'e_mail'],
  ])('finds the columns of %j', (header, phone, email) => {
    const columns = detectColumns(header);
    expect(columns.phone?.name).toBe(phone);
    expect(columns.email?.name).toBe(email);
  });

  it('prefers the more specific phone header when several match', () => {
    expect(detectColumns(['mobile', 'phone']).phone).toEqual({ index: 1, name: 'phone' });
  });

  it('takes columns named by flags, case-insensitively', () => {
    const columns = detectColumns(['Kunde', 'Handynummer', 'Mailadresse'], { phoneColumn: 'handynummer', emailColumn: 'MAILADRESSE' });
    expect(columns.phone).toEqual({ index: 1, name: 'Handynummer' });
    expect(columns.email).toEqual({ index: 2, name: 'Mailadresse' });
  });

  it('detects an ISO country column', () => {
    expect(detectColumns(['phone', 'Country Code']).country).toEqual({ index: 1, name: 'Country Code' });
  });

  it('is a usage error when no column is found or a named one is missing', () => {
    expect(() => detectColumns(['first', 'last'])).toThrow(UsageError);
    expect(() => detectColumns(['phone'], { emailColumn: 'mail' })).toThrow(/--email-column "mail" is not a column/);
  });

  it('orders the schema phone first, with only the columns present', () => {
    expect(schemaOf(detectColumns(['email', 'phone']))).toEqual(['PHONE_SHA256', 'EMAIL_SHA256']);
    expect(schemaOf(detectColumns(['email']))).toEqual(['EMAIL_SHA256']);
    expect(headerKey(' E-Mail_Address ')).toBe('emailaddress');
  });

  it('detects the delimiter from the header line', () => {
    expect(detectDelimiter('name,phone,email')).toBe(',');
    expect(detectDelimiter('name;phone;email')).toBe(';');
    expect(detectDelimiter('name\tphone')).toBe('\t');
    expect(detectDelimiter('phone')).toBe(',');
  });
});

describe('CLI CSV: normalisation', () => {
  it.each([
    ['+1 (415) 555-0123', 'US', '+14155550123'],
    ['(415) 555-0123', 'US', '+14155550123'],
    ['415 555 0123', 'US', '+14155550123'],
    ['415-555-0123', 'US', '+14155550123'],
    ['415.555.0123', 'US', '+14155550123'],
    ['1-415-555-0123', 'US', '+14155550123'],
    [' 4155550123 ', 'US', '+14155550123'],
    ['001 415 555 0123', 'US', '+14155550123'],
    ['0014155550123', 'US', '+14155550123'],
    ['011 1 415 555 0123', 'US', '+14155550123'],
    ['+1 415 555 0123', 'GB', '+14155550123'],
    ['020 7946 0018', 'GB', '+442079460018'],
    ['0044 20 7946 0018', 'US', '+442079460018'],
    ['0044 (0)20 7946 0018', 'GB', '+442079460018'],
    ['07911 123456', 'GB', '+447911123456'],
    ['030 123456', 'DE', '+4930123456'],
    ['06 12 34 56 78', 'FR', '+33612345678'],
  ])('%s with country %s is %s', (input, country, expected) => {
    expect(normalisePhoneCell(input, country)).toBe(expected);
  });

  it.each([['555-0123'], ['n/a'], ['12'], [''], ['   '], ['00'], ['not a number'], ['+999 123']])('%j is not a number', (input) => {
    expect(normalisePhoneCell(input, 'US')).toBeUndefined();
  });

  it('hashes with the contract convention: E.164 digits without + and trimmed lower-cased emails', () => {
    const columns = detectColumns(['phone', 'email']);
    expect(hashRecord(['+1 (415) 555-0123', '  Ana@Example.COM '], columns, 'US')).toEqual([sha256('14155550123'), sha256('ana@example.com')]);
    expect(sha256('14155550123')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('sends "" for an unknown cell and drops a row with neither identifier', () => {
    const columns = detectColumns(['phone', 'email']);
    const stats: CellStats = { invalidPhoneCells: 0, invalidEmailCells: 0 };
    expect(hashRecord(['', 'bo@example.com'], columns, 'US', stats)).toEqual(['', sha256('bo@example.com')]);
    expect(hashRecord(['n/a', 'bo@example.com'], columns, 'US', stats)).toEqual(['', sha256('bo@example.com')]);
    expect(hashRecord(['n/a', 'not-an-email'], columns, 'US', stats)).toBeUndefined();
    expect(hashRecord([], columns, 'US', stats)).toBeUndefined();
    expect(stats).toEqual({ invalidPhoneCells: 1, invalidEmailCells: 0 });
  });

  it("uses a row's ISO country over the default", () => {
    const columns = detectColumns(['phone', 'country']);
    expect(hashRecord(['020 7946 0018', 'gb'], columns, 'US')).toEqual([sha256('442079460018')]);
    expect(hashRecord(['(415) 555-0123', 'United States'], columns, 'US')).toEqual([sha256('14155550123')]);
  });
});

describe('CLI CSV: streaming read', () => {
  it('normalises a mixed-format file and reports unusable rows by line number only', async () => {
    const csv = [
      '\uFEFFName,Phone Number,E-mail',
      'Ana,+1 (415) 555-0101,ana@example.com',
      'Ben,415-555-0102,',
      '',
      'Cleo,(415) 555 0103,CLEO@EXAMPLE.COM ',
      'Dan,n/a,not-an-email',
      '"Eve, Jr.",001 415 555 0105,',
      '"Multi',
      'line",,',
      'Fay,00 44 20 7946 0018,',
      'Gus,555-0199,',
    ].join('\r\n');
    const { rows, skipped, schema, columns } = await hashAll(csv, { country: 'US' });
    expect(schema).toEqual(['PHONE_SHA256', 'EMAIL_SHA256']);
    expect(columns.phone?.name).toBe('Phone Number');
    expect(rows).toEqual([
      [sha256('14155550101'), sha256('ana@example.com')],
      [sha256('14155550102'), ''],
      [sha256('14155550103'), sha256('cleo@example.com')],
      [sha256('14155550105'), ''],
      [sha256('442079460018'), ''],
    ]);
    // Dan is on line 6, the two-line record starts on line 8, Gus is on line 11.
    expect(skipped).toEqual([6, 8, 11]);
  });

  it('never puts a raw value in what it yields', async () => {
    const { rows } = await hashAll('phone,email\n4155550101,a@example.com\nx,y\n', { country: 'US' });
    for (const row of rows) for (const cell of row) expect(cell).toMatch(/^([0-9a-f]{64})?$/);
  });

  it('reads semicolon-separated files with the detected delimiter', async () => {
    const { rows } = await hashAll('email;phone\nana@example.com;415 555 0101\n', { country: 'US', delimiter: ';' });
    expect(rows).toEqual([[sha256('14155550101'), sha256('ana@example.com')]]);
  });

  it('rejects an empty file, an unknown country and a header without identifiers as usage errors', async () => {
    await expect(hashAll('', { country: 'US' })).rejects.toThrow(UsageError);
    await expect(hashAll('phone\n1\n', { country: 'XX' })).rejects.toThrow(/--country/);
    await expect(hashAll('first,last\na,b\n', { country: 'US' })).rejects.toThrow(/no phone or email column/);
  });

  describe('scanFile', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'cli-csv-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('counts non-blank data lines and fingerprints the head', async () => {
      const path = join(dir, 'a.csv');
      writeFileSync(path, '\uFEFFphone;email\r\n1;a\r\n\r\n2;b\r\n3;c');
      const scan = await scanFile(path);
      expect(scan.dataLines).toBe(3);
      expect(scan.headerLine).toBe('phone;email');
      expect(scan.headSha256).toMatch(/^[0-9a-f]{64}$/);
      writeFileSync(path, '\uFEFFphone;email\r\n1;a\r\n\r\n2;b\r\n3;d');
      expect((await scanFile(path)).headSha256).not.toBe(scan.headSha256);
    });
  });
});
