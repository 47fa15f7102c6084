import type { KeyName, QueueName, SecretName, SettingName, TableName, TopicName } from '../../catalog';
import { checkBinding } from './bindings';
import { keyEnv, queueEnv, secretEnv, settingEnv, tableEnv, topicEnv } from './catalog.generated';

/**
 * Resource names and settings come from the environment, one variable per
 * resource as the catalog names it (catalog/environment.ts builds it; the
 * names come from catalog.generated.ts, so no bundle carries the catalog).
 * Queue URLs, topic ARNs and settings are read at module load
 * (`const Q = queueUrl('x')`), so a function missing one fails at cold start;
 * table names are read by the table modules on first use (functions/tables).
 * Every read is checked against the running function's bindings where a
 * checker is installed (shared/bindings.ts).
 */
function required(env: string, what: string): string {
  const value = process.env[env];
  if (!value) throw new Error(`Missing environment variable ${env} (${what})`);
  return value;
}

export function tableName(name: TableName): string {
  checkBinding('table', name);
  return required(tableEnv[name], `table ${name}`);
}

export function topicArn(name: TopicName): string {
  checkBinding('topic', name);
  return required(topicEnv[name], `topic ${name}`);
}

export function queueUrl(name: QueueName): string {
  checkBinding('queue', name);
  return required(queueEnv[name].env, `queue ${name}`);
}

/** The URL of a queue's dead-letter queue, for a function that gives up on messages by its own rule. */
export function deadLetterQueueUrl(name: QueueName): string {
  checkBinding('deadLetterQueue', name);
  return required(queueEnv[name].deadLetterEnv, `dead-letter queue of ${name}`);
}

/** A setting's value. Every function is given the settings its catalog entry lists, so a missing one is a missing binding. */
export function setting(name: SettingName): string {
  checkBinding('setting', name);
  return required(settingEnv[name], `setting ${name}`);
}

export function intSetting(name: SettingName): number {
  const raw = setting(name);
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`Setting ${settingEnv[name]} must be a whole number`);
  return value;
}

/** Where a secret comes from: Secrets Manager when deployed, the environment in the local stack. */
export function secretSource(name: SecretName): { kind: 'arn'; arn: string } | { kind: 'local'; value: string } {
  checkBinding('secret', name);
  const spec = secretEnv[name];
  const arn = process.env[spec.env];
  if (arn) return { kind: 'arn', arn };
  const value = process.env[spec.localEnv];
  if (value) return { kind: 'local', value };
  throw new Error(`Missing environment variable ${spec.env} (secret ${name})`);
}

/** Where a key is: AWS KMS when deployed (its ARN), the environment in the local stack (the key material). */
export function keySource(name: KeyName): { kind: 'arn'; arn: string } | { kind: 'local'; value: string } {
  checkBinding('key', name);
  const spec = keyEnv[name];
  const arn = process.env[spec.env];
  if (arn) return { kind: 'arn', arn };
  const value = process.env[spec.localEnv];
  if (value) return { kind: 'local', value };
  throw new Error(`Missing environment variable ${spec.env} (key ${name})`);
}
