/**
 * `npm run bench`: measures the service on the local stack and sets each
 * figure beside a limit measured in the same run. See bench/README.md.
 *
 *   npm run bench                         # everything, 5 runs a figure
 *   npm run bench -- --quick              # smoke check: small volumes, 2 runs
 *   npm run bench -- --only core,coldstart --runs 7
 *   npm run bench -- --cdk-out cdk.out    # reuse a synthesized cloud assembly
 *
 * Prints a table and writes bench/results.json (quick mode:
 * bench/results.quick.json unless --out says otherwise).
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join, relative, resolve } from 'node:path';
import type { BenchContext, BenchOptions } from './lib/context';
import { REPO_ROOT } from './lib/proc';
import { machine, renderTable, resultsDocument, type BenchmarkResult, type Figure } from './lib/report';
import type { BenchStack } from './lib/stack';

type Bench = (ctx: BenchContext) => Promise<{ figures: Figure[]; notes: string[]; details?: unknown; extraTable?: string }>;

/** In the order they run: the in-process and bundle ones first, then those on the stack (quietest first). */
const BENCHMARKS: { id: string; n: number; title: string; load: () => Promise<Bench> }[] = [
  { id: 'core', n: 2, title: 'Matching core in process', load: async () => (await import('./benchmarks/matching-core')).matchingCore },
  { id: 'coldstart', n: 5, title: 'Cold start: bundle size and module load', load: async () => (await import('./benchmarks/cold-start')).coldStart },
  { id: 'e2e', n: 1, title: 'Matching end to end', load: async () => (await import('./benchmarks/matching-e2e')).matchingEndToEnd },
  { id: 'optout', n: 4, title: 'Opt-out propagation', load: async () => (await import('./benchmarks/opt-out')).optOut },
  { id: 'consent', n: 3, title: 'Consent API under load', load: async () => (await import('./benchmarks/consent-load')).consentLoad },
  { id: 'memory', n: 6, title: 'Memory: matcher and CLI', load: async () => (await import('./benchmarks/memory')).memory },
  { id: 'web', n: 7, title: 'Web app: download and first load', load: async () => (await import('./benchmarks/web')).webApp },
  {
    id: 'optoutload',
    n: 8,
    title: 'Opt-out propagation during consent load',
    load: async () => (await import('./benchmarks/opt-out-under-load')).optOutUnderLoad,
  },
  {
    id: 'optoutupload',
    n: 9,
    title: 'Opt-out propagation during a 100,000-row upload',
    load: async () => (await import('./benchmarks/opt-out-under-load')).optOutDuringUpload,
  },
];

const USAGE = `Usage: npm run bench -- [options]

  --only <ids>       comma-separated: ${BENCHMARKS.map((b) => `${b.id} (${b.n})`).join(', ')}
  --runs <n>         runs a figure (default 5; --quick: 2)
  --quick            smoke check: small volumes, short loads, 2 runs (~2 min)
  --load-seconds <s> consent load duration per run (default 20; --quick: 3)
  --connections <n>  consent load connections (default 32)
  --cdk-out <dir>    reuse this cloud assembly instead of running cdk synth
  --synth            always synthesize afresh (default: reuse ./cdk.out when newer than functions/, catalog/, infra/)
  --profile <dir>    node --cpu-prof for the matching-core child and the matcher's memory run (summarise with
                     npx tsx bench/tools/profile-summary.ts <file>); for the stack itself run
                     node --cpu-prof --import tsx bench/run.ts ...
  --out <file>       results file (default bench/results.json; --quick: bench/results.quick.json)
  --help`;

export function parseOptions(argv: readonly string[]): BenchOptions {
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    if (i >= 0) return argv[i + 1];
    const eq = argv.find((a) => a.startsWith(`${name}=`));
    return eq?.slice(name.length + 1);
  };
  const known = new Set(['--only', '--runs', '--quick', '--out', '--cdk-out', '--synth', '--profile', '--load-seconds', '--connections', '--help']);
  for (const a of argv) if (a.startsWith('--') && !known.has(a.split('=')[0]!)) throw new Error(`unknown option ${a}\n\n${USAGE}`);
  const quick = argv.includes('--quick');
  const onlyRaw = get('--only');
  const only = onlyRaw
    ? onlyRaw.split(',').map((s) => {
        const id = s.trim();
        const b = BENCHMARKS.find((x) => x.id === id || String(x.n) === id);
        if (!b) throw new Error(`unknown benchmark ${id}\n\n${USAGE}`);
        return b.id;
      })
    : BENCHMARKS.map((b) => b.id);
  const int = (name: string, fallback: number, lowest: number) => {
    const raw = get(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < lowest) throw new Error(`${name} must be a whole number >= ${lowest}`);
    return n;
  };
  const cdkOut = get('--cdk-out');
  const profileDir = get('--profile');
  return {
    only: BENCHMARKS.map((b) => b.id).filter((id) => only.includes(id)),
    runs: int('--runs', quick ? 2 : 5, 1),
    quick,
    out: resolve(get('--out') ?? join(REPO_ROOT, 'bench', quick ? 'results.quick.json' : 'results.json')),
    ...(cdkOut ? { cdkOut: resolve(cdkOut) } : {}),
    ...(profileDir ? { profileDir: resolve(profileDir) } : {}),
    synth: argv.includes('--synth'),
    loadSeconds: int('--load-seconds', quick ? 3 : 20, 1),
    connections: int('--connections', 32, 1),
  };
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help')) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let options: BenchOptions;
  try {
    options = parseOptions(argv);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 2;
  }
  const startedAt = new Date();
  const m = machine();
  const log = (line: string) => process.stderr.write(`[bench ${((Date.now() - startedAt.getTime()) / 1000).toFixed(0).padStart(4)}s] ${line}\n`);
  log(`${m.cpu}, ${m.cores} cores, ${m.memoryGB} GB, Node ${m.node}; load average ${m.loadAverage.join(' ')}`);
  log(`running ${options.only.join(', ')}: ${options.runs} runs each${options.quick ? ' (quick mode: small volumes, not figures to publish)' : ''}`);

  const tmpDir = mkdtempSync(join(tmpdir(), 'bench-'));
  let stack: Promise<BenchStack> | undefined;
  const ctx: BenchContext = {
    ...options,
    tmpDir,
    log,
    shared: new Map(),
    stack() {
      stack ??= (async () => {
        log('starting the local stack in this process...');
        const { startBenchStack } = await import('./lib/stack');
        const s = await startBenchStack();
        log(`local stack ready at ${s.url} in ${(s.stack.startupMs / 1000).toFixed(1)} s (${s.stack.functions.length} functions)`);
        return s;
      })();
      return stack;
    },
  };

  const results: BenchmarkResult[] = [];
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log('interrupted: finishing the current benchmark, then writing what was measured (Ctrl-C again to quit now)');
  };
  process.on('SIGINT', onSignal);
  try {
    for (const id of options.only) {
      if (interrupted) break;
      const spec = BENCHMARKS.find((b) => b.id === id)!;
      const started = Date.now();
      const loadStart = loadavg()[0]!;
      log(`--- ${spec.n}. ${spec.title}`);
      try {
        const run = await spec.load();
        const out = await run(ctx);
        results.push({ id: `${spec.n}`, title: spec.title, ...out, durationMs: Date.now() - started, load: { start: loadStart, end: loadavg()[0]! } });
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        log(`${spec.title} failed: ${error instanceof Error ? (error.stack ?? message) : message}`);
        results.push({
          id: `${spec.n}`,
          title: spec.title,
          figures: [],
          notes: [],
          durationMs: Date.now() - started,
          load: { start: loadStart, end: loadavg()[0]! },
          error: message.split('\n')[0]!,
        });
      }
      log(`${spec.title}: ${((Date.now() - started) / 1000).toFixed(0)} s`);
    }
  } finally {
    if (stack) {
      const s = await stack.catch(() => undefined);
      if (s) {
        const warnings = s.warnings.length;
        if (warnings > 0) log(`the stack logged ${warnings} warnings; the last: ${s.warnings.slice(-3).join(' | ')}`);
        await s.close();
      }
    }
    rmSync(tmpDir, { recursive: true, force: true });
  }

  const doc = resultsDocument(results, machine(), options, startedAt);
  writeFileSync(options.out, `${JSON.stringify(doc, null, 2)}\n`);
  const out = process.stdout;
  out.write(
    `\nBenchmarks, ${startedAt.toISOString()} on ${m.cpu} (${m.cores} cores, ${m.memoryGB} GB), Node ${m.node}${options.quick ? ' [QUICK MODE]' : ''}\n\n`,
  );
  out.write(`${renderTable(results)}\n\n`);
  for (const r of results) {
    out.write(`${r.id}. ${r.title} (${(r.durationMs / 1000).toFixed(0)} s, load average ${r.load.start.toFixed(2)} -> ${r.load.end.toFixed(2)})\n`);
    for (const note of r.notes) out.write(`   - ${note}\n`);
    if (r.error) out.write(`   - FAILED: ${r.error}\n`);
    if (r.extraTable) out.write(`\n${r.extraTable.replace(/^/gm, '   ')}\n\n`);
  }
  out.write(
    `\n${doc.summary.passed} passed, ${doc.summary.failed} failed, ${doc.summary.errors} errors; total ${(doc.durationMs / 1000).toFixed(0)} s. Results: ${relative(process.cwd(), options.out)}\n`,
  );
  return doc.summary.errors > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
