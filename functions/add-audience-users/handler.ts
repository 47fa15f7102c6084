import { addAudienceUsers } from '../contract/audiences';
import { acceptBatch } from '../services/uploads';
import { httpRoute, json } from '../shared/http';

export const handler = httpRoute('addAudienceUsers', addAudienceUsers, async ({ params, body, caller }) =>
  json(202, await acceptBatch('add', caller.sub, params.id, body)),
);
