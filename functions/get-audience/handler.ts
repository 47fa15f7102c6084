import { getAudienceRecord } from '../adapters/audiences';
import { audienceView } from '../adapters/audience-view';
import { getAudience } from '../contract/audiences';
import { AUDIENCE_ID } from '../core/audiences';
import { clock } from '../shared/clock';
import { intSetting } from '../shared/config';
import { httpRoute, json } from '../shared/http';
import { notFound } from '../shared/problems';
import { pepper } from '../shared/secrets';

const MIN_AUDIENCE_SIZE = intSetting('minAudienceSize');

/** Unknown, malformed, deleted and other businesses' ids all answer the same 404. */
export const handler = httpRoute('getAudience', getAudience, async ({ params, caller }) => {
  const record = AUDIENCE_ID.test(params.id) ? await getAudienceRecord(caller.sub, params.id) : undefined;
  if (!record || record.deletedAt) throw notFound('No such audience.');
  return json(200, audienceView(record, await pepper(), MIN_AUDIENCE_SIZE, clock.nowSeconds()));
});
