import type { MembershipItem } from '../../functions/core/audiences';
import {
  afterCommit,
  attemptId,
  attemptStartMs,
  deadAttempts,
  effectiveConsentVersion,
  isAttemptOf,
  leaseIdAt,
  planAdd,
  planRemove,
} from '../../functions/core/matching';
import type { Candidate } from '../../functions/core/matching';

const CHUNK = '7:1:0';
const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);
const LEASE_MS = 120_000;
/** Expiries, epoch seconds. */
const OLD = 1_800_000_000;
const EARLIER = 1_790_000_000;
const NEW = 1_810_000_000;

const THIS = attemptId(CHUNK, leaseIdAt(T0, 'this'));
const DIED = attemptId('7:0:0', leaseIdAt(T0 - 10 * LEASE_MS, 'died'));

const candidate = (userId: string, existing?: Omit<MembershipItem, 'userId'>): Candidate<MembershipItem> => ({
  userId,
  existing: existing && { userId, ...existing },
});

describe('attemptStartMs', () => {
  it('reads back the time its lease id was taken at', () => {
    expect(attemptStartMs(attemptId(CHUNK, leaseIdAt(T0, '3f6c0f4e-1d7a-4a43-9c55-0c8a4f6e2b11')))).toBe(T0);
    expect(attemptStartMs(attemptId(CHUNK, leaseIdAt(0, 'r')))).toBe(0);
  });

  it('finds no time in ids written before ids carried one, or in malformed ids', () => {
    expect(attemptStartMs(`${CHUNK}/legacy-lease`)).toBeUndefined();
    expect(attemptStartMs(`${CHUNK}/.abc`)).toBeUndefined();
    expect(attemptStartMs(`${CHUNK}/${'z'.repeat(20)}.abc`)).toBeUndefined();
  });
});

describe('isAttemptOf', () => {
  it("tells a chunk's attempts from those of a chunk whose id starts the same", () => {
    expect(isAttemptOf(THIS, CHUNK)).toBe(true);
    expect(isAttemptOf(attemptId('7:1:01', leaseIdAt(T0, 'x')), CHUNK)).toBe(false);
    expect(isAttemptOf(undefined, CHUNK)).toBe(false);
  });
});

describe('deadAttempts', () => {
  it('finds the attempts whose lease started longer ago than a lease lasts', () => {
    // Prepare
    const recent = attemptId('1:1:0', leaseIdAt(T0 - LEASE_MS + 1, 'recent'));
    const exactlyOneLease = attemptId('1:1:1', leaseIdAt(T0 - LEASE_MS, 'edge'));
    const expired = attemptId('1:1:2', leaseIdAt(T0 - LEASE_MS - 1, 'expired'));
    // Act
    const dead = deadAttempts(new Set([recent, exactlyOneLease, expired, DIED]), T0, LEASE_MS);
    // Assess
    expect(dead.sort()).toEqual([expired, DIED].sort());
  });

  it('never settles attempts without a time in their id: they recorded no write set, so they stay pending as before', () => {
    const legacy = `${CHUNK}/legacy-lease`;
    expect(deadAttempts(new Set([legacy, THIS]), T0, LEASE_MS)).toEqual([]);
  });

  it('finds nothing in an empty set', () => {
    expect(deadAttempts(new Set(), T0, LEASE_MS)).toEqual([]);
  });
});

describe('planAdd', () => {
  it('writes every candidate matched under a consent version, counting each against its committed state', () => {
    // Prepare
    const pending = new Set([DIED]);
    const candidates = [
      candidate('new'),
      candidate('member', { expiresAt: OLD }),
      candidate('no-consent', { expiresAt: OLD }),
      candidate('left', { expiresAt: OLD, removing: true }),
      candidate('uncommitted-refresh', { expiresAt: OLD, lastChunk: DIED, prevExpiresAt: EARLIER }),
      candidate('uncommitted-add', { expiresAt: OLD, lastChunk: DIED, prevExpiresAt: 0 }),
    ];
    const versions = new Map([
      ['new', 1],
      ['member', 2],
      ['left', 3],
      ['uncommitted-refresh', 4],
      ['uncommitted-add', 5],
    ]);
    // Act
    const plan = planAdd(candidates, versions, pending, THIS, NEW);
    // Assess
    expect(plan.writes).toEqual([
      { userId: 'new', consentVersion: 1, prevExpiresAt: 0 },
      { userId: 'member', consentVersion: 2, prevExpiresAt: OLD },
      { userId: 'left', consentVersion: 3, prevExpiresAt: 0 },
      { userId: 'uncommitted-refresh', consentVersion: 4, prevExpiresAt: EARLIER },
      { userId: 'uncommitted-add', consentVersion: 5, prevExpiresAt: 0 },
    ]);
    expect(plan.changes).toEqual([
      { before: null, after: NEW },
      { before: OLD, after: NEW },
      { before: null, after: NEW },
      { before: EARLIER, after: NEW },
      { before: null, after: NEW },
    ]);
  });

  it("counts an item this attempt wrote already as what it was before, not as this attempt's write", () => {
    const plan = planAdd([candidate('u', { expiresAt: NEW, lastChunk: THIS, prevExpiresAt: OLD })], new Map([['u', 1]]), new Set(), THIS, NEW);
    expect(plan.changes).toEqual([{ before: OLD, after: NEW }]);
    expect(plan.writes[0]!.prevExpiresAt).toBe(OLD);
  });

  it('plans nothing when nobody was matched under a version', () => {
    expect(planAdd([candidate('a'), candidate('b', { expiresAt: OLD })], new Map(), new Set(), THIS, NEW)).toEqual({ writes: [], changes: [] });
  });
});

describe('planRemove', () => {
  it('marks every candidate who is a member now as removing, keeping what the item held', () => {
    // Prepare
    const pending = new Set([DIED]);
    const candidates = [
      candidate('absent'),
      candidate('member', { expiresAt: OLD }),
      candidate('left', { expiresAt: OLD, removing: true }),
      candidate('uncommitted-refresh', { expiresAt: NEW, lastChunk: DIED, prevExpiresAt: EARLIER }),
      candidate('uncommitted-add', { expiresAt: NEW, lastChunk: DIED, prevExpiresAt: 0 }),
    ];
    // Act
    const plan = planRemove(candidates, pending, THIS);
    // Assess
    expect(plan.marks).toEqual([
      { userId: 'member', expiresAt: OLD, lastChunk: THIS, prevExpiresAt: OLD, removing: true },
      { userId: 'uncommitted-refresh', expiresAt: NEW, lastChunk: THIS, prevExpiresAt: EARLIER, removing: true },
    ]);
    expect(plan.changes).toEqual([
      { before: OLD, after: null },
      { before: EARLIER, after: null },
    ]);
  });

  it('keeps the extra fields of the stored item in its mark', () => {
    const existing = { userId: 'u', expiresAt: OLD, audienceId: 'aud-1', consentVersion: 4 };
    const plan = planRemove([{ userId: 'u', existing }], new Set(), THIS);
    expect(plan.marks).toEqual([{ ...existing, lastChunk: THIS, prevExpiresAt: OLD, prevConsentVersion: 4, removing: true }]);
  });
});

describe('the consent version of the committed state', () => {
  it('is recorded by an add over a member, and read back while the attempt that wrote it is pending', () => {
    // Prepare: a committed member matched under version 2, refreshed by an attempt under version 5
    const existing = { userId: 'u', expiresAt: OLD, consentVersion: 2 };
    // Act
    const plan = planAdd([{ userId: 'u', existing }], new Map([['u', 5]]), new Set(), THIS, NEW);
    const written = { ...existing, ...plan.writes[0]!, lastChunk: THIS, expiresAt: NEW };
    // Assess
    expect(plan.writes).toEqual([{ userId: 'u', consentVersion: 5, prevExpiresAt: OLD, prevConsentVersion: 2 }]);
    expect(effectiveConsentVersion(written, new Set([THIS]))).toBe(2);
    expect(effectiveConsentVersion(written, new Set())).toBe(5);
  });

  it('is not recorded for a user who was no member', () => {
    const plan = planAdd([{ userId: 'u', existing: undefined }], new Map([['u', 5]]), new Set(), THIS, NEW);
    expect(plan.writes).toEqual([{ userId: 'u', consentVersion: 5, prevExpiresAt: 0 }]);
  });

  it('follows a chain of dead attempts back to what was committed', () => {
    // A dead attempt wrote version 7 over a member matched under 3; a new attempt refreshes it under 9.
    const existing = { userId: 'u', expiresAt: NEW, lastChunk: DIED, prevExpiresAt: OLD, consentVersion: 7, prevConsentVersion: 3 };
    const plan = planAdd([{ userId: 'u', existing }], new Map([['u', 9]]), new Set([DIED]), THIS, NEW);
    expect(plan.writes[0]).toEqual(expect.objectContaining({ prevExpiresAt: OLD, prevConsentVersion: 3 }));
  });
});

describe('afterCommit', () => {
  it('splits what a committed attempt of the chunk wrote into removals left to delete and additions to re-check', () => {
    // Prepare
    const committed = attemptId(CHUNK, leaseIdAt(T0 - 1_000, 'committed'));
    const stillPending = attemptId(CHUNK, leaseIdAt(T0 - 500, 'pending'));
    const items: MembershipItem[] = [
      { userId: 'removed', expiresAt: OLD, lastChunk: committed, prevExpiresAt: OLD, removing: true },
      { userId: 'added', expiresAt: NEW, lastChunk: committed, prevExpiresAt: 0 },
      { userId: 'pending', expiresAt: NEW, lastChunk: stillPending, prevExpiresAt: 0 },
      { userId: 'other-chunk', expiresAt: NEW, lastChunk: attemptId('7:1:01', leaseIdAt(T0, 'x')), prevExpiresAt: 0 },
      { userId: 'settled', expiresAt: OLD },
    ];
    // Act
    const { leftovers, recheck } = afterCommit(items, CHUNK, new Set([stillPending]));
    // Assess
    expect(leftovers.map((m) => m.userId)).toEqual(['removed']);
    expect(recheck.map((m) => m.userId)).toEqual(['added']);
  });

  it('finds nothing for a chunk none of whose attempts committed', () => {
    const items: MembershipItem[] = [{ userId: 'a', expiresAt: NEW, lastChunk: THIS, prevExpiresAt: 0 }];
    expect(afterCommit(items, CHUNK, new Set([THIS]))).toEqual({ leftovers: [], recheck: [] });
  });
});
