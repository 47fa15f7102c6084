/**
 * The one environment builder: what a function gets where it runs (its
 * memory, its timeout and one binding per resource it may use) is derived
 * here from its catalog entry, once. The CDK stack turns each binding into an
 * environment variable plus the least-privilege grant; the local runtime,
 * the tests and the benchmarks turn the same bindings into variables that
 * point at their own resources.
 */
import type { Access, CatalogShape, Channel, FunctionSpec, KeyAccess, Side } from './types';

export const SERVICE_NAME = 'consent-audiences';
export const METRICS_NAMESPACE = 'ConsentAudiences';
/** The stage name of the local stack (`npm start`); functions read it from `STAGE`. */
export const LOCAL_STAGE = 'local';

/** Memory and timeout of a function whose catalog entry names none. */
export const FUNCTION_DEFAULTS = { memoryMB: 256, httpTimeoutSeconds: 10, asyncTimeoutSeconds: 30 } as const;

export type Binding =
  | { readonly kind: 'table'; readonly name: string; readonly env: string; readonly access: Access; readonly indexed: boolean }
  /** Reading a table's stream (no variable: the records to read name the stream). */
  | { readonly kind: 'stream'; readonly name: string }
  | { readonly kind: 'topic'; readonly name: string; readonly env: string }
  | { readonly kind: 'queue'; readonly name: string; readonly env: string }
  /** Sending to a queue's dead-letter queue (its URL in `env`). */
  | { readonly kind: 'deadLetterQueue'; readonly name: string; readonly env: string }
  /** Deployed, `env` holds the key's ARN; in the local stack, `localEnv` holds the key material itself. */
  | {
      readonly kind: 'key';
      readonly name: string;
      readonly env: string;
      readonly localEnv: string;
      readonly usage: 'sign' | 'encrypt';
      readonly access: KeyAccess;
    }
  /** Deployed, `env` holds the secret's ARN; in the local stack, `localEnv` holds the value itself. */
  | { readonly kind: 'secret'; readonly name: string; readonly env: string; readonly localEnv: string }
  | { readonly kind: 'setting'; readonly name: string; readonly env: string; readonly value: string };

export interface FunctionPlan {
  readonly name: string;
  readonly entry: string;
  readonly description: string;
  readonly side: Side;
  readonly memoryMB: number;
  readonly timeoutSeconds: number;
  readonly bindings: readonly Binding[];
  /** Channels it sends on to people outside the service (its SNS SMS and SES grants). */
  readonly delivers: readonly Channel[];
  /** Variables every function of the service has. */
  readonly shared: Readonly<Record<string, string>>;
}

/** Values of settings for a stage or a local run, by setting name; unlisted settings keep the catalog default. */
export type SettingValues = Readonly<Record<string, string | undefined>>;

const isHttp = (spec: FunctionSpec) => spec.trigger.kind === 'http' || spec.trigger.kind === 'http-default';

export function functionPlan(catalog: CatalogShape, name: string, options: { stage: string; settings?: SettingValues }): FunctionPlan {
  const spec = catalog.functions[name];
  if (!spec) throw new Error(`No function named ${name} in the catalog`);
  const bindings: Binding[] = [];
  for (const [table, access] of Object.entries(spec.tables ?? {})) {
    const t = known(catalog.tables, table, 'table');
    bindings.push({ kind: 'table', name: table, env: t.env, access, indexed: (t.globalIndexes ?? []).length > 0 });
  }
  for (const table of spec.streams ?? []) {
    if (!known(catalog.tables, table, 'table').stream) throw new Error(`Table ${table} has no stream`);
    bindings.push({ kind: 'stream', name: table });
  }
  for (const topic of spec.topics ?? []) bindings.push({ kind: 'topic', name: topic, env: known(catalog.topics, topic, 'topic').env });
  for (const queue of spec.queues ?? []) bindings.push({ kind: 'queue', name: queue, env: known(catalog.queues, queue, 'queue').env });
  for (const secret of spec.secrets ?? []) {
    const s = known(catalog.secrets, secret, 'secret');
    bindings.push({ kind: 'secret', name: secret, env: s.env, localEnv: s.localEnv });
  }
  for (const queue of spec.deadLetters ?? []) {
    bindings.push({ kind: 'deadLetterQueue', name: queue, env: deadLetterQueueEnv(known(catalog.queues, queue, 'queue').env) });
  }
  for (const [key, access] of Object.entries(spec.keys ?? {})) {
    const k = known(catalog.keys ?? {}, key, 'key');
    bindings.push({ kind: 'key', name: key, env: k.env, localEnv: k.localEnv, usage: k.usage, access });
  }
  for (const setting of spec.settings ?? []) {
    const s = known(catalog.settings, setting, 'setting');
    bindings.push({ kind: 'setting', name: setting, env: s.env, value: options.settings?.[setting] ?? s.default });
  }
  return {
    name,
    entry: spec.entry,
    description: spec.description,
    side: spec.side,
    memoryMB: spec.memoryMB ?? FUNCTION_DEFAULTS.memoryMB,
    timeoutSeconds: spec.timeoutSeconds ?? (isHttp(spec) ? FUNCTION_DEFAULTS.httpTimeoutSeconds : FUNCTION_DEFAULTS.asyncTimeoutSeconds),
    bindings,
    delivers: spec.delivers ?? [],
    shared: { POWERTOOLS_SERVICE_NAME: SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE, STAGE: options.stage },
  };
}

/** Every function's plan, by catalog name. */
export function functionPlans(catalog: CatalogShape, options: { stage: string; settings?: SettingValues }): Map<string, FunctionPlan> {
  return new Map(Object.keys(catalog.functions).map((name) => [name, functionPlan(catalog, name, options)]));
}

/** The variable of a queue's dead-letter queue URL: `X_QUEUE_URL` → `X_DEAD_LETTER_QUEUE_URL`. */
export const deadLetterQueueEnv = (queueEnv: string): string => queueEnv.replace(/_QUEUE_URL$/, '_DEAD_LETTER_QUEUE_URL');

/** Where a function runs, the value of each kind of binding. A secret or key names its variable too: its ARN deployed, its value locally. */
export interface Resolver {
  table(name: string): string;
  topic(name: string): string;
  queue(name: string): string;
  deadLetterQueue(name: string): string;
  secret(binding: Extract<Binding, { kind: 'secret' }>): readonly [env: string, value: string];
  key(binding: Extract<Binding, { kind: 'key' }>): readonly [env: string, value: string];
}

/** The variables of one function: the shared ones and one per binding. */
export function environmentOf(plan: FunctionPlan, resolve: Resolver): Record<string, string> {
  const env: Record<string, string> = { ...plan.shared };
  for (const b of plan.bindings) {
    switch (b.kind) {
      case 'table':
        env[b.env] = resolve.table(b.name);
        break;
      case 'topic':
        env[b.env] = resolve.topic(b.name);
        break;
      case 'queue':
        env[b.env] = resolve.queue(b.name);
        break;
      case 'deadLetterQueue':
        env[b.env] = resolve.deadLetterQueue(b.name);
        break;
      case 'key': {
        const [name, value] = resolve.key(b);
        env[name] = value;
        break;
      }
      case 'secret': {
        const [name, value] = resolve.secret(b);
        env[name] = value;
        break;
      }
      case 'setting':
        env[b.env] = b.value;
        break;
      case 'stream':
        break;
    }
  }
  return env;
}

function known<T>(specs: Readonly<Record<string, T>>, name: string, kind: string): T {
  const spec = specs[name];
  if (spec === undefined) throw new Error(`No ${kind} named ${name} in the catalog`);
  return spec;
}
