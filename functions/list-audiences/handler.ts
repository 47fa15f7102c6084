import { listAudiences } from '../contract/audiences';
import { listAudienceViews } from '../services/size-releases';
import { httpRoute, json } from '../shared/http';

/** The caller's audiences with their size releases: fresh ones where due, as the budget allows, longest pending first (services/size-releases.ts). */
export const handler = httpRoute('listAudiences', listAudiences, async ({ caller }) => json(200, { items: await listAudienceViews(caller.sub) }));
