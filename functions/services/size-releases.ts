/**
 * Size releases as the routes serve them (the rule: core/size-release.ts).
 *
 * A read of an audience (or of the list) decides, for each audience, whether
 * a fresh release comes now; if one does, the exact count is read from the
 * same snapshot, a range is drawn with the release's own seed, and the
 * release, the audience's log and the business's budget are written in one
 * transaction on condition that nobody made another release of that
 * audience, or changed the business's budget, meanwhile. Everything else
 * shows the release stored. Nothing else writes a release: uploads record
 * their batches, the matcher its commits, withdrawals their count changes,
 * and none of them touches what is shown.
 *
 * `releasesMade` is the one place where made releases are announced: its
 * metric and log today, and anything that must follow a release (a webhook,
 * say) belongs there.
 */
import { bucketCounts } from '../core/audiences';
import { announceAudienceCounted } from './webhook-events';
import type { CustomerFileSource } from '../core/audiences';
import {
  DAY_MS,
  applyRelease,
  decideRelease,
  drawRelease,
  planReleases,
  releaseSeed,
  releaseSettings,
  sizeView,
  visibleAudienceStatus,
  visibleMatchedAt,
} from '../core/size-release';
import type { AudienceReleaseState, ReleaseDecision, ReleaseSettings, SizeRelease, StaleReason } from '../core/size-release';
import { clock } from '../shared/clock';
import { intSetting } from '../shared/config';
import { logger, metrics } from '../shared/observability';
import { countNoiseKey } from '../shared/secrets';
import { budgetPart, getAudienceWithBudget, getReleaseBudget, listAudienceRecords, releasePart } from '../tables/audiences';
import type { AudienceRecord, ReleaseBudget } from '../tables/audiences';
import { transact, TransactionCancelled } from '../tables/dynamo';
import type { Part } from '../tables/dynamo';

let cached: ReleaseSettings | undefined;

/** The stage's release settings (catalog settings; every function that shows sizes or stages, or records batches, binds them). */
export function currentReleaseSettings(): ReleaseSettings {
  cached ??= releaseSettings({
    minAudienceSize: intSetting('minAudienceSize'),
    releasesPerAudiencePerDay: intSetting('sizeReleasesPerAudiencePerDay'),
    releasesPerBusinessPerDay: intSetting('sizeReleasesPerBusinessPerDay'),
    releaseBudget: intSetting('sizeReleaseBudget'),
    releaseBudgetDays: intSetting('sizeReleaseBudgetDays'),
    settleSeconds: intSetting('uploadSettleSeconds'),
    settleSecondsPerChunk: intSetting('uploadSettleSecondsPerChunk'),
  });
  return cached;
}

/** What the release rule knows of a stored audience at `nowMs`: nothing about who matched. */
export function releaseStateOf(record: AudienceRecord, nowMs: number, settings: ReleaseSettings): AudienceReleaseState {
  const chunksDone = record.chunksMatched >= record.chunksExpected;
  return {
    audienceId: record.audienceId,
    ...(record.release ? { last: record.release } : {}),
    log: record.releaseLog,
    batches: record.batches,
    ...(record.lastBatchAtMs !== undefined ? { lastBatchAtMs: record.lastBatchAtMs } : {}),
    matched: chunksDone && nowMs >= visibleMatchedAt(record.settleUntilMs, record.matchedAtMs, settings),
    settleUntilMs: record.settleUntilMs,
    expiryDays: record.expiryDays,
  };
}

/** An audience as the contract shows it. */
export interface AudienceView {
  readonly id: string;
  readonly name: string;
  readonly customerFileSource: CustomerFileSource;
  readonly status: 'empty' | 'processing' | 'ready';
  readonly approximateCount: { lower: number; upper: number } | null;
  readonly targetable: boolean | null;
  readonly countedAt: string | null;
  readonly nextCountAt: string;
  readonly createdAt: string;
}

function viewOf(record: AudienceRecord, state: AudienceReleaseState, budgetLog: readonly number[], settings: ReleaseSettings, nowMs: number): AudienceView {
  return {
    id: record.audienceId,
    name: record.name,
    customerFileSource: record.customerFileSource,
    status: visibleAudienceStatus(state, nowMs),
    ...sizeView(state, { log: budgetLog }, settings, nowMs),
    createdAt: record.createdAt,
  };
}

/** A release made and committed. */
export interface MadeRelease {
  readonly businessId: string;
  readonly audienceId: string;
  readonly release: SizeRelease;
}

/**
 * Called once for each committed transaction of fresh releases, after it
 * committed. The hook for whatever follows a release. It must not fail the
 * read that made them: the releases are stored whatever it does.
 */
export async function releasesMade(made: readonly MadeRelease[]): Promise<void> {
  if (made.length === 0) return;
  metrics.addMetric('SizeReleaseFresh', 'Count', made.length);
  logger.info('Size releases made', { releases: made.map((m) => ({ audienceId: m.audienceId, seq: m.release.seq })) });
  // The business's webhook hears of each fresh count (`audience.counted`), and of nothing else about sizes.
  await Promise.all(made.map((m) => announceAudienceCounted(m.businessId, m.audienceId, new Date(m.release.countedAtMs).toISOString())));
}

/** Pending changes the budget or the settle time holds back, by reason: the operators' view of the budget. */
function recordDeferred(decisions: readonly ReleaseDecision[]): void {
  const counts = new Map<StaleReason, number>();
  for (const d of decisions) if (!d.fresh && d.reason !== 'unchanged') counts.set(d.reason, (counts.get(d.reason) ?? 0) + 1);
  for (const [reason, n] of counts) {
    const single = metrics.singleMetric();
    single.addDimension('reason', reason);
    single.addMetric('SizeReleaseDeferred', 'Count', n);
  }
}

interface Fresh {
  readonly record: AudienceRecord;
  readonly state: AudienceReleaseState;
  readonly release: SizeRelease;
}

/** Draws the releases of the fresh decisions: each from the exact count of the snapshot the decision was made on. */
async function draw(items: readonly { record: AudienceRecord; state: AudienceReleaseState; seq: number }[], settings: ReleaseSettings, nowMs: number) {
  if (items.length === 0) return [];
  const key = await countNoiseKey();
  return items.map(({ record, state, seq }): Fresh => {
    const { alive } = bucketCounts(record.expiring, Math.floor(nowMs / 1000));
    return { record, state, release: drawRelease(alive, settings.minAudienceSize, releaseSeed(key, record.audienceId, seq), seq, nowMs, record.batches) };
  });
}

/** A transaction holds at most 100 items: 99 audiences and the budget. */
const AUDIENCES_PER_TRANSACTION = 99;

/**
 * Writes fresh releases and the budget, 99 audiences a transaction, each
 * guarded by the budget version it starts from. Returns the states and the
 * budget log as committed, and how many releases committed (those of a
 * cancelled transaction, and after it, did not).
 */
async function commit(businessId: string, fresh: readonly Fresh[], budget: ReleaseBudget, settings: ReleaseSettings) {
  let log = budget.log;
  let version = budget.version;
  const after = new Map<string, AudienceReleaseState>();
  let committed = 0;
  for (let i = 0; i < fresh.length; i += AUDIENCES_PER_TRANSACTION) {
    const group = fresh.slice(i, i + AUDIENCES_PER_TRANSACTION);
    const parts: Part[] = [];
    const states: AudienceReleaseState[] = [];
    let groupLog = log;
    for (const { record, state, release } of group) {
      const applied = applyRelease(state, { log: groupLog }, release, settings);
      groupLog = applied.business.log;
      states.push(applied.audience);
      const shown = state.expiryDays.filter((day) => day * DAY_MS <= release.countedAtMs);
      parts.push(releasePart(businessId, record.audienceId, release, applied.audience.log, shown, record.release?.seq ?? 0));
    }
    parts.push(budgetPart(businessId, groupLog, version));
    try {
      await transact(parts);
    } catch (error) {
      if (error instanceof TransactionCancelled) break;
      throw error;
    }
    log = groupLog;
    version += 1;
    committed += group.length;
    group.forEach((f, j) => after.set(f.record.audienceId, states[j]!));
    await releasesMade(group.map((f) => ({ businessId, audienceId: f.record.audienceId, release: f.release }))).catch((error: unknown) =>
      logger.warn('Announcing size releases failed', { errorName: (error as Error).name }),
    );
  }
  return { after, log, committed };
}

/**
 * One audience as the business sees it now, with a fresh release if one is
 * due and the budget allows; undefined if it does not exist or is deleted.
 * If another reader made a release or spent budget meanwhile, the audience
 * is read once more and shown as stored.
 */
export async function showAudience(businessId: string, audienceId: string): Promise<AudienceView | undefined> {
  const settings = currentReleaseSettings();
  for (let attempt = 1; ; attempt++) {
    const nowMs = clock.nowMs();
    const { audience, budget } = await getAudienceWithBudget(businessId, audienceId);
    if (!audience || audience.deletedAt) return undefined;
    const state = releaseStateOf(audience, nowMs, settings);
    const decision = decideRelease(state, { log: budget.log }, settings, nowMs);
    if (!decision.fresh || attempt > 1) {
      if (attempt === 1) recordDeferred([decision]);
      return viewOf(audience, state, budget.log, settings, nowMs);
    }
    const fresh = await draw([{ record: audience, state, seq: decision.seq }], settings, nowMs);
    const { after, log, committed } = await commit(businessId, fresh, budget, settings);
    if (committed === 1) return viewOf(audience, after.get(audienceId)!, log, settings, nowMs);
  }
}

/** The business's audiences as it sees them now, oldest first, with the fresh releases the budget allows (planReleases). */
export async function listAudienceViews(businessId: string): Promise<AudienceView[]> {
  const settings = currentReleaseSettings();
  const nowMs = clock.nowMs();
  const [records, budget] = await Promise.all([listAudienceRecords(businessId), getReleaseBudget(businessId)]);
  if (records.length === 0) return [];
  const states = records.map((r) => releaseStateOf(r, nowMs, settings));
  const { decisions } = planReleases(states, { log: budget.log }, settings, nowMs);
  recordDeferred(decisions);
  const due = decisions.flatMap((d, i) => (d.fresh ? [{ record: records[i]!, state: states[i]!, seq: d.seq }] : []));
  if (due.length === 0) return records.map((r, i) => viewOf(r, states[i]!, budget.log, settings, nowMs));
  const { after, log, committed } = await commit(businessId, await draw(due, settings, nowMs), budget, settings);
  if (committed < due.length) {
    // Another reader made releases or spent budget meanwhile: show what is stored now, without making more.
    const [again, againBudget] = await Promise.all([listAudienceRecords(businessId), getReleaseBudget(businessId)]);
    return again.map((r) => viewOf(r, releaseStateOf(r, nowMs, settings), againBudget.log, settings, nowMs));
  }
  return records.map((r, i) => viewOf(r, after.get(r.audienceId) ?? states[i]!, log, settings, nowMs));
}

/** A new audience as its creator first sees it: nothing counted yet, and when its first count can come. */
export async function newAudienceView(record: AudienceRecord): Promise<AudienceView> {
  const settings = currentReleaseSettings();
  const nowMs = clock.nowMs();
  const budget = await getReleaseBudget(record.businessId);
  return viewOf(record, releaseStateOf(record, nowMs, settings), budget.log, settings, nowMs);
}
