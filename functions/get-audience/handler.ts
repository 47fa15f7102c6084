import { getAudience } from '../contract/audiences';
import { AUDIENCE_ID } from '../core/audiences';
import { showAudience } from '../services/size-releases';
import { httpRoute, json } from '../shared/http';
import { notFound } from '../shared/problems';

/**
 * The audience with its size release: a fresh one if a change is due and
 * the budget allows (services/size-releases.ts), else the one stored.
 * Unknown, malformed, deleted and other businesses' ids all answer the same 404.
 */
export const handler = httpRoute('getAudience', getAudience, async ({ params, caller }) => {
  const view = AUDIENCE_ID.test(params.id) ? await showAudience(caller.sub, params.id) : undefined;
  if (!view) throw notFound('No such audience.');
  return json(200, view);
});
