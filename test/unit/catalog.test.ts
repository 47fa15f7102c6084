import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { catalog, checkCatalog, functions } from '../../catalog';

describe('catalog', () => {
  it('is consistent: every reference resolves and every environment variable is unique', () => {
    expect(checkCatalog(catalog)).toEqual([]);
  });

  it('finds a broken reference, a shared variable and a route claimed twice', () => {
    // Prepare
    const broken = {
      ...catalog,
      tables: { ...catalog.tables, copy: { ...catalog.tables.accounts } },
      functions: {
        ...catalog.functions,
        bad: { entry: 'x.ts', description: 'x', trigger: { kind: 'queue', queue: 'nope', batchSize: 1 } },
        twice: { ...catalog.functions.putPhone },
      },
    } as unknown as Parameters<typeof checkCatalog>[0];
    // Act
    const problems = checkCatalog(broken);
    // Assess
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('share the environment variable ACCOUNTS_TABLE'),
        'function bad: unknown queue nope',
        'route PUT /v1/me/phone is claimed twice',
      ]),
    );
  });

  it.each(Object.entries(functions))('function %s has its entry file', (_name, spec) => {
    expect(existsSync(join(__dirname, '..', '..', spec.entry))).toBe(true);
  });
});
