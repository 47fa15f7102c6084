import { createHash } from 'node:crypto';
import {
  accountMatchKeys,
  emailSha256,
  matchKey,
  normaliseEmail,
  normalisePhone,
  phoneSha256,
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
});
