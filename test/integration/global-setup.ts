/**
 * Starts ONE local stack for the whole integration project, as a child
 * process, and hands its URL to the test files through
 * `process.env.LOCAL_STACK_URL` (jest's workers inherit this process's
 * environment; in-band runs share it).
 *
 * The stack signs tokens with a key generated here (LOCAL_JWT_PRIVATE_JWK),
 * so tests can also sign the tokens the authorizer must refuse (expired,
 * wrong issuer). Queues get a 2 s visibility timeout so retries are quick.
 *
 * Size releases: the stacks of the integration tests (the shared one and the
 * private ones, which inherit this environment) count afresh after every
 * settled change and settle a batch in one second, so that tests about
 * uploads and matching see their counts at once. The tests of the budget
 * itself (size-release-attacks.test.ts) start stacks with the stage
 * defaults.
 */
import { generateKeyPairSync } from 'node:crypto';
import { spawnStack, type StackProcess } from './support/stack-process';

/** Settings of the size-release budget under which integration stacks run unless a test sets them. */
export const FREE_COUNTS = {
  SIZE_RELEASES_PER_AUDIENCE_PER_DAY: '1000000',
  SIZE_RELEASES_PER_BUSINESS_PER_DAY: '1000000',
  SIZE_RELEASE_BUDGET: '1000000',
  UPLOAD_SETTLE_SECONDS: '1',
  UPLOAD_SETTLE_SECONDS_PER_CHUNK: '0',
} as const;

declare global {
  var __LOCAL_STACK__: StackProcess | undefined;
}

export default async function globalSetup(): Promise<void> {
  if (!process.env.LOCAL_JWT_PRIVATE_JWK) {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    process.env.LOCAL_JWT_PRIVATE_JWK = JSON.stringify(privateKey.export({ format: 'jwk' }));
  }
  process.env.LOCAL_VISIBILITY_TIMEOUT_SECONDS ??= '2';
  for (const [name, value] of Object.entries(FREE_COUNTS)) process.env[name] ??= value;
  const started = Date.now();
  const stack = await spawnStack({ readyTimeoutMs: 60_000 });
  process.env.LOCAL_STACK_URL = stack.url;
  globalThis.__LOCAL_STACK__ = stack;
  process.stderr.write(`\nShared local stack ready at ${stack.url} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}
