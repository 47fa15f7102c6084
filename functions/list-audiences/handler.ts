import { listAudiences } from '../contract/audiences';
import { audienceView } from '../core/audience-view';
import { clock } from '../shared/clock';
import { intSetting } from '../shared/config';
import { httpRoute, json } from '../shared/http';
import { countNoiseKey } from '../shared/secrets';
import { listAudienceRecords } from '../tables/audiences';

const MIN_AUDIENCE_SIZE = intSetting('minAudienceSize');

export const handler = httpRoute('listAudiences', listAudiences, async ({ caller }) => {
  const records = await listAudienceRecords(caller.sub);
  const key = records.length > 0 ? await countNoiseKey() : undefined;
  const now = clock.nowSeconds();
  return json(200, { items: records.map((r) => audienceView(r, key, MIN_AUDIENCE_SIZE, now)) });
});
