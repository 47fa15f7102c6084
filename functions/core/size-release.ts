/**
 * Size releases: when a business may see a fresh range of an audience's size,
 * what it sees in between, and what any number of releases can tell it.
 * Pure rules, no I/O.
 *
 * A RELEASE is a snapshot: the range of core/audience-count.ts drawn once, at
 * `countedAt`, from the exact count at that moment, with a seed of its own
 * (HMAC of the count-noise key, the audience and the release's sequence
 * number). It is stored and shown until the next release; nothing that
 * happens in between (a consent withdrawal, an erasure, an expiry, a read)
 * redraws it. `targetable` is the release's, not the live count's.
 *
 * WHEN A FRESH RELEASE COMES. An audience is released afresh when, all at once:
 *   - it changed visibly since its last release: a batch of rows was accepted
 *     after it (an add or a removal), or a day on which memberships of an
 *     accepted add batch expire has begun since it; or it has no release yet
 *     and a batch was accepted. Consent withdrawals and erasures are no
 *     visible change: they show in the next release that comes for another
 *     reason, never on their own;
 *   - it has settled: every accepted chunk is matched and the settle time of
 *     its latest batch has passed (`settleUntil`: a fixed delay per batch
 *     from its acceptance, by chunk count, never by how many rows matched).
 *     Matching that overruns it (a backlog) shows only to the settle period
 *     (`visibleMatchedAt`): the one residual path, measured as a metric;
 *   - the budget allows it: fewer than `limit` fresh releases in the last
 *     `days` days for every window of the audience and of the business.
 * Every input of that decision is something the business itself did or can
 * see (when it uploaded, how many chunks, when memberships of its uploads
 * expire, when it was shown releases) or the clock; none depends on who
 * matched. So whether a release is fresh or stale, its `countedAt` and its
 * `nextCountAt` are the same whether or not any given person is a member;
 * only the range drawn differs. A session's `done` and an audience's
 * `processing` follow the same settle time, so they do not tell either.
 *
 * WHAT ANY NUMBER OF RELEASES CAN TELL. Fix the attacker's strategy and
 * couple the two worlds (the person a member or not, the attacker's own P
 * accounts the same) by giving every release the same seed in both. The
 * service's decisions are identical in both (above), so the business's view
 * differs only if some release answers differently for P and P+1, which one
 * release does with probability at most eps (audience-count.ts,
 * distinguishingBound: 1/(floor(M/2) + 1) = 1/51 for the default minimum
 * size M = 100, from the threshold band, and 1/200 for counts above it). A
 * release about an audience without the person's row is the same in both
 * worlds. So after k fresh releases the views differ with probability at
 * most 1 - (1 - eps)^k, which bounds the total variation distance between
 * them, and no test the business can run is right more often than
 *   1/2 + (1 - (1 - eps)^k) / 2,
 * whatever it does adaptively. k is bounded by the budget: the business
 * windows limit all its releases, whichever audiences they are about. (In
 * differential-privacy terms each release is (0, eps)-DP for one person and
 * composition over k releases gives (0, 1 - (1 - eps)^k).)
 *
 * The bound cannot be made independent of time while fresh releases keep
 * coming: any range that always contains the count and is at most 200 wide
 * leaks at least 1/201 per release for some P. A window of `days` days bounds
 * every span of S days by limit * ceil(S / days) releases; a very long window
 * makes it a lifetime cap.
 */
import { createHmac } from 'node:crypto';
import { distinguishingBound, reportCount } from './audience-count';
import { expiryDay, sessionClosed } from './audiences';
import type { AudienceStatus, Operation, SessionStage, SessionState } from './audiences';

export const DAY_MS = 86_400_000;

/** "At most `limit` fresh releases in any `days` consecutive days." */
export interface RateWindow {
  readonly limit: number;
  readonly days: number;
}

export interface ReleaseSettings {
  readonly minAudienceSize: number;
  /** Windows over one audience's fresh releases. */
  readonly perAudience: readonly RateWindow[];
  /** Windows over all the fresh releases of one business, whichever audiences they are about. */
  readonly perBusiness: readonly RateWindow[];
  /** A batch's matching is visibly over this long after it was accepted... */
  readonly settleBaseMs: number;
  /** ...plus this much per chunk of the batch. */
  readonly settlePerChunkMs: number;
}

/** The settings the stages start from (see the README, "Size releases", for what they give). */
export const DEFAULT_RELEASE_SETTINGS: ReleaseSettings = {
  minAudienceSize: 100,
  perAudience: [{ limit: 1, days: 1 }],
  perBusiness: [
    { limit: 5, days: 1 },
    { limit: 12, days: 365 },
  ],
  settleBaseMs: 30_000,
  settlePerChunkMs: 2_000,
};

/** Settings from their environment values (validated: whole numbers, limits and windows at least 1). */
export function releaseSettings(values: {
  minAudienceSize: number;
  releasesPerAudiencePerDay: number;
  releasesPerBusinessPerDay: number;
  releaseBudget: number;
  releaseBudgetDays: number;
  settleSeconds: number;
  settleSecondsPerChunk: number;
}): ReleaseSettings {
  for (const [name, value] of Object.entries(values)) {
    const least = name.startsWith('settle') ? 0 : 1;
    if (!Number.isSafeInteger(value) || value < least) throw new Error(`Size release setting ${name} must be a whole number of at least ${least}`);
  }
  return {
    minAudienceSize: values.minAudienceSize,
    perAudience: [{ limit: values.releasesPerAudiencePerDay, days: 1 }],
    perBusiness: [
      { limit: values.releasesPerBusinessPerDay, days: 1 },
      { limit: values.releaseBudget, days: values.releaseBudgetDays },
    ],
    settleBaseMs: values.settleSeconds * 1000,
    settlePerChunkMs: values.settleSecondsPerChunk * 1000,
  };
}

// ------------------------------------------------------------------ the release

/** One release, as stored on the audience and shown until the next one. Never the count itself. */
export interface SizeRelease {
  /** 1 for an audience's first release, then one more for each fresh one. */
  readonly seq: number;
  readonly countedAtMs: number;
  /** How many accepted batches of the audience it covers (AudienceReleaseState.batches when its count was read). */
  readonly basis: number;
  readonly lower: number;
  readonly upper: number;
  readonly targetable: boolean;
}

/** The seed of one release: never logged, stored or returned. */
export function releaseSeed(noiseKey: Buffer, audienceId: string, seq: number): Buffer {
  return createHmac('sha256', noiseKey).update(`size-release/v1\0${audienceId}\0${seq}`).digest();
}

/**
 * The release of count n drawn with `seed`: a range that contains n
 * (audience-count.ts). n and `basis` come from one read of the audience: its
 * exact count and its number of accepted batches at that moment.
 */
export function drawRelease(n: number, minSize: number, seed: Buffer, seq: number, countedAtMs: number, basis: number): SizeRelease {
  const { approximateCount, targetable } = reportCount(n, minSize, seed);
  return { seq, countedAtMs, basis, lower: approximateCount.lower, upper: approximateCount.upper, targetable };
}

// ------------------------------------------------------------------ settling

/** When a batch accepted at `acceptedAtMs` with `chunks` chunks is visibly matched: never earlier, whatever matched. */
export function settleUntil(previousMs: number | undefined, acceptedAtMs: number, chunks: number, settings: ReleaseSettings): number {
  return Math.max(previousMs ?? 0, acceptedAtMs + settings.settleBaseMs + chunks * settings.settlePerChunkMs);
}

/**
 * When matching visibly ends. Normally the settle time, whatever matched. If
 * matching overran it (a backlog), the end of the settle-length period in
 * which it finished: the overrun shows, but only to that resolution, so the
 * few milliseconds that writing a matched row takes change what is seen only
 * when they cross a period's end. `matchedAtMs` is when the last chunk was
 * committed (0 if none was needed).
 */
export function visibleMatchedAt(settleUntilMs: number, matchedAtMs: number, settings: ReleaseSettings): number {
  if (matchedAtMs <= settleUntilMs) return settleUntilMs;
  // No settle time at all (benchmarks and load runs, never a stage): matching shows when it ends.
  if (settings.settleBaseMs === 0 && settings.settlePerChunkMs === 0) return matchedAtMs;
  const period = Math.max(1_000, settings.settleBaseMs);
  return settleUntilMs + Math.ceil((matchedAtMs - settleUntilMs) / period) * period;
}

/** A session's stage as shown: `done` only once it is closed, matched, and matching is visibly over (visibleMatchedAt). */
export function visibleSessionStage(
  session: SessionState & { readonly settleUntilMs?: number; readonly matchedAtMs?: number },
  nowMs: number,
  settings: ReleaseSettings,
): SessionStage {
  if (!sessionClosed(session, nowMs)) return 'receiving';
  if (session.chunksMatched < session.chunksExpected) return 'processing';
  return nowMs < visibleMatchedAt(session.settleUntilMs ?? 0, session.matchedAtMs ?? 0, settings) ? 'processing' : 'done';
}

/** An audience's status as shown: `empty` before any batch with a known cell, then `processing` until its latest batch has settled, like its sessions. */
export function visibleAudienceStatus(audience: Pick<AudienceReleaseState, 'batches' | 'matched' | 'settleUntilMs'>, nowMs: number): AudienceStatus {
  if (audience.batches === 0) return 'empty';
  return !audience.matched || nowMs < audience.settleUntilMs ? 'processing' : 'ready';
}

// ------------------------------------------------------------------ the budget

/** Fresh releases within the longest window, ascending: all a budget needs to remember. */
export type ReleaseLog = readonly number[];

/**
 * The earliest time at or after `nowMs` at which one more fresh release fits
 * every window: for a window that holds `limit` or more releases in
 * (now - days, now], the time the oldest of those that must leave it leaves.
 */
export function nextAllowedAt(log: ReleaseLog, windows: readonly RateWindow[], nowMs: number): number {
  let at = nowMs;
  for (const { limit, days } of windows) {
    const span = days * DAY_MS;
    const inWindow = log.filter((t) => t > nowMs - span && t <= nowMs);
    if (inWindow.length >= limit) at = Math.max(at, inWindow[inWindow.length - limit]! + span);
  }
  return at;
}

/** The log after a fresh release at `atMs`, keeping only what the longest window can still see. */
export function logRelease(log: ReleaseLog, windows: readonly RateWindow[], atMs: number): number[] {
  const longest = Math.max(...windows.map((w) => w.days)) * DAY_MS;
  return [...log.filter((t) => t > atMs - longest), atMs].sort((a, b) => a - b);
}

/** What the release rule knows about an audience: nothing about who matched. */
export interface AudienceReleaseState {
  readonly audienceId: string;
  /** The release shown now; undefined before the first. */
  readonly last?: SizeRelease;
  /** This audience's fresh releases (ReleaseLog of its windows). */
  readonly log: ReleaseLog;
  /** Batches of rows (add or remove) accepted so far. */
  readonly batches: number;
  /** When the latest of them was accepted; undefined if none ever was. */
  readonly lastBatchAtMs?: number;
  /**
   * Every accepted chunk has been matched (chunksMatched === chunksExpected)
   * and matching is visibly over: now >= visibleMatchedAt(settleUntilMs, the
   * time the last chunk was committed).
   */
  readonly matched: boolean;
  /** The latest settle time of its batches (settleUntil). */
  readonly settleUntilMs: number;
  /** Days (since the epoch, UTC) on which memberships of its accepted add batches expire. */
  readonly expiryDays: readonly number[];
}

export interface BusinessReleaseState {
  readonly log: ReleaseLog;
}

/** A new audience: no release, no batch. */
export const newAudienceState = (audienceId: string): AudienceReleaseState => ({
  audienceId,
  log: [],
  batches: 0,
  matched: true,
  settleUntilMs: 0,
  expiryDays: [],
});

/**
 * The audience after a batch of rows is accepted (what the upload path
 * records): when, its settle time, and, for an add batch, the day its
 * memberships will expire. Nothing here depends on what the rows match. A
 * batch with no known cell (no chunk) can change no count: it is no change.
 */
export function batchAccepted(
  audience: AudienceReleaseState,
  batch: { readonly atMs: number; readonly chunks: number; readonly operation: Operation },
  settings: ReleaseSettings,
  ttlDays: number,
): AudienceReleaseState {
  if (batch.chunks === 0) return audience;
  const day = expiryDay(batch.atMs, ttlDays);
  return {
    ...audience,
    batches: audience.batches + 1,
    lastBatchAtMs: batch.atMs,
    matched: false,
    settleUntilMs: settleUntil(audience.settleUntilMs, batch.atMs, batch.chunks, settings),
    expiryDays: batch.operation === 'add' && !audience.expiryDays.includes(day) ? [...audience.expiryDays, day].sort((a, b) => a - b) : audience.expiryDays,
  };
}

export type StaleReason = 'unchanged' | 'settling' | 'audience-budget' | 'business-budget';

export type ReleaseDecision =
  | { readonly fresh: true; readonly seq: number; readonly countedAtMs: number }
  | { readonly fresh: false; readonly reason: StaleReason; readonly nextCountAtMs: number };

/**
 * Whether the audience changed visibly since its last release (a batch it
 * does not cover, or an expiry day begun after it), and if so, when (the
 * latest such batch, or the earliest such expiry day, whichever is earlier:
 * what orders a listing); undefined if it has not.
 */
export function pendingSince(audience: AudienceReleaseState, nowMs: number): number | undefined {
  const since = audience.last?.countedAtMs;
  let first: number | undefined;
  if (audience.batches > (audience.last?.basis ?? 0)) first = audience.lastBatchAtMs ?? 0;
  if (since !== undefined) {
    for (const day of audience.expiryDays) {
      const at = day * DAY_MS;
      if (at > since && at <= nowMs && (first === undefined || at < first)) first = at;
    }
  }
  return first;
}

/** Whether the audience gets a fresh release now, or why not and when one could come. */
export function decideRelease(audience: AudienceReleaseState, business: BusinessReleaseState, settings: ReleaseSettings, nowMs: number): ReleaseDecision {
  const budgetAt = Math.max(nextAllowedAt(audience.log, settings.perAudience, nowMs), nextAllowedAt(business.log, settings.perBusiness, nowMs));
  if (pendingSince(audience, nowMs) === undefined) return { fresh: false, reason: 'unchanged', nextCountAtMs: budgetAt };
  if (!audience.matched || nowMs < audience.settleUntilMs) {
    return { fresh: false, reason: 'settling', nextCountAtMs: Math.max(budgetAt, audience.settleUntilMs) };
  }
  if (budgetAt > nowMs) {
    const reason = nextAllowedAt(audience.log, settings.perAudience, nowMs) > nowMs ? 'audience-budget' : 'business-budget';
    return { fresh: false, reason, nextCountAtMs: budgetAt };
  }
  return { fresh: true, seq: (audience.last?.seq ?? 0) + 1, countedAtMs: nowMs };
}

/** Both states after a fresh release. */
export function applyRelease(
  audience: AudienceReleaseState,
  business: BusinessReleaseState,
  release: SizeRelease,
  settings: ReleaseSettings,
): { audience: AudienceReleaseState; business: BusinessReleaseState } {
  return {
    audience: {
      ...audience,
      last: release,
      log: logRelease(audience.log, settings.perAudience, release.countedAtMs),
      // Expiry days that have begun are shown by this release; later ones stay pending.
      expiryDays: audience.expiryDays.filter((day) => day * DAY_MS > release.countedAtMs),
    },
    business: { log: logRelease(business.log, settings.perBusiness, release.countedAtMs) },
  };
}

/**
 * Decisions for several audiences of one business at once (a listing), in
 * the order the budget serves them: longest pending first, then by id. Each
 * fresh decision takes its place in the business's log before the next is
 * made. Returns the decisions in the audiences' order and the business's log
 * as it would be once the fresh ones are recorded.
 */
export function planReleases(
  audiences: readonly AudienceReleaseState[],
  business: BusinessReleaseState,
  settings: ReleaseSettings,
  nowMs: number,
): { decisions: ReleaseDecision[]; business: BusinessReleaseState } {
  const order = audiences
    .map((audience, index) => ({ audience, index, since: pendingSince(audience, nowMs) ?? Number.POSITIVE_INFINITY }))
    .sort((a, b) => a.since - b.since || (a.audience.audienceId < b.audience.audienceId ? -1 : a.audience.audienceId > b.audience.audienceId ? 1 : 0));
  const decisions: ReleaseDecision[] = new Array(audiences.length);
  let log = business.log;
  for (const { audience, index } of order) {
    const decision = decideRelease(audience, { log }, settings, nowMs);
    decisions[index] = decision;
    if (decision.fresh) log = logRelease(log, settings.perBusiness, nowMs);
  }
  // A stale decision's nextCountAt may have been computed before later fresh ones took budget: recompute it against the final log.
  for (const { audience, index } of order) {
    const decision = decisions[index]!;
    if (!decision.fresh) decisions[index] = decideRelease(audience, { log }, settings, nowMs);
  }
  return { decisions, business: { log } };
}

/** The contract's size fields of an audience: the last release (null before the first) and when a newer one can come. */
export function sizeView(audience: AudienceReleaseState, business: BusinessReleaseState, settings: ReleaseSettings, nowMs: number) {
  const { last } = audience;
  const decision = decideRelease(audience, business, settings, nowMs);
  const nextCountAtMs = decision.fresh ? nowMs : decision.nextCountAtMs;
  return {
    approximateCount: last ? { lower: last.lower, upper: last.upper } : null,
    targetable: last ? last.targetable : null,
    countedAt: last ? new Date(last.countedAtMs).toISOString() : null,
    nextCountAt: new Date(Math.max(nowMs, nextCountAtMs)).toISOString(),
  };
}

// ------------------------------------------------------------------ the bound

/** The most one release can differ between counts P and P+1, over every P (audience-count.ts). */
export function perReleaseLeak(minSize: number): number {
  let worst = 0;
  // Above a few thousand the ladder's widths only grow, so the bound only falls.
  for (let p = 0; p <= Math.max(10_000, 4 * minSize); p++) worst = Math.max(worst, distinguishingBound(p, minSize));
  return worst;
}

/** How far above a coin flip any test of membership can be after k fresh releases of leak eps each. */
export const advantageAfter = (releases: number, leak: number): number => (1 - (1 - leak) ** releases) / 2;

/** The most releases the business's windows allow in any `spanDays` days (and, per audience, times the quota of audiences). */
export function releasesInSpan(spanDays: number, settings: ReleaseSettings, audienceQuota: number): number {
  const within = (windows: readonly RateWindow[]) => Math.min(...windows.map((w) => w.limit * Math.ceil(spanDays / w.days)));
  return Math.min(within(settings.perBusiness), audienceQuota * within(settings.perAudience));
}

/** The most releases an advantage allows: the largest k with advantageAfter(k, eps) <= advantage. */
export const releasesForAdvantage = (advantage: number, leak: number): number => Math.floor(Math.log(1 - 2 * advantage) / Math.log(1 - leak) + 1e-9);

export interface SpanBound {
  readonly spanDays: number;
  readonly releases: number;
  readonly leak: number;
  /** Above a coin flip. */
  readonly advantage: number;
  /** The best possible rate of right guesses about one person: 1/2 + advantage. */
  readonly accuracy: number;
}

/** The bound over any `spanDays` days of attack within every quota. */
export function spanBound(spanDays: number, settings: ReleaseSettings, audienceQuota: number): SpanBound {
  const releases = releasesInSpan(spanDays, settings, audienceQuota);
  const leak = perReleaseLeak(settings.minAudienceSize);
  const advantage = advantageAfter(releases, leak);
  return { spanDays, releases, leak, advantage, accuracy: 0.5 + advantage };
}
