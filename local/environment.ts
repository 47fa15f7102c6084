/**
 * The one environment every function of the local stack shares: one variable
 * per catalog resource (as the deployed stack sets them), the emulators'
 * endpoints through the SDK's service-specific `AWS_ENDPOINT_URL_<SERVICE>`
 * variables, a region, dummy credentials and quiet Powertools defaults.
 */
import { randomBytes } from 'node:crypto';
import { deadLetterEnv } from '../catalog';
import type { QueueName, QueueSpec, SecretSpec, SettingSpec, TableSpec, TopicSpec } from '../catalog';
import type { LocalResources } from './resources';
import { LOCAL_CREDENTIALS } from './names';

export interface EnvironmentCatalog {
  readonly tables: Readonly<Record<string, TableSpec>>;
  readonly topics: Readonly<Record<string, TopicSpec>>;
  readonly queues: Readonly<Record<string, QueueSpec>>;
  readonly secrets: Readonly<Record<string, SecretSpec>>;
  readonly settings: Readonly<Record<string, SettingSpec>>;
}

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
}

export function buildEnvironment(
  catalog: EnvironmentCatalog,
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
  // local stack should not depend on what the caller's shell holds.
  const unset = ['AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_ENDPOINT_URL'];

  for (const [logical, spec] of Object.entries(catalog.tables)) {
    const table = resources.tables[logical];
    if (!table) throw new Error(`table ${logical} was not created`);
    set[spec.env] = table.name;
  }
  for (const [logical, spec] of Object.entries(catalog.topics)) {
    const topic = resources.topics[logical];
    if (!topic) throw new Error(`topic ${logical} was not created`);
    set[spec.env] = topic.arn;
  }
  for (const [logical, spec] of Object.entries(catalog.queues)) {
    const queue = resources.queues[logical];
    if (!queue) throw new Error(`queue ${logical} was not created`);
    set[spec.env] = queue.url;
    set[deadLetterEnv(logical as QueueName)] = queue.deadLetterUrl;
  }
  for (const spec of Object.values(catalog.secrets)) {
    // Generated per local stack, never printed, unless the caller provides
    // one (tests that must know it, e.g. to look for it in the logs). The
    // deployed variable (the secret's ARN) is removed so the functions read
    // the local value.
    const given = current[spec.localEnv];
    if (given !== undefined && given !== '' && given.length < 32) throw new Error(`${spec.localEnv} must be at least 32 characters`);
    set[spec.localEnv] = given ? given : randomBytes(32).toString('hex');
    unset.push(spec.env);
  }
  for (const spec of Object.values(catalog.settings)) {
    set[spec.env] = current[spec.env] ?? spec.default;
  }
  return { set, unset };
}

export function applyEnvironment(env: LocalEnvironment, target: NodeJS.ProcessEnv = process.env): void {
  for (const name of env.unset) delete target[name];
  Object.assign(target, env.set);
}
