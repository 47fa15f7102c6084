import type { Resolver } from '../../catalog';

/** The secret value every test environment holds (at least 32 characters, as the local stack requires). */
export const TEST_SECRET = 'test-secret-0123456789abcdef0123456789abcdef';

/** Fake names of every kind of resource, for tests that run handlers without AWS: `test-<name>` tables, and so on. */
export const fakeResolver: Resolver = {
  table: (name) => `test-${name}`,
  topic: (name) => `arn:aws:sns:us-east-1:123456789012:test-${name}`,
  queue: (name) => `https://sqs.us-east-1.amazonaws.com/123456789012/test-${name}`,
  secret: (binding) => [binding.localEnv, TEST_SECRET],
};
