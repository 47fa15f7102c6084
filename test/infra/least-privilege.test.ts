import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { catalog as serviceCatalog } from '../../catalog';
import type { CatalogShape } from '../../catalog';
import { stages } from '../../infra/stages';
import { actionsOf, logicalId, mentions, removeProjectRoot, repoRoot, statementsOfRole, stubProjectRoot, synth } from './synth';
import type { Synthesized } from './synth';

/**
 * IAM grants per function, beyond "exactly the tables it lists" (stack.test.ts):
 * no function may scan, a function's DynamoDB statements name only its own
 * tables (and their indexes and streams), and request-path functions only
 * send to queues. (generic.test.ts keeps the audience side off the messages
 * tables.)
 */
const catalog: CatalogShape = serviceCatalog;
const fns = Object.entries(catalog.functions);
const isHttp = (kind: string) => kind === 'http' || kind === 'http-default';

describe('least privilege per function', () => {
  let root: string;
  let s: Synthesized;

  beforeAll(() => {
    root = stubProjectRoot();
    s = synth({ projectRoot: root });
  });
  afterAll(() => removeProjectRoot(root));

  const statementsOf = (name: string) => statementsOfRole(s.json, logicalId(s.stack.functions.get(name)!.role));

  it.each(fns)('%s: has no dynamodb:Scan (nor a dynamodb:* wildcard)', (name) => {
    const actions = statementsOf(name).flatMap(actionsOf);

    expect(actions.filter((a) => a === 'dynamodb:Scan' || a === 'dynamodb:*' || a === '*')).toEqual([]);
  });

  it.each(fns)('%s: every DynamoDB statement names only tables (or their indexes and streams) it lists', (name, spec) => {
    const own = new Set(Object.keys(spec.tables ?? {}));
    if (spec.trigger.kind === 'stream') own.add(spec.trigger.table);
    for (const table of spec.streams ?? []) own.add(table);
    const others = [...s.stack.tables].filter(([table]) => !own.has(table)).map(([, t]) => logicalId(t));

    for (const statement of statementsOf(name)) {
      if (!actionsOf(statement).some((a) => a.startsWith('dynamodb:'))) continue;
      expect({ name, foreign: others.filter((id) => mentions(statement, id)) }).toEqual({ name, foreign: [] });
    }
  });

  it.each(fns.filter(([, spec]) => isHttp(spec.trigger.kind)))('%s (request path): may send to the queues it lists, never receive or delete', (name) => {
    const actions = statementsOf(name).flatMap(actionsOf);

    expect(actions.filter((a) => /^sqs:(ReceiveMessage|DeleteMessage|ChangeMessageVisibility|PurgeQueue)/.test(a))).toEqual([]);
  });
});

describe('no scan on any request path (DESIGN.md)', () => {
  const sources = (dir: string): string[] =>
    readdirSync(dir).flatMap((entry) => {
      const path = join(dir, entry);
      return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
    });

  it('no function source sends a Scan or an unbounded PartiQL statement', () => {
    const offenders = sources(join(repoRoot, 'functions'))
      .filter((file) => /\b(ScanCommand|ExecuteStatementCommand|BatchExecuteStatementCommand)\b/.test(readFileSync(file, 'utf8')))
      .map((file) => relative(repoRoot, file));

    expect(offenders).toEqual([]);
  });
});

describe('API Gateway throttling per stage', () => {
  it.each(Object.values(stages))('$name: a positive rate with a burst at least as large', (stage) => {
    expect(stage.apiThrottle.rateLimit).toBeGreaterThan(0);
    expect(stage.apiThrottle.burstLimit).toBeGreaterThanOrEqual(stage.apiThrottle.rateLimit);
  });

  it('prod allows more than dev, and both are set on the stage (stages.test.ts checks the template values)', () => {
    expect(stages.prod.apiThrottle.rateLimit).toBeGreaterThan(stages.dev.apiThrottle.rateLimit);
  });
});
