/**
 * The one environment every function of the local stack shares: the union of
 * each function's environment from the catalog's environment builder
 * (catalog/environment.ts; one variable per resource, the same name in every
 * function, so the union is consistent), pointed at the local resources, plus
 * the emulators' endpoints through the SDK's service-specific
 * `AWS_ENDPOINT_URL_<SERVICE>` variables, a region, dummy credentials and
 * quiet Powertools defaults. Each function may still use only its own
 * bindings: local/bindings.ts checks every resource it names.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { environmentOf, functionPlans, LOCAL_STAGE } from '../catalog';
import type { CatalogShape, FunctionPlan, Resolver } from '../catalog';
import type { LocalResources } from './resources';
import { LOCAL_CREDENTIALS } from './names';

export { LOCAL_STAGE };

export interface EnvironmentEndpoints {
  readonly dynamodb: string;
  readonly dynamodbStreams: string;
  /** The host of fauxqs's queue URLs (see emulators.ts). */
  readonly sqs: string;
  readonly sns: string;
}

export interface LocalEnvironment {
  /** Variables to set. */
  readonly set: Readonly<Record<string, string>>;
  /** Variables to remove, so nothing from the caller's shell points a function at AWS. */
  readonly unset: readonly string[];
  /** Every function's plan: memory, timeout and bindings. */
  readonly plans: ReadonlyMap<string, FunctionPlan>;
}

/** Settings given in the caller's environment (by their variable) override the catalog defaults. */
export function settingsFrom(catalog: CatalogShape, current: NodeJS.ProcessEnv): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(catalog.settings).map(([name, spec]) => [name, current[spec.env]]));
}

/**
 * Secret values of the local stack: generated per stack, never printed,
 * unless the caller provides one (tests that must know it, e.g. to look for
 * it in the logs).
 */
function localSecretValue(localEnv: string, current: NodeJS.ProcessEnv): string {
  const given = current[localEnv];
  if (given !== undefined && given !== '' && given.length < 32) throw new Error(`${localEnv} must be at least 32 characters`);
  return given ? given : randomBytes(32).toString('hex');
}

/**
 * Key material of the local stack, standing in for AWS KMS: a fresh P-256
 * private JWK for a key that signs, 32 random bytes (hex) for one that
 * encrypts; or the caller's own (a test that must know it).
 */
function localKeyValue(localEnv: string, usage: 'sign' | 'encrypt', current: NodeJS.ProcessEnv): string {
  const given = current[localEnv];
  if (given) return given;
  return usage === 'sign'
    ? JSON.stringify(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }))
    : randomBytes(32).toString('hex');
}

export function buildEnvironment(
  catalog: CatalogShape,
  resources: LocalResources,
  endpoints: EnvironmentEndpoints,
  region: string,
  current: NodeJS.ProcessEnv = process.env,
): LocalEnvironment {
  const set: Record<string, string> = {
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
    AWS_ENDPOINT_URL_DYNAMODB_STREAMS: endpoints.dynamodbStreams,
    AWS_ENDPOINT_URL_SQS: endpoints.sqs,
    AWS_ENDPOINT_URL_SNS: endpoints.sns,
    POWERTOOLS_LOG_LEVEL: current.POWERTOOLS_LOG_LEVEL ?? 'WARN',
    POWERTOOLS_METRICS_DISABLED: current.POWERTOOLS_METRICS_DISABLED ?? 'true',
  };
  // AWS_SESSION_TOKEN would be sent with the dummy keys; AWS_PROFILE and
  // AWS_ENDPOINT_URL are harmless once the variables above are set, but a
  // local stack should not depend on what the caller's shell holds. The
  // deployed variables of secrets (their ARNs) go, so functions read the local values.
  const unset = [
    'AWS_SESSION_TOKEN',
    'AWS_PROFILE',
    'AWS_ENDPOINT_URL',
    ...Object.values(catalog.secrets).map((s) => s.env),
    ...Object.values(catalog.keys ?? {}).map((k) => k.env),
  ];

  const secretValues = new Map(Object.values(catalog.secrets).map((s) => [s.localEnv, localSecretValue(s.localEnv, current)]));
  const keyValues = new Map(Object.values(catalog.keys ?? {}).map((k) => [k.localEnv, localKeyValue(k.localEnv, k.usage, current)]));
  const found = <T>(what: string, value: T | undefined): T => {
    if (value === undefined) throw new Error(`${what} was not created`);
    return value;
  };
  const resolve: Resolver = {
    table: (name) => found(`table ${name}`, resources.tables[name]).name,
    topic: (name) => found(`topic ${name}`, resources.topics[name]).arn,
    queue: (name) => found(`queue ${name}`, resources.queues[name]).url,
    deadLetterQueue: (name) => found(`queue ${name}`, resources.queues[name]).deadLetterUrl,
    secret: (binding) => [binding.localEnv, found(`secret ${binding.name}`, secretValues.get(binding.localEnv))],
    key: (binding) => [binding.localEnv, found(`key ${binding.name}`, keyValues.get(binding.localEnv))],
  };
  const plans = functionPlans(catalog, { stage: LOCAL_STAGE, settings: settingsFrom(catalog, current) });
  for (const plan of plans.values()) Object.assign(set, environmentOf(plan, resolve));
  return { set, unset, plans };
}

export function applyEnvironment(env: LocalEnvironment, target: NodeJS.ProcessEnv = process.env): void {
  for (const name of env.unset) delete target[name];
  Object.assign(target, env.set);
}
