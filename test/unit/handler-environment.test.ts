import { join } from 'node:path';
import { deadLetterEnv, functions, queues, secrets, settings, tables, topics } from '../../catalog';
import type { FunctionSpec, QueueName, SecretName, TableName, TopicName } from '../../catalog';

/**
 * On AWS a function gets only the environment of what its catalog entry lists.
 * Each handler must load with exactly that: a module that reads another
 * table's name at load time would crash its cold start there, while the local
 * stack (one process, every variable set) would never show it.
 */
const everyResourceVariable = [
  ...Object.values(tables).map((t) => t.env),
  ...Object.values(topics).map((t) => t.env),
  ...Object.values(queues).map((q) => q.env),
  ...Object.keys(queues).map((q) => deadLetterEnv(q as QueueName)),
  ...Object.values(secrets).flatMap((s) => [s.env, s.localEnv]),
];

function grantedEnvironment(spec: FunctionSpec): Record<string, string> {
  const env: Record<string, string> = {};
  for (const table of Object.keys(spec.tables ?? {})) env[tables[table as TableName].env] = `test-${table}`;
  for (const topic of spec.topics ?? []) env[topics[topic as TopicName].env] = `arn:aws:sns:us-east-1:123456789012:${topic}`;
  for (const queue of spec.queues ?? []) {
    env[queues[queue as QueueName].env] = `https://sqs.us-east-1.amazonaws.com/123456789012/${queue}`;
    env[deadLetterEnv(queue as QueueName)] = `https://sqs.us-east-1.amazonaws.com/123456789012/${queue}-dlq`;
  }
  for (const secret of spec.secrets ?? []) env[secrets[secret as SecretName].localEnv] = 'test-pepper-0123456789abcdef0123456789abcdef';
  for (const setting of spec.settings ?? []) env[settings[setting as keyof typeof settings].env] = settings[setting as keyof typeof settings].default;
  return env;
}

describe('each handler loads with only the environment its catalog entry grants', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it.each(Object.entries(functions))('%s', (_name, spec) => {
    // Prepare
    for (const variable of everyResourceVariable) delete process.env[variable];
    Object.assign(process.env, grantedEnvironment(spec));
    // Act
    let loaded: { handler?: unknown } = {};
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- isolateModules needs a synchronous load
      loaded = require(join(__dirname, '..', '..', spec.entry));
    });
    // Assess
    expect(typeof loaded.handler).toBe('function');
  });
});
