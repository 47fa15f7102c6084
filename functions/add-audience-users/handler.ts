import { acceptBatch } from '../adapters/audience-upload';
import { addAudienceUsers } from '../contract/audiences';
import { httpRoute, json } from '../shared/http';

export const handler = httpRoute('addAudienceUsers', addAudienceUsers, async ({ params, body, caller }) =>
  json(202, await acceptBatch('add', caller.sub, params.id, body)),
);
