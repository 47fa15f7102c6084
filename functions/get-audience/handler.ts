import { getAudience } from '../contract/audiences';
import { audienceView } from '../core/audience-view';
import { AUDIENCE_ID } from '../core/audiences';
import { clock } from '../shared/clock';
import { intSetting } from '../shared/config';
import { httpRoute, json } from '../shared/http';
import { notFound } from '../shared/problems';
import { countNoiseKey } from '../shared/secrets';
import { getAudienceRecord } from '../tables/audiences';

const MIN_AUDIENCE_SIZE = intSetting('minAudienceSize');

/** Unknown, malformed, deleted and other businesses' ids all answer the same 404. */
export const handler = httpRoute('getAudience', getAudience, async ({ params, caller }) => {
  const record = AUDIENCE_ID.test(params.id) ? await getAudienceRecord(caller.sub, params.id) : undefined;
  if (!record || record.deletedAt) throw notFound('No such audience.');
  return json(200, audienceView(record, await countNoiseKey(), MIN_AUDIENCE_SIZE, clock.nowSeconds()));
});
