import document from '../../client/api/openapi.json';
import { openapi } from '../contract/meta';
import { httpRoute, json } from '../shared/http';

/**
 * Serves the OpenAPI document generated from the route contracts by
 * `npm run generate:api` (a unit test fails when the committed file differs
 * from what the contracts give), so the function bundles the document
 * instead of every route's schemas and builds nothing at cold start.
 */
export const handler = httpRoute('openapi', openapi, async () => json(200, document, { 'cache-control': 'public, max-age=300' }));
