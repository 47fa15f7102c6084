import { notFound as contract } from '../contract/meta';
import { httpRoute } from '../shared/http';
import { notFound } from '../shared/problems';

/** API Gateway's `$default` route: whatever matches no route is a 404 problem document. */
export const handler = httpRoute('notFound', contract, async () => {
  throw notFound('There is no such route. See GET /openapi.json for the routes.');
});
