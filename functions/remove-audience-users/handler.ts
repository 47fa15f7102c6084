import { acceptBatch } from '../adapters/audience-upload';
import { removeAudienceUsers } from '../contract/audiences';
import { httpRoute, json } from '../shared/http';

export const handler = httpRoute('removeAudienceUsers', removeAudienceUsers, async ({ params, body, caller }) =>
  json(202, await acceptBatch('remove', caller.sub, params.id, body)),
);
