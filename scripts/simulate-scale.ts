/**
 * `npm run simulate:scale`: a scaled-down replay of the seed's load against
 * the local stack, started in this process: businesses upload customer lists
 * of which a share matches consenting users, many users decide consent
 * (some deny ads targeting and leave the audiences they were matched into),
 * businesses send messages that recipients fetch and acknowledge.
 *
 * Per phase it reports where time goes (API latency percentiles, the time
 * until every queue and stream is idle or the upload sessions are done, the
 * time spent inside DynamoDB calls) and the DynamoDB calls and capacity units
 * each operation cost, counted by a middleware on the functions' own SDK
 * clients. Then it sets the measured units beside the scale model
 * (scripts/scale-model.ts, the numbers of SCALING.md) and extrapolates.
 *
 * Flags: --users N (seeded consenting users, default 3000), --businesses N
 * (3), --rows N (rows each business uploads, default 10000), --decisions N
 * (400), --deny F (share of decisions denying ads_targeting, 0.3),
 * --recipients N (15), --messages N (150), --concurrency N (16), --json;
 * --model prints the model's tables as SCALING.md quotes them, and starts nothing.
 * The defaults run in about a minute and a half on two busy cores.
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadavg, cpus } from 'node:os';
import { generateKeyPair, publicKeyOf } from '../client';
import { createAudience, postBatch, waitForDone } from '../bench/lib/audiences';
import type { BenchContext } from '../bench/lib/context';
import { batchBody, benchUserId, uploadRows, userPhone } from '../bench/lib/fixtures';
import { ensureUsers } from '../bench/lib/seed';
import { runToExit } from '../bench/lib/proc';
import { ensurePolicy, mapLimit, startBenchStack, type BenchStack } from '../bench/lib/stack';
import { percentile } from '../bench/lib/stats';
import { MAX_ROWS } from '../functions/core/audiences';
import {
  ASSUMPTIONS,
  PRICES,
  PRICES_DATE,
  consentDecisionBill,
  costOf,
  costsPerMillion,
  hotKeys,
  messageBill,
  quantityOf,
  stages,
  uploadBill,
  type Bill,
} from './scale-model';

const ROOT = resolve(__dirname, '..');

// ------------------------------------------------------------------ flags

interface Options {
  users: number;
  businesses: number;
  rows: number;
  decisions: number;
  deny: number;
  recipients: number;
  messages: number;
  concurrency: number;
  json: boolean;
  /** Print the scale model's tables (markdown, as SCALING.md quotes them) and start nothing. */
  model: boolean;
}

function parseOptions(argv: readonly string[]): Options {
  const options: Options = {
    users: 3000,
    businesses: 3,
    rows: 10_000,
    decisions: 400,
    deny: 0.3,
    recipients: 15,
    messages: 150,
    concurrency: 16,
    json: false,
    model: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--json' || arg === '--model') {
      options[arg === '--json' ? 'json' : 'model'] = true;
      continue;
    }
    const name = arg.replace(/^--/, '') as keyof Options;
    if (!(name in options) || name === 'json' || name === 'model') throw new Error(`Unknown flag ${arg}`);
    const value = Number(argv[++i]);
    if (!Number.isFinite(value) || value < 0) throw new Error(`${arg} needs a number`);
    (options as unknown as Record<string, number>)[name] = value;
  }
  if (options.deny > 1) throw new Error('--deny is a share between 0 and 1');
  // Every matched row must belong to a seeded user (rows: 30% are users', bench/lib/fixtures.ts).
  options.users = Math.max(options.users, Math.ceil(options.rows * 0.3), options.decisions, options.recipients);
  return options;
}

// ------------------------------------------------------------------ SDK call accounting

interface CallStats {
  calls: number;
  ms: number;
  readUnits: number;
  writeUnits: number;
  bytes: number;
}

class Accounting {
  private current = new Map<string, CallStats>();
  capacityReported = false;

  reset(): Map<string, CallStats> {
    const taken = this.current;
    this.current = new Map();
    return taken;
  }

  record(key: string, ms: number, read: number, write: number, bytes: number): void {
    const s = this.current.get(key) ?? { calls: 0, ms: 0, readUnits: 0, writeUnits: 0, bytes: 0 };
    s.calls += 1;
    s.ms += ms;
    s.readUnits += read;
    s.writeUnits += write;
    s.bytes += bytes;
    this.current.set(key, s);
  }
}

type Middleware = (
  next: (args: { input: Record<string, unknown> }) => Promise<{ output: Record<string, unknown> }>,
  context: { commandName?: string },
) => (args: { input: Record<string, unknown> }) => Promise<{ output: Record<string, unknown> }>;
interface Instrumentable {
  middlewareStack: { add(mw: Middleware, options: { step: 'initialize'; priority: 'high'; name: string; override?: boolean }): void };
}

const CAPACITY_COMMANDS = new Set([
  'GetItemCommand',
  'PutItemCommand',
  'UpdateItemCommand',
  'DeleteItemCommand',
  'QueryCommand',
  'ScanCommand',
  'BatchGetItemCommand',
  'BatchWriteItemCommand',
  'TransactWriteItemsCommand',
  'TransactGetItemsCommand',
]);

/** The logical table of a physical name (the stack names tables after the catalog). */
function tablesOf(input: Record<string, unknown>, logical: (physical: string) => string): string[] {
  const names = new Set<string>();
  if (typeof input.TableName === 'string') names.add(logical(input.TableName));
  if (input.RequestItems && typeof input.RequestItems === 'object') for (const t of Object.keys(input.RequestItems)) names.add(logical(t));
  if (Array.isArray(input.TransactItems)) {
    for (const item of input.TransactItems as Record<string, { TableName?: string }>[]) {
      for (const op of Object.values(item)) if (op?.TableName) names.add(logical(op.TableName));
    }
  }
  return [...names].sort();
}

const READ_COMMANDS = new Set(['GetItemCommand', 'QueryCommand', 'ScanCommand', 'BatchGetItemCommand', 'TransactGetItemsCommand']);

/** Units a call consumed, as DynamoDB reports them (DynamoDB Local gives only `CapacityUnits`: the command tells reads from writes). */
function capacityOf(command: string, output: Record<string, unknown>): { read: number; write: number } {
  const raw = output.ConsumedCapacity;
  const list = (Array.isArray(raw) ? raw : raw ? [raw] : []) as { ReadCapacityUnits?: number; WriteCapacityUnits?: number; CapacityUnits?: number }[];
  let read = 0;
  let write = 0;
  for (const c of list) {
    if (c.ReadCapacityUnits !== undefined || c.WriteCapacityUnits !== undefined) {
      read += c.ReadCapacityUnits ?? 0;
      write += c.WriteCapacityUnits ?? 0;
    } else if (READ_COMMANDS.has(command)) read += c.CapacityUnits ?? 0;
    else write += c.CapacityUnits ?? 0;
  }
  return { read, write };
}

/** Adds the accounting middleware to the functions' DynamoDB, SQS and SNS clients (the same module instances the stack loaded). */
async function instrument(s: BenchStack, accounting: Accounting): Promise<void> {
  const physical = new Map(Object.entries(s.stack.resources.tables).map(([name, t]) => [t.name, name]));
  const logical = (name: string) => physical.get(name) ?? name;
  const load = async (module: string, exported: string) =>
    ((await import(pathToFileURL(resolve(ROOT, `functions/shared/${module}.ts`)).href)) as Record<string, Instrumentable>)[exported]!;
  const dynamo = await load('aws', 'dynamo');
  dynamo.middlewareStack.add(
    (next, context) => async (args) => {
      const command = context.commandName ?? '?';
      if (CAPACITY_COMMANDS.has(command)) args.input.ReturnConsumedCapacity ??= 'TOTAL';
      const started = performance.now();
      const out = await next(args);
      const { read, write } = capacityOf(command, out.output);
      if (read + write > 0) accounting.capacityReported = true;
      accounting.record(`dynamodb ${command.replace(/Command$/, '')} ${tablesOf(args.input, logical).join('+')}`, performance.now() - started, read, write, 0);
      return out;
    },
    { step: 'initialize', priority: 'high', name: 'scaleSimulationAccounting', override: true },
  );
  for (const [service, module] of [
    ['sqs', 'sqs'],
    ['sns', 'sns'],
  ] as const) {
    const client = await load(module, module);
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const started = performance.now();
        const out = await next(args);
        const body = (args.input.MessageBody ?? args.input.Message ?? '') as string;
        accounting.record(`${service} ${(context.commandName ?? '?').replace(/Command$/, '')}`, performance.now() - started, 0, 0, Buffer.byteLength(body));
        return out;
      },
      { step: 'initialize', priority: 'high', name: 'scaleSimulationAccounting', override: true },
    );
  }
}

// ------------------------------------------------------------------ phases

interface Phase {
  readonly name: string;
  readonly operations: number;
  readonly unit: string;
  readonly wallMs: number;
  readonly apiLatencies: Record<string, number[]>;
  /** Time from the last API answer until the work it set off was done. */
  readonly settleMs: number;
  readonly settleWhat: string;
  readonly calls: Map<string, CallStats>;
  /** The model's bill for what this phase did, for comparison. */
  readonly model: Bill;
  readonly modelOperations: number;
}

async function timed<T>(latencies: number[], fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await fn();
  } finally {
    latencies.push(performance.now() - started);
  }
}

async function settle(s: BenchStack): Promise<number> {
  const started = performance.now();
  const res = await s.api<{ settled: boolean }>('POST', '/_local/settle', { body: { timeoutSeconds: 300 } });
  if (res.status !== 200) throw new Error(`POST /_local/settle answered ${res.status}: ${res.text}`);
  return performance.now() - started;
}

async function uploadPhase(s: BenchStack, o: Options, accounting: Accounting, log: (l: string) => void): Promise<{ phase: Phase; audiences: string[] }> {
  const businesses = await Promise.all(Array.from({ length: o.businesses }, (_, b) => s.token('business', `sim-business-${b}`)));
  const audiences = await Promise.all(businesses.map((token, b) => createAudience(s, token, `Simulated list ${b}`)));
  const batches = Math.ceil(o.rows / MAX_ROWS);
  const bodies = Array.from({ length: batches }, (_, i) =>
    JSON.stringify(batchBody(1, i + 1, batches, uploadRows(i * MAX_ROWS, Math.min(o.rows, (i + 1) * MAX_ROWS)), o.rows)),
  );
  log(`upload: ${o.businesses} businesses x ${o.rows.toLocaleString('en-US')} rows (${batches} batches each, 30% match)`);
  accounting.reset();
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    businesses.map(async (token, b) => {
      for (const body of bodies) await timed(latencies, () => postBatch(s, token, audiences[b]!, body));
    }),
  );
  const answered = performance.now();
  await Promise.all(businesses.map((token, b) => waitForDone(s, token, audiences[b]!, 1, { intervalMs: 100, timeoutMs: 600_000 })));
  const done = performance.now();
  await settle(s);
  const rows = o.rows * o.businesses;
  return {
    audiences,
    phase: {
      name: 'upload and matching',
      operations: rows,
      unit: 'row',
      wallMs: performance.now() - started,
      apiLatencies: { [`POST /v1/audiences/{id}/users (batches of up to ${n(MAX_ROWS)} rows)`]: latencies },
      settleMs: done - answered,
      settleWhat: 'last batch answered → every session done (matching over)',
      calls: accounting.reset(),
      model: uploadBill(rows, { ...ASSUMPTIONS, keysPerRow: 1, matchRate: 0.3, audienceUploadDays: 1 }),
      modelOperations: rows,
    },
  };
}

async function consentPhase(s: BenchStack, o: Options, accounting: Accounting, log: (l: string) => void): Promise<Phase> {
  const policy = await ensurePolicy(s);
  const denies = (u: number) => o.deny > 0 && u % Math.round(1 / o.deny) === 0;
  const deniedShare = Array.from({ length: o.decisions }, (_, u) => u).filter(denies).length / o.decisions;
  log(`consent: ${o.decisions} decisions (${Math.round(deniedShare * 100)}% deny ads_targeting) at ${o.concurrency} in flight`);
  const tokens = await mapLimit(
    Array.from({ length: o.decisions }, (_, u) => u),
    16,
    (u) => s.token('user', benchUserId(u)),
  );
  accounting.reset();
  const latencies: number[] = [];
  const started = performance.now();
  await mapLimit(
    Array.from({ length: o.decisions }, (_, u) => u),
    o.concurrency,
    async (u) => {
      // Users 0.. are in every audience (row 10k+p of each list is user 3k+p, p < 3): their denials leave them all.
      const ads = denies(u) ? 'denied' : 'granted';
      const res = await timed(latencies, () =>
        s.api('PUT', '/v1/me/consent', {
          token: tokens[u]!,
          body: { policyVersion: policy, purposes: { ads_targeting: ads, friend_suggestions: u % 2 === 0 ? 'granted' : 'denied' }, source: 'notification' },
        }),
      );
      if (res.status !== 200) throw new Error(`PUT /v1/me/consent answered ${res.status}: ${res.text.slice(0, 200)}`);
    },
  );
  const settleMs = await settle(s);
  return {
    name: 'consent decisions',
    operations: o.decisions,
    unit: 'decision',
    wallMs: performance.now() - started,
    apiLatencies: { 'PUT /v1/me/consent': latencies },
    settleMs,
    settleWhat: 'last answer → queues and streams idle (publisher and three consumers; includes a 0.75 s quiet period)',
    calls: accounting.reset(),
    model: consentDecisionBill({ ...ASSUMPTIONS, denyShare: deniedShare, keysPerUser: 1, audiencesPerDenyingUser: o.businesses, audienceUploadDays: 1 }),
    modelOperations: 1,
  };
}

async function messagesPhase(s: BenchStack, o: Options, accounting: Accounting, log: (l: string) => void): Promise<Phase> {
  // Recipients: seeded users (their phone numbers are bound) that publish a message key first.
  const recipients = await mapLimit(
    Array.from({ length: o.recipients }, (_, i) => o.users - 1 - i),
    8,
    async (u) => {
      const token = await s.token('user', benchUserId(u));
      const res = await s.api<{ keyId: string }>('PUT', '/v1/me/keys', { token, body: { publicKey: await publicKeyOf(await generateKeyPair()) } });
      if (res.status !== 200) throw new Error(`PUT /v1/me/keys answered ${res.status}: ${res.text}`);
      return { token, phone: userPhone(u), keyId: res.json.keyId };
    },
  );
  const businesses = await Promise.all(Array.from({ length: o.businesses }, (_, b) => s.token('business', `sim-business-${b}`)));
  log(`messages: ${o.messages} from ${o.businesses} businesses to ${o.recipients} recipients, fetched and acknowledged`);
  await settle(s);
  accounting.reset();
  const send: number[] = [];
  const list: number[] = [];
  const ack: number[] = [];
  const started = performance.now();
  const pairs = new Set<string>();
  await mapLimit(
    Array.from({ length: o.messages }, (_, m) => m),
    o.concurrency,
    async (m) => {
      const r = recipients[m % recipients.length]!;
      const b = Math.floor(m / recipients.length) % businesses.length;
      pairs.add(`${b}:${m % recipients.length}`);
      const res = await timed(send, () =>
        s.api('POST', '/v1/messages', {
          token: businesses[b]!,
          body: {
            to: r.phone,
            category: 'receipt',
            keyId: r.keyId,
            ciphertext: randomBytes(ASSUMPTIONS.ciphertextBytes).toString('base64'),
            clientMessageId: `sim-${m}`,
          },
        }),
      );
      if (res.status !== 202) throw new Error(`POST /v1/messages answered ${res.status}: ${res.text.slice(0, 200)}`);
    },
  );
  // Each recipient fetches its inbox and acknowledges what it got, a page at a time.
  await mapLimit(recipients, o.concurrency, async (r) => {
    for (;;) {
      const page = await timed(list, () => s.api<{ items: { messageId: string }[] }>('GET', '/v1/me/messages', { token: r.token }));
      if (page.status !== 200) throw new Error(`GET /v1/me/messages answered ${page.status}`);
      if (page.json.items.length === 0) return;
      const res = await timed(ack, () =>
        s.api('POST', '/v1/me/messages/ack', { token: r.token, body: { messageIds: page.json.items.map((i) => i.messageId) } }),
      );
      if (res.status !== 200) throw new Error(`POST /v1/me/messages/ack answered ${res.status}: ${res.text.slice(0, 200)}`);
    }
  });
  const settleMs = await settle(s);
  return {
    name: 'messages',
    operations: o.messages,
    unit: 'message',
    wallMs: performance.now() - started,
    apiLatencies: { 'POST /v1/messages': send, 'GET /v1/me/messages': list, 'POST /v1/me/messages/ack': ack },
    settleMs,
    settleWhat: 'last ack → messages stream idle (statuses delivered; includes a 0.75 s quiet period)',
    calls: accounting.reset(),
    model: messageBill({
      ...ASSUMPTIONS,
      newRecipientShare: Math.min(1, pairs.size / o.messages),
      messagesPerInboxFetch: o.messages / Math.max(1, ack.length),
    }),
    modelOperations: 1,
  };
}

// ------------------------------------------------------------------ report

const n = (v: number, digits = 0) => v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

function summarizePhase(p: Phase, capacityReported: boolean) {
  const calls = [...p.calls.entries()].sort((a, b) => b[1].calls - a[1].calls);
  const dynamo = calls.filter(([k]) => k.startsWith('dynamodb'));
  const total = (pick: (c: CallStats) => number, rows = dynamo) => rows.reduce((s, [, c]) => s + pick(c), 0);
  const per = (v: number) => v / p.operations;
  const modelWrite = quantityOf(p.model, 'dynamoWriteUnit') / p.modelOperations;
  const modelRead = quantityOf(p.model, 'dynamoReadUnit') / p.modelOperations;
  const measuredWrite = per(total((c) => c.writeUnits));
  const measuredRead = per(total((c) => c.readUnits));
  return {
    phase: p.name,
    operations: p.operations,
    unit: p.unit,
    wallSeconds: p.wallMs / 1000,
    throughputPerSecond: p.operations / (p.wallMs / 1000),
    api: Object.fromEntries(
      Object.entries(p.apiLatencies).map(([route, l]) => [
        route,
        { requests: l.length, p50: percentile(l, 50), p95: percentile(l, 95), p99: percentile(l, 99), max: Math.max(...l) },
      ]),
    ),
    settleSeconds: p.settleMs / 1000,
    settleWhat: p.settleWhat,
    dynamoCallsPerOperation: per(total((c) => c.calls)),
    dynamoMsPerOperation: per(total((c) => c.ms)),
    capacityPerOperation: capacityReported ? { write: measuredWrite, read: measuredRead } : undefined,
    modelPerOperation: { write: modelWrite, read: modelRead },
    dynamoCostPerMillion: capacityReported
      ? {
          measured: (measuredWrite * PRICES.dynamoWriteUnit + measuredRead * PRICES.dynamoReadUnit) * 1e6,
          model: (modelWrite * PRICES.dynamoWriteUnit + modelRead * PRICES.dynamoReadUnit) * 1e6,
        }
      : undefined,
    modelCostPerMillion: (costOf(p.model) / p.modelOperations) * 1e6,
    calls: calls
      .slice(0, 14)
      .map(([k, c]) => ({ call: k, perOperation: per(c.calls), msEach: c.ms / c.calls, writeUnits: per(c.writeUnits), readUnits: per(c.readUnits) })),
    messaging: calls.filter(([k]) => !k.startsWith('dynamodb')).map(([k, c]) => ({ call: k, perOperation: per(c.calls), kbEach: c.bytes / c.calls / 1024 })),
  };
}

function render(
  summaries: ReturnType<typeof summarizePhase>[],
  o: Options,
  machine: { load: number[]; cpus: number; startupSeconds: number; seedSeconds: number },
): string {
  const out: string[] = [];
  out.push(
    `Scale simulation: ${o.businesses} businesses x ${n(o.rows)} rows, ${n(o.decisions)} consent decisions (${Math.round(o.deny * 100)}% deny), ${n(o.messages)} messages to ${o.recipients} recipients, ${o.concurrency} requests in flight`,
  );
  out.push(
    `machine: ${machine.cpus} cores, load average ${machine.load.map((l) => l.toFixed(2)).join(' ')} (1/5/15 min, at the end); stack started in ${machine.startupSeconds.toFixed(1)} s, ${n(o.users)} users seeded in ${machine.seedSeconds.toFixed(1)} s`,
  );
  for (const s of summaries) {
    out.push('');
    out.push(`## ${s.phase}: ${n(s.operations)} ${s.unit}s in ${s.wallSeconds.toFixed(1)} s (${n(s.throughputPerSecond, 1)}/s end to end)`);
    for (const [route, l] of Object.entries(s.api)) {
      out.push(`  ${route}: ${l.requests} requests, p50 ${n(l.p50)} ms, p95 ${n(l.p95)} ms, p99 ${n(l.p99)} ms, max ${n(l.max)} ms`);
    }
    out.push(`  settled: ${s.settleSeconds.toFixed(2)} s (${s.settleWhat})`);
    out.push(`  DynamoDB: ${s.dynamoCallsPerOperation.toFixed(2)} calls and ${s.dynamoMsPerOperation.toFixed(1)} ms of calls per ${s.unit}`);
    if (s.capacityPerOperation) {
      out.push(
        `  capacity per ${s.unit}: measured ${s.capacityPerOperation.write.toFixed(2)} WCU + ${s.capacityPerOperation.read.toFixed(2)} RCU; model ${s.modelPerOperation.write.toFixed(2)} WCU + ${s.modelPerOperation.read.toFixed(2)} RCU`,
      );
      out.push(
        `  DynamoDB cost per million ${s.unit}s: measured $${s.dynamoCostPerMillion!.measured.toFixed(2)}, model $${s.dynamoCostPerMillion!.model.toFixed(2)}`,
      );
    } else {
      out.push(
        `  capacity: not reported by the emulator; model ${s.modelPerOperation.write.toFixed(2)} WCU + ${s.modelPerOperation.read.toFixed(2)} RCU per ${s.unit}`,
      );
    }
    out.push(`  model, everything: $${s.modelCostPerMillion.toFixed(2)} per million ${s.unit}s (this phase's mix)`);
    out.push(
      `  calls per ${s.unit} (top): ${s.calls.map((c) => `${c.call} ${c.perOperation.toFixed(3)} (${c.msEach.toFixed(1)} ms, ${c.writeUnits.toFixed(2)} W ${c.readUnits.toFixed(2)} R)`).join('; ')}`,
    );
    if (s.messaging.length > 0)
      out.push(`  SQS/SNS per ${s.unit}: ${s.messaging.map((c) => `${c.call} ${c.perOperation.toFixed(3)} (${c.kbEach.toFixed(1)} KB)`).join('; ')}`);
  }
  out.push('');
  out.push(`## Extrapolation with the scale model (prices of ${PRICES_DATE}, us-east-1)`);
  for (const c of costsPerMillion()) out.push(`  ${c.per}: $${c.usd.toFixed(2)}`);
  for (const h of hotKeys()) out.push(`  hot key ${h.table} ${h.key}: ${n(h.perSecond)} ${h.unit}/s against ${n(h.limit)} (${h.note})`);
  for (const st of stages()) out.push(`  ${st.stage}: ${n(st.perSecond)}/s, ~${n(st.concurrency)} concurrent (${st.note})`);
  return out.join('\n');
}

const usd = (v: number) => (v >= 0.01 || v === 0 ? `$${v.toFixed(2)}` : `$${v.toFixed(4)}`);

/** The model's tables in markdown: costs per million by service, each bill line by line, hot keys, stages. */
function renderModel(): string {
  const out: string[] = [`Prices of ${PRICES_DATE}, us-east-1.`, ''];
  const units = [
    'apiRequest',
    'lambdaRequest',
    'lambdaGbSecond',
    'dynamoWriteUnit',
    'dynamoReadUnit',
    'sqsRequest',
    'snsPublish',
    'kmsAsymmetricRequest',
  ] as const;
  const heads = ['API Gateway', 'Lambda requests', 'Lambda GB-s', 'DynamoDB writes', 'DynamoDB reads', 'SQS', 'SNS', 'KMS'];
  out.push(`| per | ${heads.join(' | ')} | total |`, `|---|${heads.map(() => '---:').join('|')}|---:|`);
  for (const c of costsPerMillion()) out.push(`| ${c.per} | ${units.map((u) => usd(c.byUnit[u])).join(' | ')} | **${usd(c.usd)}** |`);
  const bills: [Bill, number, string][] = [
    [consentDecisionBill(), 1e6, 'a million decisions'],
    [uploadBill(1e6), 1, 'a million uploaded rows'],
    [messageBill(), 1e6, 'a million messages'],
  ];
  for (const [bill, times, per] of bills) {
    out.push('', `**${bill.operation}**, per ${bill.per}:`, '', `| what | unit | quantity | USD for ${per} |`, '|---|---|---:|---:|');
    for (const line of bill.lines)
      out.push(`| ${line.what} | ${line.unit} | ${n(line.quantity, line.quantity < 10 ? 3 : 0)} | ${usd(line.quantity * PRICES[line.unit] * times)} |`);
    out.push(`| **total** | | | **${usd(costOf(bill) * times)}** |`);
  }
  out.push('', '| table | key | load | per second | limit |', '|---|---|---|---:|---:|');
  for (const h of hotKeys()) out.push(`| ${h.table} | \`${h.key}\` | ${h.load} | ${n(h.perSecond)} ${h.unit} | ${n(h.limit)} ${h.unit} |`);
  out.push('', '| stage | per second | concurrent invocations | note |', '|---|---:|---:|---|');
  for (const st of stages()) out.push(`| ${st.stage} | ${n(st.perSecond)} | ${n(st.concurrency)} | ${st.note} |`);
  return out.join('\n');
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  if (o.model) {
    process.stdout.write(`${renderModel()}\n`);
    return;
  }
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const startedAt = performance.now();
  const s = await startBenchStack();
  const startupSeconds = (performance.now() - startedAt) / 1000;
  try {
    const accounting = new Accounting();
    await instrument(s, accounting);
    const ctx: BenchContext = {
      only: [],
      runs: 1,
      quick: false,
      out: '',
      synth: false,
      loadSeconds: 0,
      connections: o.concurrency,
      stack: async () => s,
      log,
      tmpDir: '',
      shared: new Map(),
    };
    const seeded = await ensureUsers(ctx, s, o.users);
    await settle(s);
    const { phase: upload } = await uploadPhase(s, o, accounting, log);
    const consent = await consentPhase(s, o, accounting, log);
    const messages = await messagesPhase(s, o, accounting, log);
    const dead = await s.deadLetters();
    const summaries = [upload, consent, messages].map((p) => summarizePhase(p, accounting.capacityReported));
    const machine = { load: loadavg(), cpus: cpus().length, startupSeconds, seedSeconds: seeded.seedMs / 1000 };
    if (o.json)
      process.stdout.write(`${JSON.stringify({ options: o, machine, phases: summaries, deadLetters: dead, warnings: s.warnings.slice(-20) }, null, 2)}\n`);
    else process.stdout.write(`${render(summaries, o, machine)}\n`);
    if (dead > 0) log(`WARNING: ${dead} messages in dead-letter queues`);
    if (seeded.shapeDifferences.length > 0) log(`WARNING: seeded items differ from the service's: ${seeded.shapeDifferences.join('; ')}`);
  } finally {
    await s.close();
  }
}

runToExit(main);
