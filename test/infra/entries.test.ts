import * as fs from 'node:fs';
import * as path from 'node:path';
import { catalog } from '../../catalog';
import { repoRoot } from './synth';

describe('catalog entries', () => {
  it.each(Object.entries(catalog.functions))('%s: %s exists and exports a handler', (_name, spec) => {
    const file = path.join(repoRoot, spec.entry);

    expect(fs.existsSync(file)).toBe(true);
    expect(fs.readFileSync(file, 'utf8')).toMatch(/export\s+(const|let|async\s+function|function)\s+handler\b|export\s*\{[^}]*\bhandler\b/);
  });
});
