/**
 * Where the consent consumers' time goes under the consent load: runs the
 * consent benchmark's load once (same users, same generator, 32 connections)
 * on a local stack in this process, and counts, per function, the DynamoDB
 * calls and their time, the invocations (batches, records) and their time,
 * and the pollers' receive and delete calls, until every queue is empty again.
 *
 *   npx tsx bench/tools/consumer-profile.ts [--seconds 20] [--connections 32]
 *
 * Prints a table on stdout. Not a benchmark: instrumenting costs a little.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { consentRequests, consentUsers, load, USERS_PER_CONNECTION } from '../benchmarks/consent-load';
import type { BenchContext } from '../lib/context';
import { runToExit } from '../lib/proc';
import { ensurePolicy, startBenchStack } from '../lib/stack';

interface Tally {
  calls: number;
  ms: number;
  items: number;
}
const tallies = new Map<string, Tally>();
function count(key: string, ms: number, items = 0) {
  const t = tallies.get(key) ?? { calls: 0, ms: 0, items: 0 };
  t.calls += 1;
  t.ms += ms;
  t.items += items;
  tallies.set(key, t);
}

async function main() {
  const argv = process.argv.slice(2);
  const arg = (name: string, fallback: number) => {
    const i = argv.indexOf(name);
    return i >= 0 ? Number(argv[i + 1]) : fallback;
  };
  const seconds = arg('--seconds', 20);
  const connections = arg('--connections', 32);

  const s = await startBenchStack();
  const { runningFunction } = await import('../../local/bindings');
  const { ddb } = await import('../../functions/shared/aws');
  const { QueuePoller } = await import('../../local/queue-poller');
  ddb.middlewareStack.add(
    (next, context) => async (args) => {
      const started = performance.now();
      try {
        return await next(args);
      } finally {
        count(`${runningFunction() ?? '(outside)'} ddb ${context.commandName}`, performance.now() - started);
      }
    },
    { step: 'initialize', name: 'profileCalls' },
  );
  const nameOf = (self: unknown) => (self as { options: { fn: { name: string } } }).options.fn.name;
  const { sns } = await import('../../functions/shared/sns');
  sns.middlewareStack.add(
    (next, context) => async (args) => {
      const started = performance.now();
      try {
        return await next(args);
      } finally {
        count(`${runningFunction() ?? '(outside)'} sns ${context.commandName}`, performance.now() - started);
      }
    },
    { step: 'initialize', name: 'profileCalls' },
  );
  const { StreamPoller } = await import('../../local/stream-poller');
  const streamProto = StreamPoller.prototype as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  const processBatch = streamProto.processBatch!;
  streamProto.processBatch = async function (this: unknown, ...a: unknown[]) {
    const started = performance.now();
    const out = await processBatch.apply(this, a);
    count(`${nameOf(this)} stream poller processBatch`, performance.now() - started, (a[1] as unknown[]).length);
    return out;
  };
  // How long messages waited in each queue before their batch was handed to the function.
  const waits = new Map<string, number[]>();
  // The pollers' private steps, timed from outside.
  const proto = QueuePoller.prototype as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  for (const step of ['receiveBatch', 'handle', 'delete'] as const) {
    const original = proto[step]!;
    proto[step] = async function (this: unknown, ...a: unknown[]) {
      const started = performance.now();
      if (step === 'handle') {
        const list = waits.get(nameOf(this)) ?? [];
        for (const m of a[0] as { Attributes?: Record<string, string> }[]) list.push(Date.now() - Number(m.Attributes?.SentTimestamp ?? Date.now()));
        waits.set(nameOf(this), list);
      }
      const out = await original.apply(this, a);
      const items = step === 'receiveBatch' ? (out as unknown[]).length : step === 'handle' ? (a[0] as unknown[]).length : (a[0] as unknown[]).length;
      if (step !== 'receiveBatch' || items > 0) count(`${nameOf(this)} poller ${step}`, performance.now() - started, items);
      return out;
    };
  }

  const policyVersion = await ensurePolicy(s);
  const users = await consentUsers(s, connections * USERS_PER_CONNECTION);
  await s.drain();
  tallies.clear();
  waits.clear();
  const ctx = { tmpDir: mkdtempSync(join(tmpdir(), 'consumer-profile-')), log: (l: string) => process.stderr.write(`${l}\n`) } as unknown as BenchContext;
  const before = loadavg()[0]!;
  const started = performance.now();
  const out = await load(
    ctx,
    {
      url: s.url,
      connections,
      durationSeconds: seconds,
      warmupSeconds: 0,
      perConnection: consentRequests(users, connections, USERS_PER_CONNECTION, policyVersion),
    },
    'PUT /v1/me/consent',
  );
  const loadEnded = performance.now();
  const drained = await s.drain(300_000);
  const total = performance.now() - started;
  process.stdout.write(
    `load ${seconds} s at ${out.requestsPerSecond.toFixed(0)} req/s (${out.total} decisions); consumers caught up ${((performance.now() - loadEnded) / 1000).toFixed(1)} s after it ` +
      `(${drained.drained ? 'drained' : `${drained.left} left`}); load average ${before.toFixed(2)} -> ${loadavg()[0]!.toFixed(2)}\n\n`,
  );
  const rows = [...tallies.entries()].sort(([a], [b]) => a.localeCompare(b));
  process.stdout.write(
    `${'what'.padEnd(58)} ${'calls'.padStart(7)} ${'items'.padStart(7)} ${'ms total'.padStart(9)} ${'ms/call'.padStart(8)} ${'% wall'.padStart(7)}\n`,
  );
  for (const [key, t] of rows) {
    process.stdout.write(
      `${key.padEnd(58)} ${String(t.calls).padStart(7)} ${String(t.items || '').padStart(7)} ${t.ms.toFixed(0).padStart(9)} ${(t.ms / t.calls).toFixed(2).padStart(8)} ${((100 * t.ms) / total).toFixed(0).padStart(7)}\n`,
    );
  }
  process.stdout.write('\nqueue wait before the batch was handed over (ms):\n');
  for (const [name, list] of waits) {
    const sorted = [...list].sort((x, y) => x - y);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
    process.stdout.write(`${name.padEnd(24)} n ${sorted.length}, p50 ${at(0.5)}, p90 ${at(0.9)}, p99 ${at(0.99)}, max ${sorted[sorted.length - 1] ?? 0}\n`);
  }
  await s.close();
}

runToExit(main);
