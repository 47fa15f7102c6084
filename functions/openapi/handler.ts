import { apiDocument } from '../contract';
import { openapi } from '../contract/meta';
import { httpRoute, json } from '../shared/http';

const document = apiDocument();

export const handler = httpRoute('openapi', openapi, async () => json(200, document, { 'cache-control': 'public, max-age=300' }));
