/**
 * Handler tests: every resource the catalog names gets a fake value in the
 * environment before any handler module loads (they read it at load time).
 */
import { deadLetterEnv, queues, secrets, settings, tables, topics } from '../../catalog';
import type { QueueName } from '../../catalog';

for (const [name, t] of Object.entries(tables)) process.env[t.env] = `test-${name}`;
for (const [name, t] of Object.entries(topics)) process.env[t.env] = `arn:aws:sns:us-east-1:123456789012:test-${name}`;
for (const [name, q] of Object.entries(queues)) {
  process.env[q.env] = `https://sqs.us-east-1.amazonaws.com/123456789012/test-${name}`;
  process.env[deadLetterEnv(name as QueueName)] = `https://sqs.us-east-1.amazonaws.com/123456789012/test-${name}-dlq`;
}
for (const s of Object.values(secrets)) process.env[s.localEnv] = 'test-pepper-0123456789abcdef0123456789abcdef';
for (const s of Object.values(settings)) process.env[s.env] ??= s.default;
process.env.AWS_REGION = 'us-east-1';
process.env.AWS_ACCESS_KEY_ID = 'test';
process.env.AWS_SECRET_ACCESS_KEY = 'test';
process.env.POWERTOOLS_LOG_LEVEL = process.env.TEST_LOG_LEVEL ?? 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
