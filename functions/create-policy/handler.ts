import { createPolicy } from '../contract/consent';
import { clock } from '../shared/clock';
import { httpRoute, json } from '../shared/http';
import { metrics } from '../shared/observability';
import { publishPolicy } from '../tables/policies';

export const handler = httpRoute('createPolicy', createPolicy, async ({ body }) => {
  const policy = { ...body, publishedAt: clock.now().toISOString() };
  await publishPolicy(policy);
  metrics.addMetric('PolicyPublished', 'Count', 1);
  return json(201, policy);
});
