import { catalog, environmentOf, FUNCTION_DEFAULTS, functionPlan, functionPlans, METRICS_NAMESPACE, SERVICE_NAME } from '../../catalog';
import type { CatalogShape, FunctionSpec, Resolver } from '../../catalog';

/** A small catalog with one resource of every kind and a function of every trigger kind. */
const shape: CatalogShape = {
  tables: {
    notes: { env: 'NOTES_TABLE', partitionKey: { name: 'pk', type: 'S' }, dataClass: 'config', stream: 'NEW_IMAGE' },
    people: {
      env: 'PEOPLE_TABLE',
      partitionKey: { name: 'pk', type: 'S' },
      dataClass: 'identity',
      globalIndexes: [{ name: 'byName', partitionKey: { name: 'name', type: 'S' } }],
    },
  },
  topics: { changes: { env: 'CHANGES_TOPIC_ARN' } },
  queues: {
    work: { env: 'WORK_QUEUE_URL', visibilityTimeoutSeconds: 60, maxReceiveCount: 3 },
    failures: { env: 'FAILURES_QUEUE_URL', visibilityTimeoutSeconds: 60, maxReceiveCount: 3 },
  },
  secrets: { key: { env: 'KEY_SECRET_ARN', localEnv: 'LOCAL_KEY', description: 'a key' } },
  settings: {
    limit: { env: 'LIMIT', description: 'a limit', default: '10' },
    window: { env: 'WINDOW_SECONDS', description: 'a window', default: '60' },
  },
  functions: {
    route: {
      entry: 'functions/route/handler.ts',
      side: 'consent',
      description: 'GET /route',
      trigger: { kind: 'http', method: 'GET', path: '/route', auth: ['user'] },
      tables: { notes: 'read', people: 'readWrite' },
      topics: ['changes'],
      queues: ['work'],
      secrets: ['key'],
      settings: ['limit', 'window'],
    },
    fallback: { entry: 'functions/fallback/handler.ts', side: 'consent', description: '$default', trigger: { kind: 'http-default' } },
    worker: { entry: 'functions/worker/handler.ts', side: 'audience', description: 'work', trigger: { kind: 'queue', queue: 'work', batchSize: 10 } },
    follower: {
      entry: 'functions/follower/handler.ts',
      side: 'messages',
      description: 'notes stream',
      trigger: { kind: 'stream', table: 'notes', batchSize: 10, retryAttempts: 2, onFailure: 'failures' },
    },
    sized: {
      entry: 'functions/sized/handler.ts',
      side: 'consent',
      description: 'sized',
      memoryMB: 1024,
      timeoutSeconds: 5,
      trigger: { kind: 'queue', queue: 'work', batchSize: 1 },
    },
  },
};

const withFunction = (spec: FunctionSpec): CatalogShape => ({ ...shape, functions: { ...shape.functions, extra: spec } });

const resolver: Resolver = {
  table: (name) => `tbl-${name}`,
  topic: (name) => `topic-${name}`,
  queue: (name) => `queue-${name}`,
  deadLetterQueue: (name) => `dlq-${name}`,
  secret: (binding) => [binding.localEnv, `value-of-${binding.name}`],
  key: (binding) => [binding.localEnv, `key-of-${binding.name}`],
};

describe('functionPlan', () => {
  it('gives a function whose entry names neither 256 MB, and 10 s behind HTTP or 30 s asynchronously', () => {
    // Act
    const plans = ['route', 'fallback', 'worker', 'follower'].map((name) => functionPlan(shape, name, { stage: 'dev' }));
    // Assess
    expect(plans.map((p) => [p.name, p.memoryMB, p.timeoutSeconds])).toEqual([
      ['route', 256, 10],
      ['fallback', 256, 10],
      ['worker', 256, 30],
      ['follower', 256, 30],
    ]);
    expect(FUNCTION_DEFAULTS).toEqual({ memoryMB: 256, httpTimeoutSeconds: 10, asyncTimeoutSeconds: 30 });
  });

  it('keeps the memory and timeout the catalog entry names', () => {
    const plan = functionPlan(shape, 'sized', { stage: 'dev' });
    expect([plan.memoryMB, plan.timeoutSeconds]).toEqual([1024, 5]);
  });

  it('binds one resource of every kind the entry lists, with what each kind needs', () => {
    // Act
    const plan = functionPlan(shape, 'route', { stage: 'dev' });
    // Assess
    expect(plan).toEqual({
      name: 'route',
      entry: 'functions/route/handler.ts',
      description: 'GET /route',
      side: 'consent',
      memoryMB: 256,
      timeoutSeconds: 10,
      bindings: [
        { kind: 'table', name: 'notes', env: 'NOTES_TABLE', access: 'read', indexed: false },
        { kind: 'table', name: 'people', env: 'PEOPLE_TABLE', access: 'readWrite', indexed: true },
        { kind: 'topic', name: 'changes', env: 'CHANGES_TOPIC_ARN' },
        { kind: 'queue', name: 'work', env: 'WORK_QUEUE_URL' },
        { kind: 'secret', name: 'key', env: 'KEY_SECRET_ARN', localEnv: 'LOCAL_KEY' },
        { kind: 'setting', name: 'limit', env: 'LIMIT', value: '10' },
        { kind: 'setting', name: 'window', env: 'WINDOW_SECONDS', value: '60' },
      ],
      delivers: [],
      shared: { POWERTOOLS_SERVICE_NAME: SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE, STAGE: 'dev' },
    });
  });

  it('binds nothing a function does not list: a trigger is no binding', () => {
    expect(functionPlan(shape, 'worker', { stage: 'dev' }).bindings).toEqual([]);
    expect(functionPlan(shape, 'follower', { stage: 'dev' }).bindings).toEqual([]);
  });

  it("takes a stage's setting values over the catalog defaults, and only for the settings it names", () => {
    // Act
    const plan = functionPlan(shape, 'route', { stage: 'prod', settings: { limit: '3', window: undefined, unrelated: '9' } });
    // Assess
    const settings = plan.bindings.filter((b) => b.kind === 'setting');
    expect(settings).toEqual([
      { kind: 'setting', name: 'limit', env: 'LIMIT', value: '3' },
      { kind: 'setting', name: 'window', env: 'WINDOW_SECONDS', value: '60' },
    ]);
    expect(plan.shared.STAGE).toBe('prod');
  });

  it('refuses a function or a resource the catalog does not have', () => {
    expect(() => functionPlan(shape, 'nobody', { stage: 'dev' })).toThrow('No function named nobody in the catalog');
    const base: Omit<FunctionSpec, 'tables'> = { entry: 'x.ts', side: 'consent', description: 'x', trigger: { kind: 'queue', queue: 'work', batchSize: 1 } };
    expect(() => functionPlan(withFunction({ ...base, tables: { ghost: 'read' } }), 'extra', { stage: 'dev' })).toThrow('No table named ghost');
    expect(() => functionPlan(withFunction({ ...base, topics: ['ghost'] }), 'extra', { stage: 'dev' })).toThrow('No topic named ghost');
    expect(() => functionPlan(withFunction({ ...base, queues: ['ghost'] }), 'extra', { stage: 'dev' })).toThrow('No queue named ghost');
    expect(() => functionPlan(withFunction({ ...base, secrets: ['ghost'] }), 'extra', { stage: 'dev' })).toThrow('No secret named ghost');
    expect(() => functionPlan(withFunction({ ...base, settings: ['ghost'] }), 'extra', { stage: 'dev' })).toThrow('No setting named ghost');
  });

  it('plans every function of the real catalog', () => {
    const plans = functionPlans(catalog, { stage: 'test' });
    expect([...plans.keys()].sort()).toEqual(Object.keys(catalog.functions).sort());
    for (const [name, plan] of plans) expect(plan.name).toBe(name);
  });
});

describe('environmentOf', () => {
  it('sets the shared variables and one variable per binding, resolved where the function runs, and nothing else', () => {
    // Prepare
    const plan = functionPlan(shape, 'route', { stage: 'dev', settings: { limit: '3' } });
    // Act
    const env = environmentOf(plan, resolver);
    // Assess
    expect(env).toEqual({
      POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      STAGE: 'dev',
      NOTES_TABLE: 'tbl-notes',
      PEOPLE_TABLE: 'tbl-people',
      CHANGES_TOPIC_ARN: 'topic-changes',
      WORK_QUEUE_URL: 'queue-work',
      LOCAL_KEY: 'value-of-key',
      LIMIT: '3',
      WINDOW_SECONDS: '60',
    });
  });

  it('names a secret by the variable the resolver chooses: its ARN deployed, its value locally', () => {
    const plan = functionPlan(shape, 'route', { stage: 'prod' });
    const deployed = environmentOf(plan, { ...resolver, secret: (binding) => [binding.env, `arn:aws:secretsmanager:eu-west-1:1:secret:${binding.name}`] });
    expect(deployed.KEY_SECRET_ARN).toBe('arn:aws:secretsmanager:eu-west-1:1:secret:key');
    expect(deployed).not.toHaveProperty('LOCAL_KEY');
  });

  it('gives a function without bindings only the shared variables', () => {
    expect(environmentOf(functionPlan(shape, 'worker', { stage: 'dev' }), resolver)).toEqual({
      POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      STAGE: 'dev',
    });
  });
});
