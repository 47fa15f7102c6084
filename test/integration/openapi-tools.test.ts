/**
 * The document the local stack serves at GET /openapi.json, checked by the
 * tools people use on it: Redocly CLI with its recommended rules (no error)
 * and openapi-typescript (types for every route). Both run from
 * node_modules/.bin as a user would run them. The served document is also the
 * one the committed client types were generated from.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { functions } from '../../catalog';
import { api, REPO_ROOT } from './support';

const run = promisify(execFile);
const bin = (name: string) => join(REPO_ROOT, 'node_modules/.bin', name);
/** No telemetry, no update notice: the tools run offline. */
const toolEnv = { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' };

interface LintReport {
  totals: { errors: number; warnings: number };
  problems: { ruleId: string; severity: string; message: string }[];
}

describe('GET /openapi.json and the tools people use', () => {
  jest.setTimeout(120_000);
  let dir: string;
  let file: string;
  let served: Record<string, unknown>;

  beforeAll(async () => {
    const res = await api('GET', '/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    served = res.json;
    dir = mkdtempSync(join(tmpdir(), 'openapi-tools-'));
    file = join(dir, 'openapi.json');
    writeFileSync(file, res.text);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('passes Redocly CLI lint with the recommended rules: no error', async () => {
    // lint exits 1 when it finds an error; the report is read either way.
    const output = await run(bin('redocly'), ['lint', file, '--extends', 'recommended', '--format', 'json', '--max-problems', '1000'], {
      cwd: dir,
      env: toolEnv,
      maxBuffer: 16 * 1024 * 1024,
    }).catch((error: { stdout: string; code: number }) => ({ stdout: error.stdout, code: error.code }));
    const report = JSON.parse(output.stdout) as LintReport;
    expect(report.problems.filter((p) => p.severity === 'error')).toEqual([]);
    expect(report.totals.errors).toBe(0);
    expect('code' in output).toBe(false);
  });

  it('generates TypeScript types for every route with openapi-typescript', async () => {
    const out = join(dir, 'schema.d.ts');
    await run(bin('openapi-typescript'), [file, '--output', out], { cwd: dir, env: toolEnv });
    const types = readFileSync(out, 'utf8');
    expect(types).toContain('export interface paths');
    expect(types).toContain('export interface components');
    for (const [name, spec] of Object.entries(functions)) {
      if (spec.trigger.kind !== 'http') continue;
      expect(types).toContain(`"${spec.trigger.path}": {`);
      expect(types).toContain(`    ${name}: {`);
    }
    expect(types).toMatch(/Problem: \{/);
  });

  it('is the document the committed client types were generated from (npm run generate:api)', () => {
    const committed = JSON.parse(readFileSync(join(REPO_ROOT, 'client/api/openapi.json'), 'utf8')) as unknown;
    expect(served).toEqual(committed);
  });
});
