/**
 * Store tests: every function's environment from the catalog's environment
 * builder, its tables pointed at the ones the global setup created in
 * DynamoDB Local, set before any handler module loads. Only DynamoDB is
 * real: SNS and SQS keep fake names and are mocked by the tests.
 */
import { catalog, environmentOf, functionPlans } from '../../catalog';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/names';
import { STORE_ENDPOINT_ENV, storeResolver } from './support/store';

const endpoint = process.env[STORE_ENDPOINT_ENV];
if (!endpoint) throw new Error(`${STORE_ENDPOINT_ENV} is not set: store tests run in the jest project "store", whose global setup starts DynamoDB Local`);

for (const plan of functionPlans(catalog, { stage: 'test' }).values()) Object.assign(process.env, environmentOf(plan, storeResolver));
// Nothing from the caller's shell may point a function at AWS (secrets' deployed variables hold ARNs).
for (const name of [
  'AWS_SESSION_TOKEN',
  'AWS_PROFILE',
  'AWS_ENDPOINT_URL',
  ...Object.values(catalog.secrets).map((s) => s.env),
  ...Object.values(catalog.keys).map((k) => k.env),
])
  delete process.env[name];
process.env.AWS_REGION = LOCAL_REGION;
process.env.AWS_ACCESS_KEY_ID = LOCAL_CREDENTIALS.accessKeyId;
process.env.AWS_SECRET_ACCESS_KEY = LOCAL_CREDENTIALS.secretAccessKey;
process.env.AWS_ENDPOINT_URL_DYNAMODB = endpoint;
process.env.POWERTOOLS_LOG_LEVEL = process.env.TEST_LOG_LEVEL ?? 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
