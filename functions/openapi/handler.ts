import { routeContracts } from '../contract';
import { openapi } from '../contract/meta';
import { httpRoute, json } from '../shared/http';
import { openApiDocument } from '../shared/openapi';

const document = openApiDocument(routeContracts, { version: '1.0.0' });

export const handler = httpRoute('openapi', openapi, async () => json(200, document, { 'cache-control': 'public, max-age=300' }));
