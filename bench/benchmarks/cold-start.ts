/**
 * 5. Cold start: each function's bundle from `cdk synth` and its module load
 * time in a fresh Node process.
 *
 * - Bundles: ./cdk.out when it is newer than every source it bundles;
 *   otherwise (or with --synth) `npx cdk synth -q -o <scratch>/cdk.out`,
 *   never writing the shared ./cdk.out; or `--cdk-out <dir>`. The
 *   template's Lambda functions name their asset directory in the
 *   `aws:asset:path` metadata; the construct path names the catalog function.
 * - Size: index.js, the code Lambda loads (the source map beside it is read
 *   only when an error is mapped). The asset directory and gzip size are in
 *   the details.
 * - Load: `node -e` requiring the bundle and reading `handler`, timed inside
 *   the process, with the function's own environment from the template
 *   (references replaced by dummy strings, NODE_OPTIONS included:
 *   --enable-source-maps). `@aws-sdk/*` is external in the bundles (the
 *   Lambda runtime provides it), so it is resolved from this repository's
 *   node_modules through NODE_PATH. Beside it, in the same run: a fresh
 *   process requiring only the `@aws-sdk/*` modules that bundle requires,
 *   i.e. the part of the load that is the SDK's.
 * - The `audiences` command line's start: `node cli/bin.cjs --version` (the
 *   esbuild bundle, rebuilt first if stale) from spawn to exit, beside a bare
 *   `node -e 0` in the same round.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { LAMBDA_BUNDLE } from '../lib/bundle';
import type { Resolver } from '../../catalog';
import type { BenchContext } from '../lib/context';
import { childEnv, lastJson, REPO_ROOT, runNode } from '../lib/proc';
import type { Figure } from '../lib/report';
import { median } from '../lib/stats';

interface LambdaFn {
  name: string;
  logicalId: string;
  assetDir: string;
  env: Record<string, string>;
  catalog: boolean;
}

const LOAD_SCRIPT = `
const t0 = process.hrtime.bigint();
const m = require(process.argv[1]);
const h = m.handler;
const t1 = process.hrtime.bigint();
if (typeof h !== 'function') { process.stderr.write('no handler export\\n'); process.exit(3); }
process.stdout.write(JSON.stringify({ ms: Number(t1 - t0) / 1e6, rssKiB: Math.round(process.memoryUsage.rss() / 1024) }) + '\\n');
`;

const SDK_SCRIPT = `
const t0 = process.hrtime.bigint();
for (const m of JSON.parse(process.argv[1])) require(m);
const t1 = process.hrtime.bigint();
process.stdout.write(JSON.stringify({ ms: Number(t1 - t0) / 1e6 }) + '\\n');
`;

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

function synth(outDir: string, log: (l: string) => void): Promise<number> {
  const started = Date.now();
  log(`npx cdk synth -q -o ${outDir} (bundles every function with esbuild; about a minute)...`);
  return new Promise((resolve, reject) => {
    const child = spawn('npx', ['cdk', 'synth', '-q', '-o', outDir], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: childEnv() });
    const err: Buffer[] = [];
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(Date.now() - started);
      else reject(new Error(`cdk synth failed (${code}): ${Buffer.concat(err).toString('utf8').trim().split('\n').slice(-5).join(' / ')}`));
    });
  });
}

function dummyEnv(vars: Record<string, unknown>, name: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(vars)) env[k] = typeof v === 'string' ? v : `bench-dummy-${name}-${k.toLowerCase()}`;
  return env;
}

/**
 * Quick mode only: every catalog function bundled by esbuild with the
 * options of infra/constructs/service-function.ts, and an environment that
 * names every catalog resource (dummy values), as the template would.
 */
async function esbuildBundles(ctx: BenchContext, catalogFunctions: Record<string, { entry: string }>): Promise<LambdaFn[]> {
  const { build } = await import('esbuild');
  const { catalog, environmentOf, functionPlan } = await import('../../catalog');
  // Each function's own environment from the catalog's environment builder, with dummy names, as its template entry would have.
  const dummies: Resolver = {
    table: (name) => `bench-dummy-${name}`,
    topic: (name) => `arn:aws:sns:us-east-1:000000000000:bench-dummy-${name}`,
    queue: (name) => `https://sqs.us-east-1.amazonaws.com/000000000000/bench-dummy-${name}`,
    deadLetterQueue: (name) => `https://sqs.us-east-1.amazonaws.com/000000000000/bench-dummy-${name}-dlq`,
    secret: (binding) => [binding.env, `arn:aws:secretsmanager:us-east-1:000000000000:secret:bench-dummy-${binding.name}`],
    key: (binding) => [binding.env, `arn:aws:kms:us-east-1:000000000000:key/bench-dummy-${binding.name}`],
  };
  const out = join(ctx.tmpDir, 'esbuild');
  return Promise.all(
    Object.entries(catalogFunctions).map(async ([name, spec]) => {
      const assetDir = join(out, name);
      await build({ ...LAMBDA_BUNDLE, entryPoints: [join(REPO_ROOT, spec.entry)], outfile: join(assetDir, 'index.js') });
      const env = { NODE_OPTIONS: '--enable-source-maps', ...environmentOf(functionPlan(catalog, name, { stage: 'bench' }), dummies) };
      return { name, logicalId: name, assetDir, env, catalog: true };
    }),
  );
}

/** `PutPhoneFunction` → `putPhone`, the catalog's name. */
const catalogName = (constructId: string) => {
  const base = constructId.replace(/Function$/, '');
  return base.charAt(0).toLowerCase() + base.slice(1);
};

export function lambdaFunctions(cdkOut: string, catalogNames: ReadonlySet<string>): LambdaFn[] {
  const templateFile = readdirSync(cdkOut).find((f) => f.endsWith('.template.json'));
  if (!templateFile) throw new Error(`no *.template.json in ${cdkOut}`);
  const template = JSON.parse(readFileSync(join(cdkOut, templateFile), 'utf8')) as {
    Resources: Record<string, { Type: string; Metadata?: Record<string, string>; Properties?: { Environment?: { Variables?: Record<string, unknown> } } }>;
  };
  const fns: LambdaFn[] = [];
  for (const [logicalId, r] of Object.entries(template.Resources)) {
    if (r.Type !== 'AWS::Lambda::Function') continue;
    const asset = r.Metadata?.['aws:asset:path'];
    if (!asset || !existsSync(join(cdkOut, asset, 'index.js'))) continue;
    const path = r.Metadata?.['aws:cdk:path'] ?? logicalId;
    const name = catalogName(path.split('/')[1] ?? logicalId);
    fns.push({
      name: catalogNames.has(name) ? name : path,
      logicalId,
      assetDir: join(cdkOut, asset),
      env: dummyEnv(r.Properties?.Environment?.Variables ?? {}, name),
      catalog: catalogNames.has(name),
    });
  }
  return fns.sort((a, b) => a.name.localeCompare(b.name));
}

/** The `@aws-sdk/*` modules a bundle leaves to the runtime. */
export function sdkModules(code: string): string[] {
  return [...new Set([...code.matchAll(/require\(["'](@aws-sdk\/[^"']+)["']\)/g)].map((m) => m[1]!))].sort();
}

/** `audiences --version` from spawn to exit, and a bare Node process beside it, round by round. */
export async function cliStart(runs: number): Promise<Figure> {
  const bin = join(REPO_ROOT, 'cli', 'bin.cjs');
  // A first call builds the bundle if it is missing or stale; it is not a start.
  await runNode([bin, '--version'], { timeoutMs: 60_000 });
  const cliMs: number[] = [];
  const nodeMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const bare = await runNode(['-e', '0'], { timeoutMs: 30_000 });
    const cli = await runNode([bin, '--version'], { timeoutMs: 30_000 });
    if (cli.code !== 0) throw new Error(`audiences --version failed (${cli.code}): ${cli.stderr.trim()}`);
    nodeMs.push(bare.wallMs);
    cliMs.push(cli.wallMs);
  }
  return {
    id: 'coldstart.cliStart',
    label: 'CLI start (audiences --version, spawn to exit)',
    unit: 'ms',
    runs: cliMs,
    limit: { label: 'bare node -e 0', runs: nodeMs },
    target: { kind: 'under', value: 500 },
    digits: 0,
  };
}

export async function coldStart(ctx: BenchContext) {
  const { functions: catalogFunctions } = await import('../../catalog');
  const catalogNames = new Set(Object.keys(catalogFunctions));
  const notes: string[] = [];
  let cdkOut = ctx.cdkOut;
  let synthMs: number | undefined;
  if (!cdkOut && !ctx.synth) {
    // ./cdk.out is reused when it is newer than every source it bundles (and
    // not being written right now); --synth forces a fresh one.
    const shared = join(REPO_ROOT, 'cdk.out');
    const template = existsSync(shared) ? readdirSync(shared).find((f) => f.endsWith('.template.json')) : undefined;
    const sources = Math.max(...['functions', 'catalog', 'infra'].map((d) => newestMtime(join(REPO_ROOT, d))));
    const built = template ? statSync(join(shared, template)).mtimeMs : 0;
    if (template && built > sources && Date.now() - newestMtime(shared) > 10_000) {
      cdkOut = shared;
      notes.push(
        `Reused ./cdk.out: synthesized ${new Date(built).toISOString()}, after the last change to functions/, catalog/ and infra/ (--synth forces a fresh synth).`,
      );
    }
  }
  let fns: LambdaFn[];
  if (!cdkOut && ctx.quick && !ctx.synth) {
    fns = await esbuildBundles(ctx, catalogFunctions);
    notes.push(
      "Quick mode: bundled with esbuild and the CDK construct's options instead of a full `cdk synth` (environment: every catalog variable, dummy values).",
    );
  } else {
    if (!cdkOut) {
      cdkOut = join(ctx.tmpDir, 'cdk.out');
      synthMs = await synth(cdkOut, ctx.log);
      notes.push(`Fresh \`cdk synth\` into a scratch directory (${(synthMs / 1000).toFixed(0)} s).`);
    } else if (ctx.cdkOut) notes.push(`Reused ${ctx.cdkOut} (--cdk-out).`);
    fns = lambdaFunctions(cdkOut, catalogNames);
  }
  const matcher = fns.find((f) => f.name === 'matchAudienceBatch');
  if (matcher) ctx.shared.set('matcherAsset', join(matcher.assetDir, 'index.js'));
  const missing = [...catalogNames].filter((n) => !fns.some((f) => f.name === n));
  if (missing.length > 0) notes.push(`Catalog functions without a bundle in the assembly: ${missing.join(', ')}.`);

  const nodePath = join(REPO_ROOT, 'node_modules');
  const runs = ctx.runs;
  ctx.log(`${fns.length} bundles; ${runs} rounds of fresh processes (every bundle, then every distinct set of @aws-sdk modules)`);
  const prepared = fns.map((fn) => {
    const code = readFileSync(join(fn.assetDir, 'index.js'));
    const mapFile = join(fn.assetDir, 'index.js.map');
    const sdk = sdkModules(code.toString('utf8'));
    return {
      fn,
      code,
      sdk,
      sdkKey: JSON.stringify(sdk),
      mapBytes: existsSync(mapFile) ? statSync(mapFile).size : 0,
      assetBytes: readdirSync(fn.assetDir).reduce((n, f) => n + statSync(join(fn.assetDir, f)).size, 0),
      env: childEnv({
        ...fn.env,
        AWS_REGION: 'us-east-1',
        AWS_DEFAULT_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'bench',
        AWS_SECRET_ACCESS_KEY: 'bench',
        AWS_LAMBDA_FUNCTION_NAME: fn.name,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1024',
        NODE_PATH: nodePath,
      }),
      loadMs: [] as number[],
      rssKiB: 0,
    };
  });
  const sdkSets = new Map<string, { nodeOptions: string; ms: number[] }>();
  for (const p of prepared) if (!sdkSets.has(p.sdkKey)) sdkSets.set(p.sdkKey, { nodeOptions: p.fn.env.NODE_OPTIONS ?? '', ms: [] });
  // Round by round, so a function's load and the SDK-alone load it is set
  // beside are measured within seconds of each other.
  for (let i = 0; i < runs; i++) {
    for (const p of prepared) {
      const r = await runNode(['-e', LOAD_SCRIPT, join(p.fn.assetDir, 'index.js')], { env: p.env, cwd: p.fn.assetDir, timeoutMs: 30_000 });
      if (r.code !== 0) throw new Error(`${p.fn.name}: loading the bundle failed (${r.code}): ${r.stderr.trim().split('\n').slice(-3).join(' / ')}`);
      const out = lastJson<{ ms: number; rssKiB: number }>(r, `loading ${p.fn.name}`);
      p.loadMs.push(out.ms);
      p.rssKiB = Math.max(p.rssKiB, out.rssKiB);
    }
    for (const [key, set] of sdkSets) {
      const r = await runNode(['-e', SDK_SCRIPT, key], {
        env: childEnv({ NODE_PATH: nodePath, NODE_OPTIONS: set.nodeOptions }),
        cwd: REPO_ROOT,
        timeoutMs: 30_000,
      });
      if (r.code !== 0) throw new Error(`loading ${key} failed: ${r.stderr.trim().split('\n').slice(-3).join(' / ')}`);
      set.ms.push(lastJson<{ ms: number }>(r, `loading ${key}`).ms);
    }
  }
  const perFunction = prepared.map((p) => ({
    name: p.fn.name,
    bytes: p.code.length,
    mapBytes: p.mapBytes,
    gzipBytes: gzipSync(p.code).length,
    assetBytes: p.assetBytes,
    sdk: p.sdk.map((m) => m.replace('@aws-sdk/', '')),
    loadMs: p.loadMs,
    sdkMs: sdkSets.get(p.sdkKey)!.ms,
    rssKiB: p.rssKiB,
  }));

  const largest = perFunction.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  const slowest = perFunction.reduce((a, b) => (median(b.loadMs) > median(a.loadMs) ? b : a));
  const kb = (n: number) => n / 1000;
  const figures: Figure[] = [
    {
      id: 'coldstart.largestBundle',
      label: `Largest bundle (${largest.name}, index.js)`,
      unit: 'KB',
      runs: [kb(largest.bytes)],
      target: { kind: 'under', value: 300 },
      digits: 1,
    },
    {
      id: 'coldstart.slowestLoad',
      label: `Slowest module load (${slowest.name})`,
      unit: 'ms',
      runs: slowest.loadMs,
      limit: { label: 'its @aws-sdk modules alone', runs: slowest.sdkMs },
      target: { kind: 'under', value: 150 },
      digits: 1,
    },
    {
      id: 'coldstart.medianLoad',
      label: `Module load, median over ${perFunction.length} functions`,
      unit: 'ms',
      runs: Array.from({ length: runs }, (_, i) => median(perFunction.map((f) => f.loadMs[i]!))),
      limit: { label: '@aws-sdk modules alone', runs: Array.from({ length: runs }, (_, i) => median(perFunction.map((f) => f.sdkMs[i]!))) },
      digits: 1,
      note: 'informational',
    },
    await cliStart(runs),
  ];
  const over = perFunction.filter((f) => f.bytes >= 300_000 || median(f.loadMs) >= 150);
  notes.push(
    `Every bundle < 300 KB: ${perFunction.every((f) => f.bytes < 300_000) ? 'yes' : 'NO'}; every load < 150 ms: ${perFunction.every((f) => median(f.loadMs) < 150) ? 'yes' : 'NO'}` +
      (over.length > 0 ? ` (misses: ${over.map((f) => f.name).join(', ')})` : '') +
      '.',
    "Load time = require(index.js) + reading `handler`, measured inside a fresh `node` process with the function's environment from the template and NODE_PATH pointing @aws-sdk/* at this repository's node_modules (Lambda provides it from the runtime); the limit column is a fresh process requiring only the @aws-sdk/* modules that bundle requires.",
  );
  return {
    figures,
    notes,
    details: {
      cdkOut,
      synthMs,
      functions: perFunction.map((f) => ({
        ...f,
        loadMedianMs: Math.round(median(f.loadMs) * 10) / 10,
        sdkMedianMs: Math.round(median(f.sdkMs) * 10) / 10,
      })),
    },
    extraTable: renderFunctions(perFunction),
  };
}

function renderFunctions(
  rows: { name: string; bytes: number; gzipBytes: number; mapBytes: number; loadMs: number[]; sdkMs: number[]; sdk: string[] }[],
): string {
  const header = ['function', 'index.js KB', 'gzip KB', 'map KB', 'load ms (median)', 'sdk-only ms', 'own code ms (paired)', 'external @aws-sdk'];
  const lines = [...rows]
    .sort((a, b) => b.bytes - a.bytes)
    .map((f) => {
      const load = median(f.loadMs);
      const sdk = median(f.sdkMs);
      // Paired by round: the two were measured seconds apart.
      const own = median(f.loadMs.map((ms, i) => ms - f.sdkMs[i]!));
      return [
        f.name,
        (f.bytes / 1000).toFixed(1),
        (f.gzipBytes / 1000).toFixed(1),
        (f.mapBytes / 1000).toFixed(1),
        load.toFixed(1),
        sdk.toFixed(1),
        own.toFixed(1),
        f.sdk.join(' '),
      ];
    });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmtLine = (l: string[]) =>
    l
      .map((c, i) => (i > 0 && i < 7 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [fmtLine(header), ...lines.map(fmtLine)].join('\n');
}
