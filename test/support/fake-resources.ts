import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { Resolver } from '../../catalog';

/** The secret value every test environment holds (at least 32 characters, as the local stack requires). */
export const TEST_SECRET = 'test-secret-0123456789abcdef0123456789abcdef';

/** A P-256 private JWK for keys that sign, and 32 bytes (hex) for keys that encrypt: fresh per test process, as a local stack's are. */
export const TEST_SIGNING_JWK = JSON.stringify(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }));
export const TEST_ENCRYPTION_KEY = randomBytes(32).toString('hex');

/** Fake names of every kind of resource, for tests that run handlers without AWS: `test-<name>` tables, and so on. */
export const fakeResolver: Resolver = {
  table: (name) => `test-${name}`,
  topic: (name) => `arn:aws:sns:us-east-1:123456789012:test-${name}`,
  queue: (name) => `https://sqs.us-east-1.amazonaws.com/123456789012/test-${name}`,
  deadLetterQueue: (name) => `https://sqs.us-east-1.amazonaws.com/123456789012/test-${name}-dlq`,
  secret: (binding) => [binding.localEnv, TEST_SECRET],
  key: (binding) => [binding.localEnv, binding.usage === 'sign' ? TEST_SIGNING_JWK : TEST_ENCRYPTION_KEY],
};
