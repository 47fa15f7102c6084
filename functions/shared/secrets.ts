import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import type { SecretName } from '../../catalog';
import { secretSource } from './config';

/** How long a fetched secret is reused before Secrets Manager is asked again. */
const CACHE_SECONDS = 300;

/** A secret's value: from Secrets Manager when deployed, from the environment in the local stack. Never logged. */
export async function secretValue(name: SecretName): Promise<string> {
  const source = secretSource(name);
  if (source.kind === 'local') return source.value;
  const value = await getSecret<string>(source.arn, { maxAge: CACHE_SECONDS });
  if (typeof value !== 'string' || value.length < 32) throw new Error(`Secret ${name} is missing or too short`);
  return value;
}

/** The HMAC key of match keys: only the functions that key identifiers hold it. */
export async function pepper(): Promise<Buffer> {
  return Buffer.from(await secretValue('pepper'), 'utf8');
}

/** The HMAC key that seeds the noise of reported audience sizes: only the functions that report sizes hold it. */
export async function countNoiseKey(): Promise<Buffer> {
  return Buffer.from(await secretValue('countNoiseKey'), 'utf8');
}

/** The key that derives one-time codes and keys the identifier rate counters: only the verification functions hold it. */
export async function verificationKey(): Promise<Buffer> {
  return Buffer.from(await secretValue('verificationKey'), 'utf8');
}
