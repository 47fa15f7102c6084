import { isMemberNow } from '../core/audiences';
import { audienceKey, audienceOf, audiencesTable } from '../tables/audiences';
import type { AudienceRecord } from '../tables/audiences';
import { batchGetAll } from '../tables/batch';
import { consentOf } from '../tables/consent-states';
import { membershipsOfUser } from '../tables/memberships';

/**
 * The audiences a user is in now: one Query of the user's membership items,
 * filtered by what is true now:
 * - a user whose ads_targeting is not granted (or who is erased) is in none,
 *   read from the consent state, so this holds from the moment the denial
 *   is committed, before the withdrawal consumer has removed the items;
 * - deleted audiences are left out (one batched read of the audiences found),
 *   before their memberships are cleaned up;
 * - expired memberships (TTL deletes them only within days) and items of
 *   matcher attempts that have not committed are left out.
 */
export async function audiencesOfUserNow(userId: string, nowSeconds: number): Promise<{ audienceId: string; businessId: string }[]> {
  const [consent, memberships] = await Promise.all([consentOf([userId]), membershipsOfUser(userId)]);
  if (!consent.get(userId)?.granted || memberships.length === 0) return [];
  const keys = new Map(memberships.map((m) => [`${m.businessId}\0${m.audienceId}`, audienceKey(m.businessId, m.audienceId)]));
  const audiences = new Map<string, AudienceRecord>();
  for (const item of await batchGetAll(audiencesTable(), [...keys.values()], { consistent: true })) {
    const record = audienceOf(item);
    audiences.set(`${record.businessId}\0${record.audienceId}`, record);
  }
  return memberships
    .filter((m) => {
      const audience = audiences.get(`${m.businessId}\0${m.audienceId}`);
      return audience !== undefined && !audience.deletedAt && isMemberNow(m, audience.pending, nowSeconds);
    })
    .map((m) => ({ audienceId: m.audienceId, businessId: m.businessId }));
}
