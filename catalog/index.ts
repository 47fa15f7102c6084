import { consentFunctions, consentQueues, consentSecrets, consentSettings, consentTables, consentTopics } from './consent';
import { audiencesFunctions, audiencesQueues, audiencesSecrets, audiencesSettings, audiencesTables, audiencesTopics } from './audiences';
import { messagesFunctions, messagesQueues, messagesSecrets, messagesSettings, messagesTables, messagesTopics } from './messages';
import type { FunctionSpec, QueueSpec, SecretSpec, SettingSpec, TableSpec, TopicSpec } from './types';

export * from './types';

export const tables = { ...consentTables, ...audiencesTables, ...messagesTables } as const satisfies Record<string, TableSpec>;
export const topics = { ...consentTopics, ...audiencesTopics, ...messagesTopics } as const satisfies Record<string, TopicSpec>;
export const queues = { ...consentQueues, ...audiencesQueues, ...messagesQueues } as const satisfies Record<string, QueueSpec>;
export const secrets = { ...consentSecrets, ...audiencesSecrets, ...messagesSecrets } as const satisfies Record<string, SecretSpec>;
export const settings = { ...consentSettings, ...audiencesSettings, ...messagesSettings } as const satisfies Record<string, SettingSpec>;
export const functions = { ...consentFunctions, ...audiencesFunctions, ...messagesFunctions } as const satisfies Record<string, FunctionSpec>;

export type TableName = keyof typeof tables;
export type TopicName = keyof typeof topics;
export type QueueName = keyof typeof queues;
export type SecretName = keyof typeof secrets;
export type SettingName = keyof typeof settings;
export type FunctionName = keyof typeof functions;

/** The dead-letter queue of every queue gets this environment variable. */
export const deadLetterEnv = (queue: QueueName): string => queues[queue].env.replace(/_QUEUE_URL$/, '_DLQ_URL');

export const catalog = { tables, topics, queues, secrets, settings, functions };
export type Catalog = typeof catalog;

/** Every name a function refers to must exist, and every env name must be unique. */
export function checkCatalog(c: {
  tables: Record<string, TableSpec>;
  topics: Record<string, TopicSpec>;
  queues: Record<string, QueueSpec>;
  secrets: Record<string, SecretSpec>;
  settings: Record<string, SettingSpec>;
  functions: Record<string, FunctionSpec>;
}): string[] {
  const problems: string[] = [];
  const envs = new Map<string, string>();
  const claimEnv = (env: string, owner: string) => {
    const other = envs.get(env);
    if (other) problems.push(`${owner} and ${other} share the environment variable ${env}`);
    envs.set(env, owner);
  };
  for (const [n, t] of Object.entries(c.tables)) claimEnv(t.env, `table ${n}`);
  for (const [n, t] of Object.entries(c.topics)) claimEnv(t.env, `topic ${n}`);
  for (const [n, q] of Object.entries(c.queues)) {
    claimEnv(q.env, `queue ${n}`);
    claimEnv(q.env.replace(/_QUEUE_URL$/, '_DLQ_URL'), `dead-letter queue of ${n}`);
    if (!q.env.endsWith('_QUEUE_URL')) problems.push(`queue ${n}: env must end in _QUEUE_URL`);
    if (q.subscription && !c.topics[q.subscription.topic]) problems.push(`queue ${n} subscribes to unknown topic ${q.subscription.topic}`);
  }
  for (const [n, s] of Object.entries(c.secrets)) {
    claimEnv(s.env, `secret ${n}`);
    claimEnv(s.localEnv, `local secret ${n}`);
  }
  for (const [n, s] of Object.entries(c.settings)) claimEnv(s.env, `setting ${n}`);
  const routes = new Set<string>();
  for (const [n, f] of Object.entries(c.functions)) {
    const t = f.trigger;
    if (t.kind === 'http') {
      const key = `${t.method} ${t.path}`;
      if (routes.has(key)) problems.push(`route ${key} is claimed twice`);
      routes.add(key);
    }
    if (t.kind === 'queue' && !c.queues[t.queue]) problems.push(`function ${n}: unknown queue ${t.queue}`);
    if (t.kind === 'stream') {
      const table = c.tables[t.table];
      if (!table) problems.push(`function ${n}: unknown table ${t.table}`);
      else if (!table.stream) problems.push(`function ${n}: table ${t.table} has no stream`);
      if (!c.queues[t.onFailure]) problems.push(`function ${n}: unknown failure queue ${t.onFailure}`);
    }
    for (const table of Object.keys(f.tables ?? {})) if (!c.tables[table]) problems.push(`function ${n}: unknown table ${table}`);
    for (const topic of f.topics ?? []) if (!c.topics[topic]) problems.push(`function ${n}: unknown topic ${topic}`);
    for (const queue of f.queues ?? []) if (!c.queues[queue]) problems.push(`function ${n}: unknown queue ${queue}`);
    for (const secret of f.secrets ?? []) if (!c.secrets[secret]) problems.push(`function ${n}: unknown secret ${secret}`);
    for (const setting of f.settings ?? []) if (!c.settings[setting]) problems.push(`function ${n}: unknown setting ${setting}`);
  }
  return problems;
}
