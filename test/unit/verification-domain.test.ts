import {
  admit,
  codeMatches,
  identifierTag,
  isLive,
  MAX_WRONG_CODES,
  newVerificationId,
  verificationCode,
  verificationMessage,
} from '../../functions/core/verification';

const key = Buffer.from('k'.repeat(64), 'utf8');

describe('one-time codes', () => {
  it('derives 6 digits per verification id, the same every time, different under another key', () => {
    const id = newVerificationId();
    const code = verificationCode(key, id);
    expect(code).toMatch(/^[0-9]{6}$/);
    expect(verificationCode(key, id)).toBe(code);
    const others = Array.from({ length: 20 }, () => verificationCode(Buffer.from('x'.repeat(64)), id));
    expect(others.every((c) => c === code)).toBe(false);
  });

  it('spreads codes over the six digits (no code is far more likely than chance)', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 20_000; i++) {
      const first = verificationCode(key, `id-${i}`)[0]!;
      counts.set(first, (counts.get(first) ?? 0) + 1);
    }
    expect(counts.size).toBe(10);
    for (const n of counts.values()) expect(Math.abs(n - 2_000)).toBeLessThan(250);
  });

  it('accepts the code and nothing else', () => {
    const id = newVerificationId();
    const code = verificationCode(key, id);
    expect(codeMatches(key, id, code)).toBe(true);
    expect(codeMatches(key, id, code === '000000' ? '000001' : '000000')).toBe(false);
    expect(codeMatches(key, id, `${code}0`)).toBe(false);
  });

  it('names the app, carries the code, and nothing about who asked', () => {
    const { subject, text } = verificationMessage('123456');
    expect(subject).toContain('Consent Audiences');
    expect(text).toContain('123456');
  });

  it('tags identifier counters with a keyed hash, never the value', () => {
    const tag = identifierTag(key, 'phoneNumber', '+14155550123');
    expect(tag).toMatch(/^[0-9a-f]{64}$/);
    expect(tag).not.toContain('4155550123');
    expect(identifierTag(key, 'email', '+14155550123')).not.toBe(tag);
  });

  it('is live until it expires or takes five wrong codes', () => {
    expect(isLive({ expiresAt: 100, wrongCodes: 0 }, 99)).toBe(true);
    expect(isLive({ expiresAt: 100, wrongCodes: 0 }, 100)).toBe(false);
    expect(isLive({ expiresAt: 100, wrongCodes: MAX_WRONG_CODES - 1 }, 50)).toBe(true);
    expect(isLive({ expiresAt: 100, wrongCodes: MAX_WRONG_CODES }, 50)).toBe(false);
    expect(isLive(undefined, 0)).toBe(false);
  });
});

describe('rolling windows', () => {
  it('admits up to the limit within the window, then says when the oldest leaves', () => {
    let times: number[] = [];
    for (let t = 1000; t < 1005; t++) {
      const d = admit(times, t, 5, 3600);
      expect(d.admitted).toBe(true);
      times = d.times;
    }
    const refused = admit(times, 1010, 5, 3600);
    expect(refused).toEqual({ admitted: false, times, retryAfter: 1000 + 3600 - 1010 });
    expect(admit(times, 4600, 5, 3600).admitted).toBe(true);
    expect(admit(times, 4600, 5, 3600).times).toEqual([1001, 1002, 1003, 1004, 4600]);
  });
});
