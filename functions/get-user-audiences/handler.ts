import { getUserAudiences } from '../contract/audiences';
import { USER_ID } from '../core/audiences';
import { audiencesOfUserNow } from '../services/user-audiences';
import { clock } from '../shared/clock';
import { httpRoute, json } from '../shared/http';
import { notFound } from '../shared/problems';

/**
 * The audiences a user is in now, for ad delivery (adapters/user-audiences.ts):
 * one Query of the user's memberships, none unless the user grants
 * ads_targeting now, without deleted audiences, expired memberships or
 * uncommitted matcher writes. A malformed user id names nobody: 404.
 */
export const handler = httpRoute('getUserAudiences', getUserAudiences, async ({ params }) => {
  if (!USER_ID.test(params.userId)) throw notFound('No such user.');
  return json(200, { items: await audiencesOfUserNow(params.userId, clock.nowSeconds()) });
});
