import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * One module per table owns its key formats (functions/tables): nothing else
 * in the repository spells one of their key prefixes. Functions, tests,
 * benchmarks and scripts import the key builders instead.
 */
const root = join(__dirname, '..', '..');
const tablesDir = join(root, 'functions', 'tables');

/** Every prefix a table module writes as a quoted literal (a lowercase word and a hash sign at the start of a string). */
function prefixesOfTableModules(): Set<string> {
  const prefixes = new Set<string>();
  for (const file of readdirSync(tablesDir).filter((f) => f.endsWith('.ts'))) {
    for (const match of readFileSync(join(tablesDir, file), 'utf8').matchAll(/[`'"]([a-z]{1,8})#/g)) prefixes.add(match[1]!);
  }
  return prefixes;
}

describe('key prefixes', () => {
  it('are found in the table modules', () => {
    expect([...prefixesOfTableModules()]).toEqual(expect.arrayContaining(['user', 'phone', 'email', 'k', 'u', 'a', 'b', 'c', 'e', 'm']));
  });

  it('appear as literals nowhere outside functions/tables', () => {
    // Prepare
    const pattern = `[\`'"](${[...prefixesOfTableModules()].join('|')})#`;
    // Act: every tracked TypeScript file but the table modules
    const grep = spawnSync('git', ['grep', '-nE', pattern, '--', '*.ts', '*.tsx', ':!functions/tables/*'], { cwd: root, encoding: 'utf8' });
    // Assess: git grep exits 1 when nothing matches
    expect({ status: grep.status, hits: grep.stdout.split('\n').filter(Boolean) }).toEqual({ status: 1, hits: [] });
  });
});
