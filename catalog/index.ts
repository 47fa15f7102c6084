import { consentFunctions, consentKeys, consentQueues, consentSecrets, consentSettings, consentTables, consentTopics } from './consent';
import { audiencesFunctions, audiencesQueues, audiencesSecrets, audiencesSettings, audiencesTables, audiencesTopics } from './audiences';
import { messagesFunctions, messagesQueues, messagesSecrets, messagesSettings, messagesTables, messagesTopics } from './messages';
import { webhooksFunctions, webhooksKeys, webhooksQueues, webhooksSettings, webhooksTables } from './webhooks';
import type { CatalogShape, CryptoKeySpec, FunctionSpec, QueueSpec, SecretSpec, SettingSpec, TableSpec, TopicSpec } from './types';

export * from './types';
export * from './environment';

export const tables = { ...consentTables, ...audiencesTables, ...messagesTables, ...webhooksTables } as const satisfies Record<string, TableSpec>;
export const topics = { ...consentTopics, ...audiencesTopics, ...messagesTopics } as const satisfies Record<string, TopicSpec>;
export const queues = { ...consentQueues, ...audiencesQueues, ...messagesQueues, ...webhooksQueues } as const satisfies Record<string, QueueSpec>;
export const secrets = { ...consentSecrets, ...audiencesSecrets, ...messagesSecrets } as const satisfies Record<string, SecretSpec>;
export const keys = { ...consentKeys, ...webhooksKeys } as const satisfies Record<string, CryptoKeySpec>;
export const settings = { ...consentSettings, ...audiencesSettings, ...messagesSettings, ...webhooksSettings } as const satisfies Record<string, SettingSpec>;
export const functions = { ...consentFunctions, ...audiencesFunctions, ...messagesFunctions, ...webhooksFunctions } as const satisfies Record<
  string,
  FunctionSpec
>;

export type TableName = keyof typeof tables;
export type TopicName = keyof typeof topics;
export type QueueName = keyof typeof queues;
export type SecretName = keyof typeof secrets;
export type KeyName = keyof typeof keys;
export type SettingName = keyof typeof settings;
export type FunctionName = keyof typeof functions;

export const catalog = { tables, topics, queues, secrets, keys, settings, functions };
export type Catalog = typeof catalog;

/**
 * Every name a function refers to must exist, every env name must be unique,
 * and grants follow data classes: nothing on the audience side is granted
 * anything on an identity or messages table, messages tables serve only the
 * messages side (and a data subject's own export), and an append-only table
 * is only ever read or appended to.
 */
export function checkCatalog(c: CatalogShape): string[] {
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
    if (!q.env.endsWith('_QUEUE_URL')) problems.push(`queue ${n}: env must end in _QUEUE_URL`);
    if (q.subscription && !c.topics[q.subscription.topic]) problems.push(`queue ${n} subscribes to unknown topic ${q.subscription.topic}`);
  }
  for (const [n, s] of Object.entries(c.secrets)) {
    claimEnv(s.env, `secret ${n}`);
    claimEnv(s.localEnv, `local secret ${n}`);
  }
  for (const [n, k] of Object.entries(c.keys ?? {})) {
    claimEnv(k.env, `key ${n}`);
    claimEnv(k.localEnv, `local key ${n}`);
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
    // Lambda's limits for an SQS standard queue's event source mapping.
    if (t.kind === 'queue' && (t.batchSize < 1 || t.batchSize > 10_000)) problems.push(`function ${n}: batchSize must be 1-10000`);
    if (t.kind === 'queue' && t.batchSize > 10 && (t.maxBatchingWindowSeconds ?? 0) < 1)
      problems.push(`function ${n}: a batchSize above 10 needs a maxBatchingWindowSeconds of at least 1`);
    if (t.kind === 'queue' && t.maxConcurrency !== undefined && (t.maxConcurrency < 2 || t.maxConcurrency > 1000))
      problems.push(`function ${n}: maxConcurrency must be 2-1000`);
    if (t.kind === 'stream') {
      const table = c.tables[t.table];
      if (!table) problems.push(`function ${n}: unknown table ${t.table}`);
      else if (!table.stream) problems.push(`function ${n}: table ${t.table} has no stream`);
      if (!c.queues[t.onFailure]) problems.push(`function ${n}: unknown failure queue ${t.onFailure}`);
    }
    for (const [table, access] of Object.entries(f.tables ?? {})) {
      const spec = c.tables[table];
      if (!spec) {
        problems.push(`function ${n}: unknown table ${table}`);
        continue;
      }
      if (spec.appendOnly && access !== 'read' && access !== 'append') problems.push(`function ${n}: table ${table} is append-only; ${access} is not allowed`);
      if (!spec.appendOnly && access === 'append') problems.push(`function ${n}: append access is for append-only tables; ${table} is not one`);
      if (f.side === 'audience' && (spec.dataClass === 'identity' || spec.dataClass === 'messages')) {
        problems.push(`function ${n}: the audience side is granted nothing on ${spec.dataClass} table ${table}`);
      }
      if (spec.dataClass === 'messages' && f.side !== 'messages' && !f.dataSubjectAccess) {
        problems.push(`function ${n}: only the messages side (or a data subject's own export) may touch messages table ${table}`);
      }
    }
    if (f.dataSubjectAccess && (f.trigger.kind !== 'http' || f.trigger.auth === 'public' || f.trigger.auth.some((r) => r !== 'user'))) {
      problems.push(`function ${n}: only a route of role user may serve a data subject's own data`);
    }
    for (const table of f.streams ?? []) if (!c.tables[table]?.stream) problems.push(`function ${n}: table ${table} has no stream to read`);
    for (const topic of f.topics ?? []) if (!c.topics[topic]) problems.push(`function ${n}: unknown topic ${topic}`);
    for (const queue of f.queues ?? []) if (!c.queues[queue]) problems.push(`function ${n}: unknown queue ${queue}`);
    for (const secret of f.secrets ?? []) if (!c.secrets[secret]) problems.push(`function ${n}: unknown secret ${secret}`);
    for (const setting of f.settings ?? []) if (!c.settings[setting]) problems.push(`function ${n}: unknown setting ${setting}`);
    if (f.delivers?.includes('email') && !(f.settings ?? []).includes('verificationEmailIdentity')) {
      problems.push(`function ${n}: sending email needs the setting verificationEmailIdentity (its SES grant)`);
    }
    for (const queue of f.deadLetters ?? []) if (!c.queues[queue]) problems.push(`function ${n}: unknown queue ${queue} (dead letters)`);
    for (const [key, access] of Object.entries(f.keys ?? {})) {
      const spec = c.keys?.[key];
      if (!spec) problems.push(`function ${n}: unknown key ${key}`);
      else if ((spec.usage === 'sign') !== (access === 'sign' || access === 'publish'))
        problems.push(`function ${n}: ${access} is not an access to the ${spec.usage} key ${key}`);
    }
    if (isUserRouteOfMe(f.trigger) && !carriesPrivacySignal(f)) {
      problems.push(
        `function ${n}: a user route under /v1/me honours Global Privacy Control: it must read consentStates and either sign receipts (keys.receiptSigning: sign) or send to the gpcSignals queue`,
      );
    }
  }
  return problems;
}

/** A route of role user under `/v1/me`, where a `Sec-GPC: 1` request header is an opt-out of ads targeting. */
export function isUserRouteOfMe(trigger: FunctionSpec['trigger']): boolean {
  return trigger.kind === 'http' && trigger.auth !== 'public' && trigger.auth.includes('user') && /^\/v1\/me(\/|$)/.test(trigger.path);
}

/** Whether a function can honour the signal: it reads the consent state and records the denial itself, or hands it to `applyGpc`. */
function carriesPrivacySignal(f: FunctionSpec): boolean {
  const state = f.tables?.consentStates;
  const readsState = state === 'read' || state === 'readWrite';
  return readsState && (f.keys?.receiptSigning === 'sign' || (f.queues ?? []).includes('gpcSignals'));
}
