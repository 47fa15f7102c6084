import { belowMinimum, countSeed, reportCount } from '../core/audience-count';
import { audienceStatus, bucketCounts } from '../core/audiences';
import type { AudienceRecord } from './audiences';

/**
 * An audience as the business sees it: never an exact count, only the range
 * of core/audience-count.ts, seeded by the audience's current state. The
 * seed is only computed (with the pepper) when the count could be at or
 * above the noisy threshold.
 */
export function audienceView(record: AudienceRecord, pepper: Buffer | undefined, minSize: number, nowSeconds: number) {
  const { alive, expired } = bucketCounts(record.expiring, nowSeconds);
  // Below the lowest possible threshold every seed answers the same: no pepper needed.
  let report = belowMinimum(minSize);
  if (alive >= minSize - Math.floor(minSize / 2)) {
    if (!pepper) throw new Error('The pepper is needed to report this audience');
    report = reportCount(alive, minSize, countSeed(pepper, record.audienceId, record.revision, expired));
  }
  return {
    id: record.audienceId,
    name: record.name,
    customerFileSource: record.customerFileSource,
    status: audienceStatus(record),
    approximateCount: report.approximateCount,
    targetable: report.targetable,
    createdAt: record.createdAt,
  };
}
