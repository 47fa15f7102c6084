/**
 * 2. The matching core in process, store faked, beside a bare HMAC loop.
 * The work happens in bench/children/matching-core.ts, in a fresh process:
 * it patches the SDK client of the adapters, which must never happen in the
 * process that hosts the local stack.
 */
import type { BenchContext } from '../lib/context';
import { childEnv, lastJson, profileArgs, runNode } from '../lib/proc';
import type { Figure } from '../lib/report';
import { median } from '../lib/stats';

interface CoreOutput {
  coreRowsPerSecond: number[];
  bareRowsPerSecond: number[];
  coreWithStoreRowsPerSecond: number[];
  stageMsPerRun: Record<string, number>;
  matchedPerRun: number;
  lookupCallsPerRun: number;
  rows: number;
}

export async function matchingCore(ctx: BenchContext) {
  const batches = ctx.quick ? 2 : 10;
  const rowsPerBatch = 10_000;
  const result = await runNode(
    [...profileArgs(ctx.profileDir), '--import', 'tsx', 'bench/children/matching-core.ts', JSON.stringify({ batches, rowsPerBatch, runs: ctx.runs })],
    {
      env: childEnv(),
      timeoutMs: 300_000,
    },
  );
  const out = lastJson<CoreOutput>(result, 'the matching-core child');
  const figures: Figure[] = [
    {
      id: 'core.rowsPerSecond',
      label: 'Matching core in process (store faked)',
      unit: 'rows/s',
      runs: out.coreRowsPerSecond,
      limit: { label: 'bare HMAC-SHA256 loop', runs: out.bareRowsPerSecond },
      target: { kind: 'ratio-at-least', value: 0.8 },
    },
  ];
  return {
    figures,
    notes: [
      `${batches} batches x ${rowsPerBatch.toLocaleString('en-US')} rows (schema PHONE_SHA256, 30% in the faked match index), all of them a run; core and bare loop alternate batch by batch (order alternating too) after a warm-up pass, so load from elsewhere hits both alike.`,
      "Core = JSON.parse + the route's zod schema + keyBatch (keys written into chunks) + base64/batchDigest + chunk message through JSON and ChunkMessage + decodeKeys + lookup() (dedupe, 100-key BatchGetItem calls, 8 in flight) with DynamoDB faked by a Map. The fake's own time (`store`, measured inside it, part of `lookup`) stands in for DynamoDB and is left out of the figure.",
      `With the fake's time counted as well: median ${Math.round(median(out.coreWithStoreRowsPerSecond)).toLocaleString('en-US')} rows/s (${(median(out.coreWithStoreRowsPerSecond) / median(out.bareRowsPerSecond)).toFixed(2)} of the bare loop).`,
      `Time per run by stage (ms): ${Object.entries(out.stageMsPerRun)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}.`,
    ],
    details: out,
  };
}
