import fc from 'fast-check';
import {
  EXPIRY_GRACE_SECONDS,
  MAX_CIPHERTEXT_BYTES,
  MAX_CIPHERTEXT_CHARS,
  MESSAGE_ID,
  MESSAGE_TTL_SECONDS,
  STATUS_RETENTION_SECONDS,
  acceptance,
  base64DecodedLength,
  canMove,
  ciphertextProblem,
  isExpired,
  messageIdFactory,
  messageIdTime,
  needsStoreCheck,
  rateWindow,
  currentHourAllowance,
  dayWindow,
  earlierHours,
  hourOf,
  newRecipientRetryAfter,
  NEW_RECIPIENT_BUCKETS,
  removalStatus,
  shownStatus,
} from '../../functions/core/messages';
import type { MessageStatus, StoredStatus } from '../../functions/core/messages';

describe('base64DecodedLength', () => {
  it('measures what Node would decode, for any bytes in standard padded base64', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const text = Buffer.from(bytes).toString('base64');
        expect(base64DecodedLength(text)).toBe(bytes.length);
      }),
    );
  });

  it.each([
    ['', 0],
    ['QQ==', 1],
    ['QUI=', 2],
    ['QUJD', 3],
    ['+/+/', 3],
    ['QUJDRA==', 4],
  ])('%p decodes to %p bytes', (text, bytes) => {
    expect(base64DecodedLength(text)).toBe(bytes);
  });

  it.each([
    ['unpadded', 'QQ'],
    ['base64url alphabet', 'a-_b'],
    ['a space', 'QUJD QUJD'],
    ['a line break', 'QUJD\nQUJD'],
    ['a pad in the middle', 'QQ==QUJD'],
    ['three pads', 'Q==='],
    ['only pads', '===='],
    ['a pad before the last group ends', 'QU=D'],
    ['a length not a multiple of 4', 'QUJDR'],
    ['a non-ASCII letter', 'QUJé'],
    ['a phone number with spaces', '+1 415 555 0123'],
  ])('refuses %s', (_label, text) => {
    expect(base64DecodedLength(text)).toBeUndefined();
  });
});

describe('ciphertextProblem', () => {
  const ofBytes = (n: number) => Buffer.alloc(n, 7).toString('base64');

  it('accepts 1 byte up to exactly 64 KiB', () => {
    expect(ciphertextProblem(ofBytes(1))).toBeUndefined();
    expect(ciphertextProblem(ofBytes(MAX_CIPHERTEXT_BYTES))).toBeUndefined();
    expect(MAX_CIPHERTEXT_BYTES).toBe(65_536);
  });

  it('refuses one byte more than 64 KiB', () => {
    expect(ciphertextProblem(ofBytes(MAX_CIPHERTEXT_BYTES + 1))).toBe('too-large');
  });

  it('refuses text longer than any base64 of 64 KiB as too large, base64 or not', () => {
    expect(MAX_CIPHERTEXT_CHARS).toBe(ofBytes(MAX_CIPHERTEXT_BYTES).length);
    expect(ciphertextProblem('!'.repeat(MAX_CIPHERTEXT_CHARS + 1))).toBe('too-large');
  });

  it('refuses the empty string and text that is not base64', () => {
    expect(ciphertextProblem('')).toBe('empty');
    expect(ciphertextProblem('not base64!')).toBe('not-base64');
  });
});

describe('message ids', () => {
  const t0 = Date.UTC(2026, 10, 25, 12, 0, 0, 123);

  it('are 26-character ULIDs that carry the millisecond they were made', () => {
    const id = messageIdFactory()(t0);
    expect(id).toMatch(MESSAGE_ID);
    expect(id).toHaveLength(26);
    expect(messageIdTime(id)).toBe(t0);
  });

  it('sort as their times do', () => {
    const next = messageIdFactory();
    const times = [t0, t0 + 1, t0 + 999, t0 + 86_400_000, t0 + MESSAGE_TTL_SECONDS * 1000];
    const ids = times.map((t) => next(t));
    expect([...ids].sort()).toEqual(ids);
  });

  it('count up within one millisecond, so they stay in the order they were made', () => {
    // Prepare: the largest random part first, to show the count does not wrap
    const random = jest.fn((n: number) => Buffer.alloc(n, 0xff));
    random.mockReturnValueOnce(Buffer.from('00ffffffffffffffffff', 'hex'));
    const next = messageIdFactory(random);
    // Act
    const ids = [next(t0), next(t0), next(t0), next(t0 - 5)];
    // Assess
    expect(new Set(ids).size).toBe(4);
    expect([...ids].sort()).toEqual(ids);
    expect(ids.map(messageIdTime)).toEqual([t0, t0, t0, t0]);
  });

  it('differ between factories in the same millisecond', () => {
    expect(messageIdFactory()(t0)).not.toBe(messageIdFactory()(t0));
  });

  it.each([
    '',
    'x',
    '01ARZ3NDEKTSV4RRFFQ69G5FA',
    '01ARZ3NDEKTSV4RRFFQ69G5FAVV',
    '81ARZ3NDEKTSV4RRFFQ69G5FAV',
    '01ARZ3NDEKTSV4RRFFQ69G5FAU',
    '01arz3ndektsv4rrffq69g5fav',
  ])('%p is not a message id', (id) => {
    expect(messageIdTime(id)).toBeUndefined();
  });
});

describe('expiry arithmetic', () => {
  it('keeps a message exactly 30 days: 2,592,000 seconds', () => {
    expect(MESSAGE_TTL_SECONDS).toBe(2_592_000);
    const times = acceptance(new Date('2026-11-25T10:20:30.999Z'));
    expect(times.acceptedAt).toBe('2026-11-25T10:20:30Z');
    expect(times.expiresAt).toBe('2026-12-25T10:20:30Z');
    expect(Date.parse(times.expiresAt) - Date.parse(times.acceptedAt)).toBe(2_592_000_000);
    expect(times.expiresAtSeconds).toBe(Date.parse(times.expiresAt) / 1000);
    expect(times.statusExpiresAtSeconds).toBe(times.expiresAtSeconds + STATUS_RETENTION_SECONDS);
  });

  it('is exactly 30 days across a daylight-saving change and a leap day', () => {
    for (const at of ['2028-02-15T00:00:00Z', '2026-03-20T01:30:00Z', '2026-10-15T23:59:59Z']) {
      const times = acceptance(new Date(at));
      expect(Date.parse(times.expiresAt) - Date.parse(times.acceptedAt)).toBe(MESSAGE_TTL_SECONDS * 1000);
    }
    expect(acceptance(new Date('2028-02-15T00:00:00Z')).expiresAt).toBe('2028-03-16T00:00:00Z');
  });

  it('counts a message as expired from its expiresAt second on', () => {
    expect(isExpired(1000, 999)).toBe(false);
    expect(isExpired(1000, 1000)).toBe(true);
    expect(isExpired(1000, 1001)).toBe(true);
  });
});

describe('status transitions', () => {
  it('reads a removal by the TTL service principal as expired, any other as delivered', () => {
    expect(removalStatus({ type: 'Service', principalId: 'dynamodb.amazonaws.com' })).toBe('expired');
    expect(removalStatus(undefined)).toBe('delivered');
    expect(removalStatus({ type: 'Service', principalId: 'lambda.amazonaws.com' })).toBe('delivered');
  });

  it.each<[MessageStatus, MessageStatus, boolean]>([
    ['accepted', 'delivered', true],
    ['accepted', 'expired', true],
    ['accepted', 'accepted', false],
    ['delivered', 'expired', false],
    ['delivered', 'accepted', false],
    ['expired', 'delivered', false],
    ['expired', 'accepted', false],
  ])('%s → %s allowed: %p', (from, to, allowed) => {
    expect(canMove(from, to)).toBe(allowed);
  });

  describe('shownStatus', () => {
    const expiresAt = Date.parse('2026-12-25T10:20:30Z') / 1000;
    const stored: StoredStatus = { status: 'accepted', acceptedAt: '2026-11-25T10:20:30Z', messageExpiresAt: expiresAt, updatedAt: '2026-11-25T10:20:30Z' };

    it('shows accepted before expiry and within the grace after it, without looking at the store', () => {
      expect(needsStoreCheck(stored, expiresAt - 1)).toBe(false);
      expect(needsStoreCheck(stored, expiresAt + EXPIRY_GRACE_SECONDS - 1)).toBe(false);
      expect(shownStatus(stored, expiresAt + 1, undefined)).toEqual(stored);
    });

    it('shows an accepted message past expiry that is still stored as expired as of its expiresAt', () => {
      const now = expiresAt + EXPIRY_GRACE_SECONDS;
      expect(needsStoreCheck(stored, now)).toBe(true);
      expect(shownStatus(stored, now, true)).toEqual({ ...stored, status: 'expired', updatedAt: '2026-12-25T10:20:30Z' });
    });

    it('keeps the stored status of a message no longer stored until the stream records why it left', () => {
      expect(shownStatus(stored, expiresAt + 86_400, false)).toEqual(stored);
    });

    it('shows an expired message as updated at its expiresAt, however late the TTL process removed it', () => {
      const swept = { ...stored, status: 'expired' as const, updatedAt: '2027-01-02T03:04:05Z' };
      expect(shownStatus(swept, expiresAt + 9 * 86_400, undefined)).toEqual({ ...swept, updatedAt: '2026-12-25T10:20:30Z' });
    });

    it('never changes a final status', () => {
      const delivered = { ...stored, status: 'delivered' as const, updatedAt: '2026-12-25T10:20:29Z' };
      expect(needsStoreCheck(delivered, expiresAt + 86_400)).toBe(false);
      expect(shownStatus(delivered, expiresAt + 86_400, true)).toEqual(delivered);
    });
  });
});

describe('rateWindow', () => {
  it('puts a second in its fixed minute and says how long until the next', () => {
    expect(rateWindow(120)).toEqual({ start: 120, end: 180, retryAfter: 60 });
    expect(rateWindow(179)).toEqual({ start: 120, end: 180, retryAfter: 1 });
    expect(rateWindow(1_764_064_830)).toEqual({ start: 1_764_064_800, end: 1_764_064_860, retryAfter: 30 });
  });
});

describe('new recipients per rolling 24 hours', () => {
  const H = 3600;
  const counts = (entries: Array<[number, number]>) => new Map(entries);

  it('counts in the current hour and the 24 before it: any 24 hours span at most those 25 buckets', () => {
    const hour = hourOf(1000 * H + 1234);
    expect(hour).toBe(1000);
    expect(earlierHours(hour)).toEqual(Array.from({ length: 24 }, (_, i) => 976 + i));
    expect(NEW_RECIPIENT_BUCKETS).toBe(25);
  });

  it('leaves the current hour what the earlier ones did not use', () => {
    expect(currentHourAllowance(1000, counts([]))).toBe(1000);
    expect(
      currentHourAllowance(
        1000,
        counts([
          [976, 400],
          [990, 500],
        ]),
      ),
    ).toBe(100);
    expect(currentHourAllowance(1000, counts([[976, 1200]]))).toBe(0);
  });

  it('says when a place comes back: when enough of the oldest buckets have left the window', () => {
    const now = 1000 * H + 600; // ten minutes into hour 1000
    // The oldest bucket (hour 976) holds them all: it leaves at the start of hour 1001.
    expect(newRecipientRetryAfter(now, 10, counts([[976, 10]]))).toBe(H - 600);
    // Hours 976 and 980 hold 5 each: dropping 976 is enough.
    expect(
      newRecipientRetryAfter(
        now,
        10,
        counts([
          [976, 5],
          [980, 5],
        ]),
      ),
    ).toBe(H - 600);
    // 2 at hour 976 and 10 at hour 980: the first place comes back only when 980 leaves, at hour 1005.
    expect(
      newRecipientRetryAfter(
        now,
        10,
        counts([
          [976, 2],
          [980, 10],
        ]),
      ),
    ).toBe(5 * H - 600);
    // The current hour holds them all: 25 hours on.
    expect(newRecipientRetryAfter(now, 10, counts([[1000, 10]]))).toBe(25 * H - 600);
  });

  it('keeps any 24 hours at or below the limit, admitting in a simulation exactly as the rule says', () => {
    // Admissions at random seconds over 5 days, each checked against every 24-hour window ending at it.
    const limit = 7;
    const buckets = new Map<number, number>();
    const admitted: number[] = [];
    let seed = 42;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    for (let t = 0; t < 5 * 24 * H; t += Math.floor(random() * 1800)) {
      const hour = hourOf(t);
      const earlier = new Map(earlierHours(hour).map((h) => [h, buckets.get(h) ?? 0] as [number, number]));
      if ((buckets.get(hour) ?? 0) >= currentHourAllowance(limit, earlier)) continue;
      buckets.set(hour, (buckets.get(hour) ?? 0) + 1);
      admitted.push(t);
    }
    for (const t of admitted) expect(admitted.filter((u) => u > t - 24 * H && u <= t).length).toBeLessThanOrEqual(limit);
    expect(admitted.length).toBeGreaterThan(limit * 3);
  });
});

describe('dayWindow', () => {
  it('puts a second in its UTC day and says how long until the next', () => {
    expect(dayWindow(86_400 * 20_417 + 3600)).toEqual({ day: 20_417, end: 86_400 * 20_418, retryAfter: 86_400 - 3600 });
    expect(dayWindow(86_400 * 20_418 - 1).retryAfter).toBe(1);
  });
});
