import { queues, secrets, settings, tables, topics, deadLetterEnv } from '../../catalog';
import type { QueueName, SecretName, SettingName, TableName, TopicName } from '../../catalog';

/**
 * Resource names come from the environment, one variable per resource as the
 * catalog names it. Read them at module load (`const T = tableName('x')`) so a
 * function missing a binding fails at cold start, not mid-request.
 */
function required(env: string, what: string): string {
  const value = process.env[env];
  if (!value) throw new Error(`Missing environment variable ${env} (${what})`);
  return value;
}

export const tableName = (name: TableName): string => required(tables[name].env, `table ${name}`);
export const topicArn = (name: TopicName): string => required(topics[name].env, `topic ${name}`);
export const queueUrl = (name: QueueName): string => required(queues[name].env, `queue ${name}`);
export const deadLetterQueueUrl = (name: QueueName): string => required(deadLetterEnv(name), `dead-letter queue of ${name}`);

export function setting(name: SettingName): string {
  return process.env[settings[name].env] ?? settings[name].default;
}

export function intSetting(name: SettingName): number {
  const raw = setting(name);
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`Setting ${settings[name].env} must be a whole number`);
  return value;
}

/** Where a secret comes from: Secrets Manager when deployed, the environment in the local stack. */
export function secretSource(name: SecretName): { kind: 'arn'; arn: string } | { kind: 'local'; value: string } {
  const spec = secrets[name];
  const arn = process.env[spec.env];
  if (arn) return { kind: 'arn', arn };
  const value = process.env[spec.localEnv];
  if (value) return { kind: 'local', value };
  throw new Error(`Missing environment variable ${spec.env} (secret ${name})`);
}
