import { createHash, createHmac } from 'node:crypto';
import {
  accountMatchKeys,
  emailSha256,
  isSha256Hex,
  matchKey,
  normaliseEmail,
  normalisePhone,
  phoneSha256,
  writeMatchKey,
} from '../../functions/core/identifiers';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('normalisePhone', () => {
  it.each([
    ['+1 (415) 555-0123', '+14155550123'],
    ['+44 20 7946 0958', '+442079460958'],
    ['+33 6 12 34 56 78', '+33612345678'],
  ])('stores %s as %s', (input, e164) => {
    expect(normalisePhone(input)).toBe(e164);
  });

  it('uses a default country for national numbers', () => {
    expect(normalisePhone('(415) 555-0123', 'US')).toBe('+14155550123');
    expect(normalisePhone('020 7946 0958', 'GB')).toBe('+442079460958');
  });

  it.each(['', 'hello', '+1 123', '4155550123', '+999 1234 5678'])('rejects %p', (input) => {
    expect(normalisePhone(input)).toBeUndefined();
  });
});

describe('normaliseEmail', () => {
  it('trims and lower-cases', () => {
    expect(normaliseEmail('Ana@Example.com ')).toBe('ana@example.com');
  });
  it.each(['', 'ana', 'ana@', '@example.com', 'a b@example.com'])('rejects %p', (input) => {
    expect(normaliseEmail(input)).toBeUndefined();
  });
});

describe('hashing convention', () => {
  it('hashes the E.164 digits without + for phones, the trimmed lower-cased address for emails', () => {
    expect(phoneSha256('+14155550123')).toBe(sha('14155550123'));
    expect(emailSha256(' Ana@Example.com')).toBe(sha('ana@example.com'));
  });

  it('keys hashes with the pepper so stored keys never equal the uploaded hash', () => {
    const pepper = Buffer.from('p'.repeat(32));
    const hash = phoneSha256('+14155550123');
    const key = matchKey(pepper, 'PHONE', hash);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(key).not.toBe(hash);
    expect(matchKey(pepper, 'EMAIL', hash)).not.toBe(key);
    expect(matchKey(Buffer.from('q'.repeat(32)), 'PHONE', hash)).not.toBe(key);
    expect(accountMatchKeys(pepper, { phoneNumber: '+14155550123', email: 'ana@example.com' })).toEqual([
      key,
      matchKey(pepper, 'EMAIL', emailSha256('ana@example.com')),
    ]);
  });

  it('is HMAC-SHA256(pepper, "<KIND>:<hash>"), the same as hex and as bytes written into a chunk', () => {
    const pepper = Buffer.from('p'.repeat(32));
    const hash = phoneSha256('+14155550123');
    const expected = createHmac('sha256', pepper).update(`PHONE:${hash}`).digest();
    expect(matchKey(pepper, 'PHONE', hash)).toBe(expected.toString('hex'));
    const target = Buffer.alloc(40, 0xee);
    expect(writeMatchKey(pepper, 'PHONE', hash, target, 3)).toBe(35);
    expect(target.subarray(3, 35)).toEqual(expected);
    expect(target.subarray(0, 3)).toEqual(Buffer.alloc(3, 0xee));
    expect(target.subarray(35)).toEqual(Buffer.alloc(5, 0xee));
  });
});

describe('isSha256Hex', () => {
  const good = sha('14155550123');
  it('accepts 64 lowercase hex characters only', () => {
    expect(isSha256Hex(good)).toBe(true);
    expect(isSha256Hex('0123456789abcdef'.repeat(4))).toBe(true);
    for (const bad of [
      '',
      good.toUpperCase(),
      good.slice(0, 63),
      `${good}0`,
      `${good.slice(0, 63)}g`,
      `${good.slice(0, 63)}G`,
      `${good.slice(0, 63)}/`,
      `${good.slice(0, 63)}:`,
      `${good.slice(0, 63)}\u00e9`,
      `${good.slice(0, 63)}\u0130`,
      ' '.repeat(64),
    ]) {
      expect(isSha256Hex(bad)).toBe(false);
    }
  });

  it('agrees with /^[0-9a-f]{64}$/ on every single-character change', () => {
    for (let code = 0; code < 0x180; code++) {
      const cell = `${good.slice(0, 10)}${String.fromCharCode(code)}${good.slice(11)}`;
      expect(isSha256Hex(cell)).toBe(/^[0-9a-f]{64}$/.test(cell));
    }
  });
});
