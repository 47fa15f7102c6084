import { belowMinimum, countSeed, reportCount } from './audience-count';
import { audienceStatus, bucketCounts } from './audiences';
import type { CustomerFileSource } from './audiences';

/** What the view needs of a stored audience (tables/audiences.ts). */
export interface AudienceState {
  readonly audienceId: string;
  readonly name: string;
  readonly customerFileSource: CustomerFileSource;
  readonly createdAt: string;
  readonly expiring: Readonly<Record<string, number>>;
  readonly revision: number;
  readonly chunksExpected: number;
  readonly chunksMatched: number;
}

/**
 * An audience as the business sees it: never an exact count, only the range
 * of core/audience-count.ts, seeded by the audience's current state. The
 * seed is only computed (with the count-noise key) when the count could be at or
 * above the noisy threshold.
 */
export function audienceView(record: AudienceState, noiseKey: Buffer | undefined, minSize: number, nowSeconds: number) {
  const { alive, expired } = bucketCounts(record.expiring, nowSeconds);
  // Below the lowest possible threshold every seed answers the same: no key needed.
  let report = belowMinimum(minSize);
  if (alive >= minSize - Math.floor(minSize / 2)) {
    if (!noiseKey) throw new Error('The count-noise key is needed to report this audience');
    report = reportCount(alive, minSize, countSeed(noiseKey, record.audienceId, record.revision, expired));
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
