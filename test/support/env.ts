/**
 * Handler tests: every function's environment, from the catalog's environment
 * builder with fake resource names, set before any handler module loads.
 */
import { catalog, environmentOf, functionPlans } from '../../catalog';
import { fakeResolver } from './fake-resources';

for (const plan of functionPlans(catalog, { stage: 'test' }).values()) Object.assign(process.env, environmentOf(plan, fakeResolver));
process.env.AWS_REGION = 'us-east-1';
process.env.AWS_ACCESS_KEY_ID = 'test';
process.env.AWS_SECRET_ACCESS_KEY = 'test';
process.env.POWERTOOLS_LOG_LEVEL = process.env.TEST_LOG_LEVEL ?? 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
