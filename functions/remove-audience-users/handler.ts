import { removeAudienceUsers } from '../contract/audiences';
import { acceptBatch } from '../services/uploads';
import { httpRoute, json } from '../shared/http';

export const handler = httpRoute('removeAudienceUsers', removeAudienceUsers, async ({ params, body, caller }) =>
  json(202, await acceptBatch('remove', caller.sub, params.id, body)),
);
