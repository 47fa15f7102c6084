import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { DAY_SECONDS, expiryDay } from '../../functions/core/audiences';
import type { SessionState } from '../../functions/core/audiences';
import {
  DAY_MS,
  DEFAULT_RELEASE_SETTINGS,
  advantageAfter,
  applyRelease,
  batchAccepted,
  decideRelease,
  drawRelease,
  logRelease,
  newAudienceState,
  nextAllowedAt,
  pendingSince,
  perReleaseLeak,
  planReleases,
  releaseSeed,
  releaseSettings,
  releasesForAdvantage,
  releasesInSpan,
  settleUntil,
  sizeView,
  spanBound,
  visibleAudienceStatus,
  visibleMatchedAt,
  visibleSessionStage,
} from '../../functions/core/size-release';
import type { AudienceReleaseState, BusinessReleaseState, ReleaseDecision, ReleaseSettings, SizeRelease } from '../../functions/core/size-release';

const settings = DEFAULT_RELEASE_SETTINGS;
const TTL_DAYS = 540;
const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);
const noiseKey = createHash('sha256').update('size-release-test').digest();

/** Releases the audience if the rule says so; returns the states and the decision. */
function readAt(audience: AudienceReleaseState, business: BusinessReleaseState, n: number, nowMs: number, s: ReleaseSettings = settings) {
  const decision = decideRelease(audience, business, s, nowMs);
  if (!decision.fresh) return { audience, business, decision };
  const release = drawRelease(
    n,
    s.minAudienceSize,
    releaseSeed(noiseKey, audience.audienceId, decision.seq),
    decision.seq,
    decision.countedAtMs,
    audience.batches,
  );
  return { ...applyRelease(audience, business, release, s), decision };
}

const settled = (audience: AudienceReleaseState): AudienceReleaseState => ({ ...audience, matched: true });

describe('the budget windows', () => {
  const windowsArb = fc.array(fc.record({ limit: fc.integer({ min: 1, max: 6 }), days: fc.integer({ min: 1, max: 400 }) }), { minLength: 1, maxLength: 3 });

  it('nextAllowedAt is the first moment every window has room, and no earlier moment is', () => {
    fc.assert(
      fc.property(
        windowsArb,
        fc.array(fc.integer({ min: 0, max: 500 * DAY_MS }), { maxLength: 20 }),
        fc.integer({ min: 0, max: 600 * DAY_MS }),
        (windows, times, now) => {
          const log = times.filter((t) => t <= now).sort((a, b) => a - b);
          const at = nextAllowedAt(log, windows, now);
          const room = (t: number) => windows.every((w) => log.filter((r) => r > t - w.days * DAY_MS && r <= t).length < w.limit);
          expect(at).toBeGreaterThanOrEqual(now);
          expect(room(at)).toBe(true);
          if (at > now) expect(room(at - 1)).toBe(false);
        },
      ),
    );
  });

  it('releasing whenever allowed never puts more than `limit` releases in any window, and the log keeps only what a window can see', () => {
    fc.assert(
      fc.property(windowsArb, fc.array(fc.integer({ min: 1, max: 3 * DAY_MS }), { minLength: 1, maxLength: 60 }), (windows, steps) => {
        let now = T0;
        let log: number[] = [];
        const all: number[] = [];
        for (const step of steps) {
          now += step;
          if (nextAllowedAt(log, windows, now) === now) {
            log = logRelease(log, windows, now);
            all.push(now);
          }
        }
        for (const w of windows) {
          for (const end of all) expect(all.filter((t) => t > end - w.days * DAY_MS && t <= end).length).toBeLessThanOrEqual(w.limit);
        }
        const longest = Math.max(...windows.map((w) => w.days)) * DAY_MS;
        expect(log).toEqual(all.filter((t) => t > now - longest));
      }),
    );
  });
});

describe('a new audience', () => {
  it('gets its first count as soon as its first batch has settled, when the business has budget', () => {
    const audience = batchAccepted(newAudienceState('aud-a'), { atMs: T0, chunks: 2, operation: 'add' }, settings, TTL_DAYS);
    const settleAt = T0 + settings.settleBaseMs + 2 * settings.settlePerChunkMs;
    expect(audience.settleUntilMs).toBe(settleAt);
    // Matched at once, but not shown before the settle time: then the decision says when.
    const early = decideRelease(settled(audience), { log: [] }, settings, T0 + 1_000);
    expect(early).toEqual({ fresh: false, reason: 'settling', nextCountAtMs: settleAt });
    expect(decideRelease(settled(audience), { log: [] }, settings, settleAt)).toEqual({ fresh: true, seq: 1, countedAtMs: settleAt });
  });

  it('waits for the business budget, and then comes at the time nextCountAt named', () => {
    // Five audiences released this morning: the business's daily window is full.
    const business = { log: [0, 1, 2, 3, 4].map((i) => T0 + i * 60_000) };
    const audience = settled(batchAccepted(newAudienceState('aud-b'), { atMs: T0 + DAY_MS / 2, chunks: 1, operation: 'add' }, settings, TTL_DAYS));
    const now = T0 + DAY_MS / 2 + 60_000;
    const decision = decideRelease(audience, business, settings, now);
    expect(decision).toEqual({ fresh: false, reason: 'business-budget', nextCountAtMs: T0 + DAY_MS });
    expect(sizeView(audience, business, settings, now)).toEqual({
      approximateCount: null,
      targetable: null,
      countedAt: null,
      nextCountAt: new Date(T0 + DAY_MS).toISOString(),
    });
    expect(decideRelease(audience, business, settings, T0 + DAY_MS)).toMatchObject({ fresh: true, seq: 1 });
  });

  it('is not counted before any batch with a known cell: a batch of unknown or invalid cells changes nothing', () => {
    expect(decideRelease(newAudienceState('aud-c'), { log: [] }, settings, T0)).toMatchObject({ fresh: false, reason: 'unchanged' });
    const zeroChunks = batchAccepted(newAudienceState('aud-c'), { atMs: T0, chunks: 0, operation: 'add' }, settings, TTL_DAYS);
    expect(zeroChunks).toEqual(newAudienceState('aud-c'));
    expect(decideRelease(zeroChunks, { log: [] }, settings, T0 + DAY_MS)).toMatchObject({ fresh: false, reason: 'unchanged' });
    expect(visibleAudienceStatus(zeroChunks, T0 + DAY_MS)).toBe('empty');
  });
});

describe('between releases', () => {
  const first = () => {
    const accepted = settled(batchAccepted(newAudienceState('aud-d'), { atMs: T0, chunks: 1, operation: 'add' }, settings, TTL_DAYS));
    return readAt(accepted, { log: [] }, 150, accepted.settleUntilMs);
  };

  it('keeps showing the last release through withdrawals and erasures: they change the count, not what the rule sees', () => {
    const { audience, business } = first();
    const shown = sizeView(audience, business, settings, T0 + 3 * DAY_MS);
    // 40 members withdraw: the exact count falls, the state the rule reads does not change.
    const after = readAt(audience, business, 110, T0 + 3 * DAY_MS);
    expect(after.decision).toMatchObject({ fresh: false, reason: 'unchanged' });
    expect(sizeView(after.audience, after.business, settings, T0 + 3 * DAY_MS)).toEqual(shown);
    expect(shown.countedAt).toBe(new Date(audience.last!.countedAtMs).toISOString());
  });

  it('releases afresh after a visible change once the audience window allows: one fresh count an audience a day', () => {
    const { audience, business } = first();
    const changed = settled(batchAccepted(audience, { atMs: T0 + 3_600_000, chunks: 1, operation: 'add' }, settings, TTL_DAYS));
    const soon = decideRelease(changed, business, settings, changed.settleUntilMs);
    expect(soon).toEqual({ fresh: false, reason: 'audience-budget', nextCountAtMs: audience.last!.countedAtMs + DAY_MS });
    expect(decideRelease(changed, business, settings, audience.last!.countedAtMs + DAY_MS)).toMatchObject({ fresh: true, seq: 2 });
  });

  it('counts the day memberships of an upload expire as a visible change (the business knows when it uploaded)', () => {
    const { audience, business } = first();
    const expiresAtMs = expiryDay(T0, TTL_DAYS) * DAY_SECONDS * 1000;
    expect(pendingSince(audience, expiresAtMs - 1)).toBeUndefined();
    expect(pendingSince(audience, expiresAtMs)).toBe(expiresAtMs);
    // 540 days on, the business's windows have long emptied.
    const later = readAt(audience, business, 0, expiresAtMs + 60_000);
    expect(later.decision).toMatchObject({ fresh: true, seq: 2 });
    expect(later.audience.expiryDays).toEqual([]);
    expect(pendingSince(later.audience, expiresAtMs + 2 * DAY_MS)).toBeUndefined();
  });
});

describe('sessions and the settle time', () => {
  const session = (matched: number): SessionState & { settleUntilMs: number } => ({
    operation: 'add',
    firstBatchAtMs: T0,
    deadlineAtMs: T0 + 90 * 60_000,
    maxSeq: 1,
    lastBatchSeq: 1,
    batchesReceived: 1,
    numReceived: 1,
    numInvalid: 0,
    chunksExpected: 1,
    chunksMatched: matched,
    rev: 1,
    settleUntilMs: T0 + 32_000,
  });

  it('shows done only at the settle time, however quickly the rows matched', () => {
    expect(visibleSessionStage(session(0), T0 + 1_000, settings)).toBe('processing');
    expect(visibleSessionStage({ ...session(1), matchedAtMs: T0 + 200 }, T0 + 1_000, settings)).toBe('processing');
    expect(visibleSessionStage({ ...session(1), matchedAtMs: T0 + 9_000 }, T0 + 31_999, settings)).toBe('processing');
    expect(visibleSessionStage({ ...session(1), matchedAtMs: T0 + 200 }, T0 + 32_000, settings)).toBe('done');
    expect(visibleSessionStage({ ...session(1), matchedAtMs: T0 + 9_000 }, T0 + 32_000, settings)).toBe('done');
    expect(visibleSessionStage(session(0), T0 + 40_000, settings)).toBe('processing');
  });

  it('shows an overrun only to the settle period: matching that ends 10 ms later looks the same unless it crosses a period end', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 * 60_000 }), fc.integer({ min: 0, max: 50 }), (overrun, extra) => {
        const settleAt = T0 + 32_000;
        const a = visibleMatchedAt(settleAt, settleAt + overrun, settings);
        const b = visibleMatchedAt(settleAt, settleAt + overrun + extra, settings);
        expect(a).toBeGreaterThanOrEqual(settleAt + overrun);
        expect((a - settleAt) % settings.settleBaseMs).toBe(0);
        // The two differ only if a period's end falls between the two finishing times.
        const crossed = Math.ceil(overrun / settings.settleBaseMs) !== Math.ceil((overrun + extra) / settings.settleBaseMs);
        expect(a !== b).toBe(crossed);
      }),
    );
  });

  it('hides nothing with no settle time at all (benchmarks): matching shows when it ends', () => {
    const none = { ...settings, settleBaseMs: 0, settlePerChunkMs: 0 };
    expect(visibleMatchedAt(T0, T0 + 1_234, none)).toBe(T0 + 1_234);
    expect(visibleMatchedAt(T0 + 5_000, T0 + 1_234, none)).toBe(T0 + 5_000);
    // A settle time without a base keeps the one-second period.
    expect(visibleMatchedAt(T0, T0 + 1_234, { ...settings, settleBaseMs: 0 })).toBe(T0 + 2_000);
  });

  it('shows an audience processing until its latest batch has settled, then ready; empty before any batch', () => {
    const empty = newAudienceState('aud-s');
    expect(visibleAudienceStatus(empty, T0)).toBe('empty');
    const accepted = batchAccepted(empty, { atMs: T0, chunks: 1, operation: 'add' }, settings, TTL_DAYS);
    expect(visibleAudienceStatus({ ...accepted, matched: true }, T0 + 1_000)).toBe('processing');
    expect(visibleAudienceStatus({ ...accepted, matched: true }, accepted.settleUntilMs)).toBe('ready');
    expect(visibleAudienceStatus(accepted, accepted.settleUntilMs)).toBe('processing');
  });

  it("takes the latest settle time of a session's batches", () => {
    expect(settings.settleBaseMs).toBeGreaterThan(0);
    const a = batchAccepted(newAudienceState('aud-e'), { atMs: T0, chunks: 4, operation: 'add' }, settings, TTL_DAYS);
    const b = batchAccepted(a, { atMs: T0 + 1_000, chunks: 1, operation: 'remove' }, settings, TTL_DAYS);
    expect(b.settleUntilMs).toBe(
      Math.max(T0 + settings.settleBaseMs + 4 * settings.settlePerChunkMs, T0 + 1_000 + settings.settleBaseMs + settings.settlePerChunkMs),
    );
    expect(b.expiryDays).toEqual([expiryDay(T0, TTL_DAYS)]);
  });
});

/**
 * Two worlds that differ only in who matched: the same business actions
 * (audiences, uploads, reads, the clock), different matching results and
 * consent withdrawals. Whatever the actions, the service must decide the
 * same fresh/stale, countedAt and nextCountAt in both; only the ranges drawn
 * may differ, and each contains its own world's count at countedAt.
 */
describe('decisions never depend on who matched', () => {
  type Action =
    | { kind: 'create' }
    | { kind: 'upload'; audience: number; chunks: number; operation: 'add' | 'remove'; matchedA: number; matchedB: number }
    | { kind: 'withdraw'; audience: number; world: 0 | 1 }
    | { kind: 'advance'; ms: number }
    | { kind: 'read'; audience: number }
    | { kind: 'list' };

  const action: fc.Arbitrary<Action> = fc.oneof(
    fc.constant({ kind: 'create' as const }),
    fc.record({
      kind: fc.constant('upload' as const),
      audience: fc.nat(9),
      chunks: fc.integer({ min: 0, max: 4 }),
      operation: fc.constantFrom('add' as const, 'remove' as const),
      matchedA: fc.nat(300),
      matchedB: fc.nat(300),
    }),
    fc.record({ kind: fc.constant('withdraw' as const), audience: fc.nat(9), world: fc.constantFrom(0 as const, 1 as const) }),
    fc.record({
      kind: fc.constant('advance' as const),
      ms: fc.oneof(fc.integer({ min: 1, max: 120_000 }), fc.integer({ min: 1, max: 3 * DAY_MS }), fc.constant(40 * DAY_MS)),
    }),
    fc.record({ kind: fc.constant('read' as const), audience: fc.nat(9) }),
    fc.constant({ kind: 'list' as const }),
  );

  interface World {
    business: BusinessReleaseState;
    audiences: AudienceReleaseState[];
    counts: number[];
    /** When each audience's outstanding chunks are matched: the same in both worlds (the settle time covers it). */
    matchedAt: number[];
    seen: { decision: ReleaseDecision; view: ReturnType<typeof sizeView> }[];
    releases: { release: SizeRelease; n: number }[];
  }

  const newWorld = (): World => ({ business: { log: [] }, audiences: [], counts: [], matchedAt: [], seen: [], releases: [] });

  function step(w: World, a: Action, now: number, world: 0 | 1) {
    const refresh = (i: number) => (w.audiences[i] = { ...w.audiences[i]!, matched: now >= w.matchedAt[i]! });
    if (a.kind === 'create' && w.audiences.length < 10) {
      w.audiences.push(newAudienceState(`aud-${w.audiences.length}`));
      w.counts.push(0);
      w.matchedAt.push(0);
    } else if (a.kind === 'upload' && a.audience < w.audiences.length) {
      const matched = world === 0 ? a.matchedA : a.matchedB;
      w.counts[a.audience] = Math.max(0, w.counts[a.audience]! + (a.operation === 'add' ? matched : -matched));
      w.audiences[a.audience] = batchAccepted(w.audiences[a.audience]!, { atMs: now, chunks: a.chunks, operation: a.operation }, settings, TTL_DAYS);
      w.matchedAt[a.audience] = Math.max(w.matchedAt[a.audience]!, now + Math.floor(settings.settleBaseMs / 2));
    } else if (a.kind === 'withdraw' && a.world === world && a.audience < w.audiences.length) {
      w.counts[a.audience] = Math.max(0, w.counts[a.audience]! - 1);
    } else if (a.kind === 'read' && a.audience < w.audiences.length) {
      refresh(a.audience);
      const r = readAt(w.audiences[a.audience]!, w.business, w.counts[a.audience]!, now);
      w.audiences[a.audience] = r.audience;
      w.business = r.business;
      if (r.decision.fresh) w.releases.push({ release: r.audience.last!, n: w.counts[a.audience]! });
      w.seen.push({ decision: r.decision, view: sizeView(r.audience, r.business, settings, now) });
    } else if (a.kind === 'list') {
      w.audiences.forEach((_, i) => refresh(i));
      const plan = planReleases(w.audiences, w.business, settings, now);
      plan.decisions.forEach((decision, i) => {
        if (decision.fresh) {
          const audience = w.audiences[i]!;
          const release = drawRelease(
            w.counts[i]!,
            settings.minAudienceSize,
            releaseSeed(noiseKey, audience.audienceId, decision.seq),
            decision.seq,
            now,
            audience.batches,
          );
          const applied = applyRelease(w.audiences[i]!, w.business, release, settings);
          w.audiences[i] = applied.audience;
          w.business = applied.business;
          w.releases.push({ release, n: w.counts[i]! });
        }
      });
      expect(w.business).toEqual(plan.business);
      w.audiences.forEach((audience, i) => w.seen.push({ decision: plan.decisions[i]!, view: sizeView(audience, w.business, settings, now) }));
    }
  }

  it("the same fresh/stale decisions, countedAt and nextCountAt in both worlds; each release holds its world's count", () => {
    fc.assert(
      fc.property(fc.array(action, { minLength: 1, maxLength: 120 }), (actions) => {
        const worlds = [newWorld(), newWorld()] as const;
        let now = T0;
        for (const a of actions) {
          if (a.kind === 'advance') now += a.ms;
          step(worlds[0], a, now, 0);
          step(worlds[1], a, now, 1);
        }
        const strip = (seen: World['seen']) => seen.map(({ decision, view }) => ({ decision, countedAt: view.countedAt, nextCountAt: view.nextCountAt }));
        expect(strip(worlds[1].seen)).toEqual(strip(worlds[0].seen));
        expect(worlds[1].business).toEqual(worlds[0].business);
        for (const w of worlds) {
          for (const { release, n } of w.releases) {
            expect(release.lower).toBeLessThanOrEqual(n);
            expect(release.upper).toBeGreaterThanOrEqual(n);
          }
          // What is shown is always the last release, as drawn.
          for (const { view } of w.seen) {
            if (view.countedAt === null) continue;
            const shown = w.releases.filter((r) => new Date(r.release.countedAtMs).toISOString() === view.countedAt).map((r) => r.release);
            expect(
              shown.some((r) => r.lower === view.approximateCount!.lower && r.upper === view.approximateCount!.upper && r.targetable === view.targetable),
            ).toBe(true);
          }
          // The business's windows held.
          const times = w.releases.map((r) => r.release.countedAtMs);
          for (const win of settings.perBusiness) {
            for (const end of times) expect(times.filter((t) => t > end - win.days * DAY_MS && t <= end).length).toBeLessThanOrEqual(win.limit);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('what the settle time is for', () => {
  it('would let decisions depend on who matched if matching could outlast it', () => {
    // The same upload in two worlds; matching rows takes 3 s more where the person matched. With no settle
    // time the first count comes 3 s later in that world: "when was it counted" would tell membership.
    const noSettle = { ...settings, settleBaseMs: 0, settlePerChunkMs: 0 };
    const accepted = batchAccepted(newAudienceState('aud-f'), { atMs: T0, chunks: 1, operation: 'add' }, noSettle, TTL_DAYS);
    const firstCountAt = (matchedAfterMs: number, s: ReleaseSettings) => {
      for (let t = T0; t < T0 + 60_000; t += 500) {
        if (decideRelease({ ...accepted, settleUntilMs: settleUntil(undefined, T0, 1, s), matched: t >= T0 + matchedAfterMs }, { log: [] }, s, t).fresh)
          return t;
      }
      return undefined;
    };
    expect(firstCountAt(1_000, noSettle)).not.toBe(firstCountAt(4_000, noSettle));
    // With the default settle time both come at the settle time.
    expect(firstCountAt(1_000, settings)).toBe(T0 + settings.settleBaseMs + settings.settlePerChunkMs);
    expect(firstCountAt(4_000, settings)).toBe(firstCountAt(1_000, settings));
  });
});

describe('listing several audiences', () => {
  it('serves the longest-pending first and leaves the rest with the time the budget frees', () => {
    const audiences = [3, 1, 2, 0, 5, 4, 6].map((i) =>
      settled(batchAccepted(newAudienceState(`aud-${i}`), { atMs: T0 + i * 1000, chunks: 1, operation: 'add' }, settings, TTL_DAYS)),
    );
    const now = T0 + DAY_MS / 4;
    const { decisions, business } = planReleases(audiences, { log: [] }, settings, now);
    const fresh = audiences.filter((_, i) => decisions[i]!.fresh).map((a) => a.audienceId);
    expect(fresh.sort()).toEqual(['aud-0', 'aud-1', 'aud-2', 'aud-3', 'aud-4']);
    expect(business.log).toHaveLength(5);
    for (const d of decisions) if (!d.fresh) expect(d).toEqual({ fresh: false, reason: 'business-budget', nextCountAtMs: now + DAY_MS });
  });
});

describe('the release', () => {
  it('always contains the count it was drawn from and is seeded per audience, release and key', () => {
    fc.assert(
      fc.property(fc.nat(5_000_000), fc.integer({ min: 1, max: 1_000 }), fc.integer({ min: 1, max: 300 }), (n, seq, minSize) => {
        const r = drawRelease(n, minSize, releaseSeed(noiseKey, 'aud-x', seq), seq, T0, 1);
        expect(r.lower).toBeLessThanOrEqual(n);
        expect(r.upper).toBeGreaterThanOrEqual(n);
        expect(r.seq).toBe(seq);
        expect(r.countedAtMs).toBe(T0);
      }),
    );
    const base = releaseSeed(noiseKey, 'aud-x', 1);
    expect(releaseSeed(noiseKey, 'aud-x', 1)).toEqual(base);
    for (const other of [releaseSeed(noiseKey, 'aud-x', 2), releaseSeed(noiseKey, 'aud-y', 1), releaseSeed(Buffer.alloc(32, 1), 'aud-x', 1)])
      expect(other.equals(base)).toBe(false);
  });
});

describe('the bound', () => {
  it('takes the threshold band as the worst count: 1/51 a release at the default minimum size, 1/11 at 20', () => {
    expect(perReleaseLeak(100)).toBeCloseTo(1 / 51, 12);
    expect(perReleaseLeak(20)).toBeCloseTo(1 / 11, 12);
    // From a minimum of 398 the band leaks no more than the grid; the worst is then the width step just above 2,000.
    expect(perReleaseLeak(398)).toBeCloseTo(1 / 200 + 4000 / (2000 * 2001), 12);
  });

  it('counts what the default budget allows in a day, a month, a year and two years', () => {
    expect([1, 30, 365, 730].map((d) => releasesInSpan(d, settings, 500))).toEqual([5, 12, 12, 24]);
    const year = spanBound(365, settings, 500);
    expect(year.releases).toBe(12);
    expect(year.advantage).toBeCloseTo((1 - (50 / 51) ** 12) / 2, 12);
    expect(year.accuracy).toBeLessThan(0.606);
    // The audience quota also caps what per-audience windows allow.
    expect(releasesInSpan(365, { ...settings, perBusiness: [{ limit: 10_000, days: 1 }] }, 3)).toBe(3 * 365);
  });

  it('inverts: releasesForAdvantage gives the most releases within an advantage', () => {
    fc.assert(
      fc.property(fc.double({ min: 0.001, max: 0.45, noNaN: true }), fc.double({ min: 0.001, max: 0.2, noNaN: true }), (advantage, leak) => {
        const k = releasesForAdvantage(advantage, leak);
        expect(advantageAfter(k, leak)).toBeLessThanOrEqual(advantage + 1e-9);
        expect(advantageAfter(k + 1, leak)).toBeGreaterThan(advantage - 1e-9);
      }),
    );
  });

  it('reads its settings from whole numbers and refuses the rest', () => {
    const values = {
      minAudienceSize: 100,
      releasesPerAudiencePerDay: 1,
      releasesPerBusinessPerDay: 5,
      releaseBudget: 12,
      releaseBudgetDays: 365,
      settleSeconds: 30,
      settleSecondsPerChunk: 2,
    };
    expect(releaseSettings(values)).toEqual(DEFAULT_RELEASE_SETTINGS);
    expect(() => releaseSettings({ ...values, releaseBudget: 0 })).toThrow(/releaseBudget/);
    expect(() => releaseSettings({ ...values, releaseBudgetDays: 1.5 })).toThrow(/releaseBudgetDays/);
    expect(releaseSettings({ ...values, settleSeconds: 0 }).settleBaseMs).toBe(0);
  });
});
