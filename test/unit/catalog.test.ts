import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { catalog, checkCatalog, functions } from '../../catalog';
import type { Access, CatalogShape, FunctionSpec, Side, Trigger } from '../../catalog';

/** A function no route or name of the real catalog uses, granted `tables`. */
const probe = (tables: Readonly<Record<string, Access>>, side: Side = 'consent', extra: Partial<FunctionSpec> = {}): FunctionSpec => ({
  entry: 'functions/probe/handler.ts',
  side,
  description: 'probe',
  trigger: { kind: 'http', method: 'GET', path: '/v1/probe', auth: ['user'] },
  tables,
  ...extra,
});

/** The problems of the real catalog plus one more function (the real catalog has none of its own). */
const problemsWith = (fn: FunctionSpec): string[] => checkCatalog({ ...catalog, functions: { ...catalog.functions, probe: fn } } as CatalogShape);

describe('catalog', () => {
  it('is consistent: every reference resolves, every environment variable is unique and every grant follows the rules', () => {
    expect(checkCatalog(catalog)).toEqual([]);
  });

  it('finds a broken reference, a shared variable and a route claimed twice', () => {
    // Prepare
    const broken = {
      ...catalog,
      tables: { ...catalog.tables, copy: { ...catalog.tables.identities } },
      functions: {
        ...catalog.functions,
        bad: { entry: 'x.ts', side: 'consent', description: 'x', trigger: { kind: 'queue', queue: 'nope', batchSize: 1 } },
        twice: { ...catalog.functions.putPhone },
      },
    } as unknown as CatalogShape;
    // Act
    const problems = checkCatalog(broken);
    // Assess
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('share the environment variable IDENTITIES_TABLE'),
        'function bad: unknown queue nope',
        'route PUT /v1/me/phone is claimed twice',
      ]),
    );
  });

  it("holds queue triggers to Lambda's limits for SQS standard queues", () => {
    const queue = (trigger: Record<string, unknown>) =>
      problemsWith({
        entry: 'x.ts',
        side: 'consent',
        description: 'x',
        trigger: { kind: 'queue', queue: 'gpcSignals', ...trigger },
      } as unknown as FunctionSpec);
    expect(queue({ batchSize: 10 })).toEqual([]);
    expect(queue({ batchSize: 100, maxBatchingWindowSeconds: 1, maxConcurrency: 2 })).toEqual([]);
    expect(queue({ batchSize: 11 })).toEqual(['function probe: a batchSize above 10 needs a maxBatchingWindowSeconds of at least 1']);
    expect(queue({ batchSize: 10_001, maxBatchingWindowSeconds: 1 })).toEqual(['function probe: batchSize must be 1-10000']);
    expect(queue({ batchSize: 10, maxConcurrency: 1 })).toEqual(['function probe: maxConcurrency must be 2-1000']);
  });

  it.each(Object.entries(functions))('function %s has its entry file', (_name, spec) => {
    expect(existsSync(join(__dirname, '..', '..', spec.entry))).toBe(true);
  });
});

describe('checkCatalog: append-only tables', () => {
  it.each<Access>(['write', 'readWrite'])('refuses %s access to the append-only ledger', (access) => {
    expect(problemsWith(probe({ ledger: access }))).toEqual([`function probe: table ledger is append-only; ${access} is not allowed`]);
  });

  it.each<Access>(['read', 'append'])('allows %s access to the append-only ledger', (access) => {
    expect(problemsWith(probe({ ledger: access }))).toEqual([]);
  });

  it('refuses append access to a table that is not append-only', () => {
    expect(problemsWith(probe({ consentStates: 'append' }))).toEqual(['function probe: append access is for append-only tables; consentStates is not one']);
  });

  it('applies to any table marked append-only, not only the ledger', () => {
    // Prepare
    const shape = {
      ...catalog,
      tables: { ...catalog.tables, journal: { env: 'JOURNAL_TABLE', partitionKey: { name: 'pk', type: 'S' }, dataClass: 'config', appendOnly: true } },
      functions: { ...catalog.functions, probe: probe({ journal: 'readWrite' }) },
    } as CatalogShape;
    // Act
    const problems = checkCatalog(shape);
    // Assess
    expect(problems).toEqual(['function probe: table journal is append-only; readWrite is not allowed']);
  });
});

describe('checkCatalog: data classes and sides', () => {
  it.each<Access>(['read', 'readWrite'])('refuses an audience-side function %s access to the identity table', (access) => {
    expect(problemsWith(probe({ identities: access }, 'audience'))).toEqual([
      'function probe: the audience side is granted nothing on identity table identities',
    ]);
  });

  it('refuses an audience-side function any access to a messages table, even as a data subject export', () => {
    expect(problemsWith(probe({ messages: 'read' }, 'audience', { dataSubjectAccess: true }))).toEqual([
      'function probe: the audience side is granted nothing on messages table messages',
    ]);
    expect(problemsWith(probe({ messageStatus: 'read' }, 'audience'))).toEqual(
      expect.arrayContaining(['function probe: the audience side is granted nothing on messages table messageStatus']),
    );
  });

  it('lets the audience side use consent and audience tables', () => {
    expect(problemsWith(probe({ consentStates: 'read', audiences: 'readWrite', matchIndex: 'read' }, 'audience'))).toEqual([]);
  });

  it('lets the consent side hold the identity table', () => {
    expect(problemsWith(probe({ identities: 'readWrite' }, 'consent'))).toEqual([]);
  });

  it('refuses a messages table to a consent-side function that does not serve a data subject', () => {
    expect(problemsWith(probe({ messages: 'read' }, 'consent'))).toEqual([
      "function probe: only the messages side (or a data subject's own export) may touch messages table messages",
    ]);
  });

  it('allows a messages table to the messages side and to a user route serving a data subject', () => {
    expect(problemsWith(probe({ messages: 'readWrite', messageStatus: 'read' }, 'messages'))).toEqual([]);
    expect(problemsWith(probe({ messages: 'read' }, 'consent', { dataSubjectAccess: true }))).toEqual([]);
  });

  it.each<[string, Trigger]>([
    ['a business route', { kind: 'http', method: 'GET', path: '/v1/probe', auth: ['business'] }],
    ['a route of users and operators', { kind: 'http', method: 'GET', path: '/v1/probe', auth: ['user', 'operator'] }],
    ['a public route', { kind: 'http', method: 'GET', path: '/v1/probe', auth: 'public' }],
    ['a queue consumer', { kind: 'queue', queue: 'messageAccountEvents', batchSize: 1 }],
  ])('refuses data subject access on %s', (_label, trigger) => {
    expect(problemsWith(probe({ messages: 'read' }, 'consent', { dataSubjectAccess: true, trigger }))).toEqual([
      "function probe: only a route of role user may serve a data subject's own data",
    ]);
  });

  it('keeps the real audience side away from identities and messages', () => {
    const touched = Object.values(catalog.functions)
      .filter((f) => f.side === 'audience')
      .flatMap((f) => Object.keys(f.tables ?? {}));
    expect(touched.length).toBeGreaterThan(0);
    for (const table of touched) expect(['identity', 'messages']).not.toContain(catalog.tables[table as keyof typeof catalog.tables].dataClass);
  });
});

describe('checkCatalog: Global Privacy Control and keys', () => {
  const meRoute: Trigger = { kind: 'http', method: 'GET', path: '/v1/me/probe', auth: ['user'] };

  it('refuses a user route under /v1/me that can neither record nor forward a Sec-GPC signal', () => {
    expect(problemsWith(probe({}, 'consent', { trigger: meRoute }))).toEqual([expect.stringContaining('honours Global Privacy Control')]);
    expect(problemsWith(probe({ consentStates: 'read' }, 'messages', { trigger: meRoute }))).toHaveLength(1);
  });

  it('accepts one that forwards the signal to gpcSignals, or signs receipts itself', () => {
    expect(problemsWith(probe({ consentStates: 'read' }, 'messages', { trigger: meRoute, queues: ['gpcSignals'] }))).toEqual([]);
    expect(problemsWith(probe({ consentStates: 'readWrite', ledger: 'append' }, 'consent', { trigger: meRoute, keys: { receiptSigning: 'sign' } }))).toEqual(
      [],
    );
  });

  it('leaves routes outside /v1/me and other roles alone', () => {
    expect(problemsWith(probe({}, 'consent'))).toEqual([]);
    expect(problemsWith(probe({}, 'consent', { trigger: { ...meRoute, auth: ['business'] } }))).toEqual([]);
  });

  it('refuses an unknown key and an access that does not fit the key', () => {
    expect(problemsWith(probe({}, 'consent', { keys: { nope: 'sign' } }))).toEqual(['function probe: unknown key nope']);
    expect(problemsWith(probe({}, 'consent', { keys: { receiptSigning: 'decrypt' } }))).toEqual([
      expect.stringContaining('decrypt is not an access to the sign key'),
    ]);
    expect(problemsWith(probe({}, 'consent', { keys: { webhookSecrets: 'sign' } }))).toEqual([
      expect.stringContaining('sign is not an access to the encrypt key'),
    ]);
  });

  it('gives kms:Sign to the functions that record decisions and to nothing else in the catalog', () => {
    const signers = Object.entries(functions as Record<string, FunctionSpec>)
      .filter(([, spec]) => spec.keys?.receiptSigning === 'sign')
      .map(([name]) => name)
      .sort();
    expect(signers).toEqual(['applyGpc', 'putConsent']);
  });
});
