import { join } from 'node:path';
import { catalog, environmentOf, functionPlans, queues, secrets, settings, tables, topics } from '../../catalog';
import { fakeResolver } from '../support/fake-resources';

/**
 * On AWS a function gets only the environment of what its catalog entry lists
 * (catalog/environment.ts). Each handler must load with exactly that: a
 * module that reads another resource's name or a setting at load time would
 * crash its cold start there, while the local stack (one process, every
 * variable set) would not show it. Reads during an invocation are checked by
 * the local stack itself (local/bindings.ts).
 */
const everyResourceVariable = [
  ...Object.values(tables).map((t) => t.env),
  ...Object.values(topics).map((t) => t.env),
  ...Object.values(queues).map((q) => q.env),
  ...Object.values(secrets).flatMap((s) => [s.env, s.localEnv]),
  ...Object.values(settings).map((s) => s.env),
];

describe('each handler loads with only the environment its catalog entry grants', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it.each([...functionPlans(catalog, { stage: 'test' }).values()].map((plan) => [plan.name, plan] as const))('%s', (_name, plan) => {
    // Prepare
    for (const variable of everyResourceVariable) delete process.env[variable];
    Object.assign(process.env, environmentOf(plan, fakeResolver));
    // Act
    let loaded: { handler?: unknown } = {};
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- isolateModules needs a synchronous load
      loaded = require(join(__dirname, '..', '..', plan.entry));
    });
    // Assess
    expect(typeof loaded.handler).toBe('function');
  });
});
