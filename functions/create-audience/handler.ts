import { randomBytes } from 'node:crypto';
import { createAudience } from '../contract/audiences';
import { clock } from '../shared/clock';
import { intSetting } from '../shared/config';
import { httpRoute, json } from '../shared/http';
import { metrics } from '../shared/observability';
import { newAudienceView } from '../services/size-releases';
import { insertAudience, newAudienceRecord } from '../tables/audiences';

const QUOTA = intSetting('audienceQuota');

/**
 * Over the quota answers 409 (`audience-quota-exceeded`), not 429: the quota
 * counts every audience the business ever created, so waiting never helps,
 * and a 429 with Retry-After would invite clients to retry forever.
 */
export const handler = httpRoute('createAudience', createAudience, async ({ body, caller }) => {
  const record = {
    businessId: caller.sub,
    audienceId: `aud-${randomBytes(16).toString('hex')}`,
    name: body.name,
    customerFileSource: body.customerFileSource,
    createdAt: clock.now().toISOString(),
    expiring: {},
    revision: 0,
    chunksExpected: 0,
    chunksMatched: 0,
  };
  await insertAudience(record, QUOTA);
  metrics.addMetric('AudienceCreated', 'Count', 1);
  return json(201, await newAudienceView(newAudienceRecord(record)), {
    location: `/v1/audiences/${record.audienceId}`,
  });
});
