/**
 * 6. Memory: peak RSS of the matcher on one 10,000-row batch, and of the CLI
 * uploading a 1,000,000-row file (beside a 100,000-row one: flat memory means
 * the peak does not grow with the file).
 *
 * Matcher: each run accepts a fresh 10,000-row batch (30% consenting users)
 * into a new audience on the local stack with the upload route's own
 * acceptBatch, in a child process whose matching queue is a private one
 * (bench/children/record-batch.ts), so the stack's matcher never takes the
 * chunks. The chunks are received from that queue and handed, as the SQS
 * event Lambda would build (batchSize 2), to the matcher's *bundle* (esbuild
 * with the CDK construct's options, or the asset of a fresh `cdk synth`) in a
 * fresh `node` process against the stack's DynamoDB Local. Figure:
 * `process.resourceUsage().maxRSS` at the end; beside it, the RSS right after
 * the bundle was loaded. Checked: no batch item failed, and the audience holds
 * the 3,000 memberships.
 *
 * CLI: `node cli/bin.cjs upload <csv> --country US --json` (as businesses run
 * it, through tsx) against a small fake API on 127.0.0.1 that accepts every
 * batch (bench/lib/fake-api.ts); peak RSS from `/usr/bin/time -v` (or
 * /proc/<pid>/status VmHWM sampling without it). The CSV has a phone column
 * ("(415) 2xx-xxxx") and an email column, so batches are cut by the 1 MiB body
 * limit (~7,700 rows).
 */
import { once } from 'node:events';
import { createWriteStream, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateQueueCommand, DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import { countMemberships, createAudience } from '../lib/audiences';
import { chunksOf } from '../../functions/shared/concurrency';
import { LAMBDA_BUNDLE } from '../lib/bundle';
import type { BenchContext } from '../lib/context';
import { usersIn } from '../lib/fixtures';
import { startFakeApi } from '../lib/fake-api';
import { childEnv, hasTimeV, lastJson, profileArgs, REPO_ROOT, runNode } from '../lib/proc';
import type { Figure } from '../lib/report';
import { ensureUsers } from '../lib/seed';
import type { BenchStack } from '../lib/stack';

const MATCHER_SCRIPT = `
const fs = require('fs');
const hwm = () => { try { return Number(/VmHWM:\\s+(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]); } catch { return undefined; } };
const events = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const m = require(process.argv[1]);
const afterLoadKiB = Math.round(process.memoryUsage.rss() / 1024);
(async () => {
  const failures = [];
  for (const event of events) {
    const context = { functionName: 'local-matchAudienceBatch', functionVersion: '$LATEST', invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:local-matchAudienceBatch',
      memoryLimitInMB: '1024', awsRequestId: require('crypto').randomUUID(), logGroupName: '/aws/lambda/local-matchAudienceBatch', logStreamName: 'bench',
      callbackWaitsForEmptyEventLoop: true, getRemainingTimeInMillis: () => 60000, done() {}, fail() {}, succeed() {} };
    const result = await m.handler(event, context);
    failures.push(...((result && result.batchItemFailures) || []));
  }
  process.stdout.write(JSON.stringify({ afterLoadKiB, maxRssKiB: process.resourceUsage().maxRSS, vmHwmKiB: hwm(), failures: failures.length }) + '\\n');
})().catch((e) => { process.stderr.write(String(e && e.stack || e) + '\\n'); process.exit(1); });
`;

/** The matcher's bundle: the asset of this run's `cdk synth` if there is one, else esbuild with the construct's options. */
async function matcherBundle(ctx: BenchContext): Promise<{ file: string; source: string }> {
  const synthesized = ctx.shared.get('matcherAsset') as string | undefined;
  if (synthesized && existsSync(synthesized)) return { file: synthesized, source: "the asset of this run's cdk synth" };
  const { buildSync } = await import('esbuild');
  const outfile = join(ctx.tmpDir, 'matcher', 'index.js');
  buildSync({ ...LAMBDA_BUNDLE, entryPoints: [join(REPO_ROOT, 'functions/match-audience-batch/handler.ts')], outfile });
  return { file: outfile, source: "esbuild with the CDK construct's bundling options (cjs, node22, minify, source map, @aws-sdk/* external)" };
}

async function receiveAll(s: BenchStack, queueUrl: string, expected: number): Promise<Message[]> {
  const messages: Message[] = [];
  for (let attempts = 0; messages.length < expected && attempts < 50; attempts++) {
    const out = await s.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        VisibilityTimeout: 600,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    messages.push(...(out.Messages ?? []));
  }
  if (messages.length !== expected) throw new Error(`received ${messages.length} chunk messages, expected ${expected}`);
  await s.sqs.send(
    new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }),
  );
  return messages;
}

async function matcherRuns(ctx: BenchContext, s: BenchStack) {
  const rows = 10_000;
  await ensureUsers(ctx, s, usersIn(rows));
  const bundle = await matcherBundle(ctx);
  const { toSqsRecord } = await import('../../local/events');
  const { functions } = await import('../../catalog');
  const trigger = functions.matchAudienceBatch.trigger;
  const batchSize = trigger.kind === 'queue' ? trigger.batchSize : 2;
  const queue = await s.sqs.send(new CreateQueueCommand({ QueueName: 'bench-private-matching', Attributes: { VisibilityTimeout: '600' } }));
  const queueUrl = queue.QueueUrl!;
  const { Attributes } = await s.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  const queueArn = Attributes!.QueueArn!;
  const businessId = 'bench-memory';
  const token = await s.token('business', businessId);
  const env = childEnv({ POWERTOOLS_LOG_LEVEL: 'ERROR' });
  const peak: number[] = [];
  const afterLoad: number[] = [];
  let chunks = 0;
  for (let run = 0; run < ctx.runs; run++) {
    const audienceId = await createAudience(s, token, `bench memory ${run + 1}`);
    const recorded = await runNode(
      ['--import', 'tsx', 'bench/children/record-batch.ts', JSON.stringify({ businessId, audienceId, sessionId: run + 1, rows })],
      { env: { ...env, AUDIENCE_MATCHING_QUEUE_URL: queueUrl }, timeoutMs: 120_000 },
    );
    const receipt = lastJson<{ numReceived: number }>(recorded, 'recording the batch');
    if (receipt.numReceived !== rows) throw new Error(`the batch was recorded with ${receipt.numReceived} rows`);
    const { Attributes: counts } = await s.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
    chunks = Number(counts?.ApproximateNumberOfMessages ?? 0);
    const messages = await receiveAll(s, queueUrl, chunks);
    const records = messages.map((m) => toSqsRecord(m, queueArn, s.stack.region));
    const events = [];
    for (const slice of chunksOf(records, batchSize)) events.push({ Records: slice });
    const eventFile = join(ctx.tmpDir, `matcher-event-${run}.json`);
    writeFileSync(eventFile, JSON.stringify(events));
    const matched = await runNode([...profileArgs(ctx.profileDir), '-e', MATCHER_SCRIPT, bundle.file, eventFile], {
      env: { ...env, NODE_PATH: join(REPO_ROOT, 'node_modules'), NODE_OPTIONS: '--enable-source-maps' },
      timeoutMs: 120_000,
    });
    const out = lastJson<{ afterLoadKiB: number; maxRssKiB: number; failures: number }>(matched, 'the matcher');
    if (out.failures > 0) throw new Error(`the matcher reported ${out.failures} failed records`);
    const members = await countMemberships(s, audienceId);
    if (members !== usersIn(rows)) throw new Error(`the audience holds ${members} memberships after the matcher ran, expected ${usersIn(rows)}`);
    peak.push(out.maxRssKiB / 1024);
    afterLoad.push(out.afterLoadKiB / 1024);
    ctx.log(
      `matcher run ${run + 1}: peak RSS ${(out.maxRssKiB / 1024).toFixed(1)} MB (after load ${(out.afterLoadKiB / 1024).toFixed(1)} MB), ${chunks} chunks`,
    );
  }
  return { peak, afterLoad, chunks, bundle: bundle.source };
}

/** A customer CSV of `rows` rows: phone (national format) and email columns. Streamed to disk. */
async function writeCsv(file: string, rows: number): Promise<void> {
  const out = createWriteStream(file);
  out.write('Phone Number,E-mail\n');
  for (let i = 0; i < rows; i += 10_000) {
    const lines: string[] = [];
    for (let j = i; j < Math.min(rows, i + 10_000); j++) {
      lines.push(`(415) ${200 + (Math.floor(j / 10_000) % 800)}-${String(j % 10_000).padStart(4, '0')},customer${j}@example.com`);
    }
    if (!out.write(`${lines.join('\n')}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

async function cliRuns(ctx: BenchContext) {
  const sizes = ctx.quick ? [10_000, 100_000] : [100_000, 1_000_000];
  const dir = join(ctx.tmpDir, 'cli');
  mkdirSync(dir, { recursive: true });
  const files = new Map<number, string>();
  for (const n of sizes) {
    const file = join(dir, `customers-${n}.csv`);
    await writeCsv(file, n);
    files.set(n, file);
  }
  const api = await startFakeApi();
  const peaks = new Map<number, number[]>(sizes.map((n) => [n, []]));
  const rates = new Map<number, number[]>(sizes.map((n) => [n, []]));
  let source: string | undefined;
  try {
    for (let run = 0; run < ctx.runs; run++) {
      for (const n of run % 2 === 0 ? sizes : [...sizes].reverse()) {
        const stateDir = join(dir, `state-${run}-${n}`);
        mkdirSync(stateDir);
        const before = { ...api.stats };
        const r = await runNode(
          [
            'cli/bin.cjs',
            'upload',
            files.get(n)!,
            '--audience',
            `aud-${'0'.repeat(32)}`,
            '--country',
            'US',
            '--url',
            api.url,
            '--local-business',
            'bench',
            '--state-dir',
            stateDir,
            '--json',
          ],
          { env: childEnv(), measureRss: true, timeoutMs: 900_000 },
        );
        const result = lastJson<{ rowsUploaded?: number; batches?: number; error?: unknown }>(r, 'the CLI');
        if (r.code !== 0 || result.rowsUploaded !== n)
          throw new Error(`the CLI exited ${r.code} having uploaded ${result.rowsUploaded ?? 0} of ${n} rows: ${JSON.stringify(result.error ?? {})}`);
        if (api.stats.rows - before.rows !== n) throw new Error(`the fake API received ${api.stats.rows - before.rows} rows, expected ${n}`);
        if (r.peakRssKiB === undefined) throw new Error('no peak RSS for the CLI');
        source = r.rssSource;
        peaks.get(n)!.push(r.peakRssKiB / 1024);
        rates.get(n)!.push(n / (r.wallMs / 1000));
        ctx.log(
          `CLI run ${run + 1}, ${n.toLocaleString('en-US')} rows: peak RSS ${(r.peakRssKiB / 1024).toFixed(1)} MB, ${(r.wallMs / 1000).toFixed(1)} s, ${result.batches} batches`,
        );
      }
    }
  } finally {
    await api.close();
  }
  return { sizes, peaks, rates, source: source ?? (hasTimeV() ? 'time -v' : 'VmHWM') };
}

export async function memory(ctx: BenchContext) {
  const s = await ctx.stack();
  const matcher = await matcherRuns(ctx, s);
  const cli = await cliRuns(ctx);
  const [small, large] = cli.sizes as [number, number];
  const figures: Figure[] = [
    {
      id: 'memory.matcher',
      label: 'Matcher peak RSS, one 10,000-row batch',
      unit: 'MB',
      runs: matcher.peak,
      limit: { label: 'RSS after loading the bundle', runs: matcher.afterLoad },
      digits: 1,
      note: 'no target',
    },
    {
      id: 'memory.cli',
      label: `CLI peak RSS, ${large.toLocaleString('en-US')}-row file`,
      unit: 'MB',
      runs: cli.peaks.get(large)!,
      limit: { label: `${small.toLocaleString('en-US')}-row file`, runs: cli.peaks.get(small)! },
      digits: 1,
      note: 'no target; ratio 1 = flat',
    },
    {
      id: 'memory.cliRate',
      label: `CLI upload rate, ${large.toLocaleString('en-US')}-row file (fake API)`,
      unit: 'rows/s',
      runs: cli.rates.get(large)!,
      limit: { label: `${small.toLocaleString('en-US')}-row file`, runs: cli.rates.get(small)! },
      note: 'informational',
    },
  ];
  return {
    figures,
    notes: [
      `Matcher: ${matcher.chunks} chunk messages of one 10,000-row batch (PHONE_SHA256, 3,000 consenting users), invoked as SQS events of ${matcher.chunks <= 2 ? matcher.chunks : 2} records on the matcher bundle built by ${matcher.bundle}, in a fresh node process (NODE_PATH for @aws-sdk/*) against the stack's DynamoDB Local; peak = process.resourceUsage().maxRSS.`,
      `CLI: node cli/bin.cjs upload --country US --json against a fake API on 127.0.0.1; files with a phone and an email column; peak RSS by ${cli.source}; the ${small.toLocaleString('en-US')}- and ${large.toLocaleString('en-US')}-row uploads alternate within each run.`,
    ],
    details: { matcher, cli: { sizes: cli.sizes, peaks: Object.fromEntries(cli.peaks), rates: Object.fromEntries(cli.rates) } },
  };
}
