/**
 * The customer-list hashing convention in the client library: the browser
 * path (WebCrypto, async) and the Node path (createHash, sync) give the same
 * hashes from the same normalisation, and they match what the service
 * computes for its own users (functions/core/identifiers.ts).
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import {
  countryCode,
  emailCellSha256,
  emailCellSha256Sync,
  emailHashInput,
  emailSha256,
  emailSha256Sync,
  normaliseEmail,
  normalisePhone,
  normalisePhoneCell,
  phoneCellSha256,
  phoneCellSha256Sync,
  phoneHashInput,
  phoneSha256,
  phoneSha256Sync,
  sha256Hex,
  sha256HexSync,
} from '../../client/node';
import * as server from '../../functions/core/identifiers';

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** [as written, default country, E.164]: numbers the service itself parses the same way. */
const PHONES: [string, string | undefined, string][] = [
  ['+14155550123', undefined, '+14155550123'],
  ['+1 (415) 555-0123', undefined, '+14155550123'],
  ['+1.415.555.0123', undefined, '+14155550123'],
  [' +1 415 555 0123 ', undefined, '+14155550123'],
  ['(415) 555-0123', 'US', '+14155550123'],
  ['415-555-0123', 'US', '+14155550123'],
  ['1-415-555-0123', 'US', '+14155550123'],
  ['011 1 415 555 0123', 'US', '+14155550123'],
  ['+44 20 7946 0958', undefined, '+442079460958'],
  ['020 7946 0958', 'GB', '+442079460958'],
  ['+44 (0)20 7946 0958', 'GB', '+442079460958'],
  ['07911 123456', 'GB', '+447911123456'],
  ['+33 6 12 34 56 78', undefined, '+33612345678'],
  ['06 12 34 56 78', 'FR', '+33612345678'],
  ['030 123456', 'DE', '+4930123456'],
  ['+49 30 123456', 'US', '+4930123456'],
  ['+91 98765 43210', undefined, '+919876543210'],
  ['+55 11 91234-5678', undefined, '+5511912345678'],
];

/** [as written, normalised]: addresses with spaces and capitals. */
const EMAILS: [string, string][] = [
  ['ana@example.com', 'ana@example.com'],
  ['Ana@Example.com', 'ana@example.com'],
  ['  ANA@EXAMPLE.COM  ', 'ana@example.com'],
  ['\tBob.Smith+Flowers@Mail.Example.co.uk\n', 'bob.smith+flowers@mail.example.co.uk'],
  [' CLEO_O@EXAMPLE.ORG', 'cleo_o@example.org'],
];

const NOT_PHONES = ['', '   ', 'n/a', '555-0123', '12', '+1 123', '+999 1234 5678', 'not a number'];
const NOT_EMAILS = ['', '   ', 'ana', 'ana@', '@example.com', 'a b@example.com', 'ana@@example.com', `${'a'.repeat(250)}@x.com`];

describe('phone numbers', () => {
  it.each(PHONES)('%j (country %s) is %s, hashed alike by WebCrypto, Node and the service', async (raw, country, e164) => {
    expect(normalisePhone(raw, country)).toBe(e164);
    expect(server.normalisePhone(raw, country)).toBe(e164);
    const expected = sha256(e164.slice(1));
    expect(phoneHashInput(e164)).toBe(e164.slice(1));
    expect(await phoneSha256(e164)).toBe(expected);
    expect(phoneSha256Sync(e164)).toBe(expected);
    expect(server.phoneSha256(server.normalisePhone(raw, country)!)).toBe(expected);
  });

  it("gives the contract's known answers (sha256sum of the digits, of the address)", async () => {
    expect(await phoneSha256('+14155550123')).toBe('413ba75461ab5f99d36820e561ea97e2bd80f9cb586f7ecea6cf4c496518950a');
    expect(phoneSha256Sync('+14155550123')).toBe('413ba75461ab5f99d36820e561ea97e2bd80f9cb586f7ecea6cf4c496518950a');
    expect(await emailSha256(' Ana@Example.COM ')).toBe('8e43ca37701228e74983efdbd0cff5c16b3b1e5d4e29a7c05626d4d25a018e11');
    expect(emailSha256Sync(' Ana@Example.COM ')).toBe('8e43ca37701228e74983efdbd0cff5c16b3b1e5d4e29a7c05626d4d25a018e11');
  });

  it.each(NOT_PHONES)('%j is not a number, for the library and the service alike', (raw) => {
    expect(normalisePhone(raw, 'US')).toBeUndefined();
    expect(server.normalisePhone(raw, 'US')).toBeUndefined();
  });

  it('needs a country for a national number', () => {
    expect(normalisePhone('4155550123')).toBeUndefined();
    expect(server.normalisePhone('4155550123')).toBeUndefined();
    expect(normalisePhone('4155550123', 'US')).toBe('+14155550123');
  });

  it('reads customer-list cells, with a 00 international prefix whatever the country, the same on both paths', async () => {
    const cells: [string, string, string | undefined][] = [
      ['001 415 555 0123', 'US', '+14155550123'],
      ['0044 20 7946 0018', 'US', '+442079460018'],
      ['0044 (0)20 7946 0018', 'GB', '+442079460018'],
      ['(415) 555-0123', 'US', '+14155550123'],
      ['555-0199', 'US', undefined],
      ['', 'US', undefined],
    ];
    for (const [raw, country, e164] of cells) {
      expect(normalisePhoneCell(raw, country)).toBe(e164);
      const expected = e164 ? server.phoneSha256(e164) : undefined;
      expect(await phoneCellSha256(raw, country)).toBe(expected);
      expect(phoneCellSha256Sync(raw, country)).toBe(expected);
    }
  });

  it('refuses to hash what is not E.164, without echoing it', async () => {
    for (const raw of ['(415) 555-0123', '14155550123', '+0123', '']) {
      expect(() => phoneSha256Sync(raw)).toThrow(TypeError);
      await expect(phoneSha256(raw)).rejects.toThrow(TypeError);
      let message = '';
      try {
        phoneHashInput(raw);
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(/E\.164/);
      if (raw) expect(message).not.toContain(raw);
    }
  });

  it('knows ISO country codes, in any case, and nothing else', () => {
    expect(countryCode(' gb ')).toBe('GB');
    expect(countryCode('US')).toBe('US');
    for (const bad of [undefined, '', 'XX', 'USA', 'United States']) expect(countryCode(bad)).toBeUndefined();
  });
});

describe('email addresses', () => {
  it.each(EMAILS)('%j is %s, hashed alike by WebCrypto, Node and the service', async (raw, email) => {
    expect(normaliseEmail(raw)).toBe(email);
    expect(server.normaliseEmail(raw)).toBe(email);
    const expected = sha256(email);
    expect(emailHashInput(raw)).toBe(email);
    expect(await emailSha256(raw)).toBe(expected);
    expect(emailSha256Sync(raw)).toBe(expected);
    expect(await emailCellSha256(raw)).toBe(expected);
    expect(emailCellSha256Sync(raw)).toBe(expected);
    expect(server.emailSha256(raw)).toBe(expected);
  });

  it.each(NOT_EMAILS)('%j is not an address, for the library and the service alike', async (raw) => {
    expect(normaliseEmail(raw)).toBeUndefined();
    expect(server.normaliseEmail(raw)).toBeUndefined();
    expect(await emailCellSha256(raw)).toBeUndefined();
    expect(emailCellSha256Sync(raw)).toBeUndefined();
  });
});

describe('the library and the service agree on any input', () => {
  it('normalises arbitrary strings and phone-like strings identically', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (raw) => {
        expect(normaliseEmail(raw)).toBe(server.normaliseEmail(raw));
        expect(normalisePhone(raw, 'US')).toBe(server.normalisePhone(raw, 'US'));
      }),
      { numRuns: 300 },
    );
    const phoneLike = fc.stringMatching(/^\+?[0-9 ()\-.]{4,20}$/);
    fc.assert(
      fc.property(phoneLike, fc.constantFrom('US', 'GB', 'FR', 'DE', 'IN', 'BR'), (raw, country) => {
        expect(normalisePhone(raw, country)).toBe(server.normalisePhone(raw, country));
      }),
      { numRuns: 300 },
    );
    const emailLike = fc.tuple(fc.constantFrom('', ' ', '\t'), fc.emailAddress(), fc.constantFrom('', ' ', '\n')).map(([a, e, b]) => a + e.toUpperCase() + b);
    fc.assert(
      fc.property(emailLike, (raw) => {
        expect(normaliseEmail(raw)).toBe(server.normaliseEmail(raw));
      }),
      { numRuns: 300 },
    );
  });

  it('hashes any text alike with WebCrypto and Node', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'grapheme', maxLength: 30 }), async (text) => {
        expect(await sha256Hex(text)).toBe(sha256HexSync(text));
        expect(sha256HexSync(text)).toBe(sha256(text));
      }),
      { numRuns: 200 },
    );
  });
});
