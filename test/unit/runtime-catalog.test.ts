import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { catalog, deadLetterQueueEnv, isUserRouteOfMe } from '../../catalog';
import { httpRoutes, keyEnv, queueEnv, secretEnv, settingEnv, tableEnv, topicEnv } from '../../functions/shared/catalog.generated';
import { LAMBDA_BUNDLE } from '../../bench/lib/bundle';

const ROOT = resolve(__dirname, '../..');
const FILE = join(ROOT, 'functions/shared/catalog.generated.ts');
const check = (...args: string[]) =>
  promisify(execFile)(process.execPath, [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), join(ROOT, 'scripts/generate-runtime-catalog.ts'), '--check', ...args], {
    cwd: ROOT,
  }).then(
    () => ({ code: 0, stderr: '' }),
    (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
  );

/**
 * functions/shared/catalog.generated.ts: what functions read of the catalog
 * at run time, generated from it so that no bundle carries the catalog.
 */
describe('the runtime catalog', () => {
  jest.setTimeout(60_000);

  it('is what `npm run generate:catalog` makes from the catalog now', async () => {
    expect(await check()).toEqual({ code: 0, stderr: '' });
  });

  it('is reported out of date when it differs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runtime-catalog-'));
    try {
      const stale = join(dir, 'catalog.generated.ts');
      writeFileSync(stale, readFileSync(FILE, 'utf8').replace("'LEDGER_TABLE'", "'LEDGER_TABLE_NAME'"));
      const result = await check('--file', stale);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('Out of date');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("names every resource's environment variables as the catalog does", () => {
    for (const [name, spec] of Object.entries(catalog.tables)) expect(tableEnv[name as keyof typeof tableEnv]).toBe(spec.env);
    for (const [name, spec] of Object.entries(catalog.topics)) expect(topicEnv[name as keyof typeof topicEnv]).toBe(spec.env);
    for (const [name, spec] of Object.entries(catalog.queues)) {
      expect(queueEnv[name as keyof typeof queueEnv]).toEqual({ env: spec.env, deadLetterEnv: deadLetterQueueEnv(spec.env) });
    }
    for (const [name, spec] of Object.entries(catalog.secrets))
      expect(secretEnv[name as keyof typeof secretEnv]).toEqual({ env: spec.env, localEnv: spec.localEnv });
    for (const [name, spec] of Object.entries(catalog.keys)) expect(keyEnv[name as keyof typeof keyEnv]).toEqual({ env: spec.env, localEnv: spec.localEnv });
    for (const [name, spec] of Object.entries(catalog.settings)) expect(settingEnv[name as keyof typeof settingEnv]).toBe(spec.env);
  });

  it("carries every HTTP route's roles (the default route: public) and nothing for other functions", () => {
    const http = Object.entries(catalog.functions).filter(([, spec]) => spec.trigger.kind === 'http' || spec.trigger.kind === 'http-default');
    expect(Object.keys(httpRoutes).sort()).toEqual(http.map(([name]) => name).sort());
    for (const [name, spec] of http) {
      expect(httpRoutes[name as keyof typeof httpRoutes]).toEqual({
        auth: spec.trigger.kind === 'http' ? spec.trigger.auth : 'public',
        userRouteOfMe: isUserRouteOfMe(spec.trigger),
      });
    }
  });

  it('keeps the catalog out of a function bundle', async () => {
    const result = await build({ ...LAMBDA_BUNDLE, entryPoints: ['functions/put-consent/handler.ts'], write: false, metafile: true, outfile: 'out.js' });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs).toContain('functions/shared/catalog.generated.ts');
    expect(inputs.filter((path) => path.startsWith('catalog/') && path !== 'catalog/types.ts' && path !== 'catalog/environment.ts')).toEqual([]);
  });
});
