import { getCurrentPolicy } from '../contract/consent';
import { httpRoute, json } from '../shared/http';
import { notFound } from '../shared/problems';
import { currentPolicy } from '../tables/policies';

export const handler = httpRoute('getCurrentPolicy', getCurrentPolicy, async () => {
  const policy = await currentPolicy('show');
  if (!policy) throw notFound('No privacy policy has been published yet.');
  return json(200, policy);
});
