/**
 * Benchmark 2, in a process of its own: the matching core with the store
 * faked, beside a bare HMAC-SHA256 loop over the same rows.
 *
 * The core is the service's own code, end to end for one upload:
 *   upload side   JSON.parse of the request body, the route's zod schema
 *                 (contract addAudienceUsers.body), keyBatch (validation and
 *                 HMAC keying), chunkRows + encodeRows, batchDigest;
 *   matcher side  the chunk message through JSON and its zod schema,
 *                 decodeRows, rowKeys, and `lookup` from adapters/match-index
 *                 (dedupe, grouping into 100-key BatchGetItem calls) against
 *                 a faked DynamoDB client answering from a Map.
 * The bare loop: createHmac('sha256', pepper).update('PHONE:' + cell).digest()
 * for every cell. Both run over the same rows, interleaved, in alternating order.
 *
 * With `proposed`, the same pipeline also runs with the fix proposed in
 * bench/children/proposed-core.ts (keying without the hex round trip, keys
 * decoded straight from the chunk), checked to give the same keys.
 *
 * argv[2]: JSON { batches, rowsPerBatch, runs, proposed }. Prints one JSON document.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';

interface Options {
  batches: number;
  rowsPerBatch: number;
  runs: number;
  /** Also run the proposed fix (bench/children/proposed-core.ts). */
  proposed?: boolean;
}

type Stages = { parse: number; validate: number; key: number; chunk: number; message: number; decode: number; lookup: number };
const newStages = (): Stages => ({ parse: 0, validate: 0, key: 0, chunk: 0, message: 0, decode: 0, lookup: 0 });

async function main() {
  const options = JSON.parse(process.argv[2] ?? '{}') as Options;
  // Module-level configuration of the adapters: dummy names, no endpoint is ever called.
  process.env.MATCH_INDEX_TABLE = 'bench-match-index';
  process.env.AWS_REGION = 'us-east-1';
  process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
  const pepperText = randomBytes(32).toString('hex');
  process.env.LOCAL_PEPPER = pepperText;
  const pepper = Buffer.from(pepperText, 'utf8');

  const { uploadBatches, batchBody, rowOwner } = await import('../lib/fixtures');
  const core = await import('../../functions/core/audiences');
  const { addAudienceUsers } = await import('../../functions/contract/audiences');
  const { ddb } = await import('../../functions/shared/aws');
  const { lookup } = await import('../../functions/adapters/match-index');
  const proposed = await import('./proposed-core');

  const batches = uploadBatches(options.batches, options.rowsPerBatch);
  const totalRows = options.batches * options.rowsPerBatch;
  const bodies = batches.map((rows, b) => JSON.stringify(batchBody(1, b + 1, batches.length, rows, totalRows)));

  // The faked store: the match index holds the consenting users' keys.
  const index = new Map<string, string>();
  batches.forEach((rows, b) =>
    rows.forEach((row, r) => {
      const owner = rowOwner(b * options.rowsPerBatch + r);
      if (owner.user) index.set(`k#${core.rowKeys(core.keyBatch(pepper, ['PHONE_SHA256'], [row]).rows[0]!)[0]}`, `bench-u-${owner.index}`);
    }),
  );
  let calls = 0;
  (ddb as unknown as { send: (command: { input: unknown }) => Promise<unknown> }).send = async (command) => {
    calls += 1;
    const requestItems = (command.input as { RequestItems: Record<string, { Keys: { pk: string }[] }> }).RequestItems;
    const [table, request] = Object.entries(requestItems)[0]!;
    const items = request.Keys.flatMap((k) => {
      const userId = index.get(k.pk);
      return userId ? [{ pk: k.pk, userId }] : [];
    });
    return { Responses: { [table]: items }, UnprocessedKeys: {} };
  };

  interface Impl {
    keyBatch: typeof core.keyBatch;
    keysOf: (encodedRows: string) => string[];
    stages: Stages;
  }
  const current: Impl = { keyBatch: core.keyBatch, keysOf: (rows) => core.decodeRows(rows).flatMap(core.rowKeys), stages: newStages() };
  const fixed: Impl = { keyBatch: proposed.keyBatchDirect, keysOf: proposed.decodeKeys, stages: newStages() };
  let matched = 0;
  /** One batch through the core; returns its time in ms. */
  const runCore = async (impl: Impl, b: number): Promise<number> => {
    const { stages } = impl;
    const started = performance.now();
    const text = bodies[b]!;
    let t = performance.now();
    const lap = (stage: keyof Stages) => {
      const now = performance.now();
      stages[stage] += now - t;
      t = now;
    };
    const parsed: unknown = JSON.parse(text);
    lap('parse');
    const body = addAudienceUsers.body.parse(parsed);
    lap('validate');
    const keyed = impl.keyBatch(pepper, body.schema, body.data);
    lap('key');
    const chunks = core.chunkRows(keyed.rows).map(core.encodeRows);
    const digest = core.batchDigest(chunks);
    lap('chunk');
    const messages = chunks.map((rows, chunk) =>
      JSON.stringify({ v: 1, operation: 'add', businessId: 'b', audienceId: `aud-${'0'.repeat(32)}`, sessionId: 1, batchSeq: 1, chunk, chunks: chunks.length, batchDigest: digest, sentAtMs: 0, rows }),
    );
    lap('message');
    for (const m of messages) {
      const message = core.ChunkMessage.parse(JSON.parse(m));
      const keys = impl.keysOf(message.rows);
      lap('decode');
      const found = await lookup(keys);
      matched += new Set(found.values()).size;
      lap('lookup');
    }
    return performance.now() - started;
  };

  // The proposed fix must give exactly the keys the current code gives.
  if (options.proposed) {
    const body = addAudienceUsers.body.parse(JSON.parse(bodies[0]!));
    const a = core.chunkRows(core.keyBatch(pepper, body.schema, body.data).rows).map(core.encodeRows);
    const b = core.chunkRows(proposed.keyBatchDirect(pepper, body.schema, body.data).rows).map(core.encodeRows);
    if (a.join() !== b.join()) throw new Error('keyBatchDirect differs from keyBatch');
    if (a.map((c) => core.decodeRows(c).flatMap(core.rowKeys).join()).join() !== a.map((c) => proposed.decodeKeys(c).join()).join()) {
      throw new Error('decodeKeys differs from decodeRows + rowKeys');
    }
  }

  const cellsOf = batches.map((rows) => rows.flat());
  let sink = 0;
  /** The bare loop over one batch's cells; returns its time in ms. */
  const runBare = (b: number): number => {
    const started = performance.now();
    for (const cell of cellsOf[b]!) sink ^= createHmac('sha256', pepper).update(`PHONE:${cell}`).digest()[0]!;
    return performance.now() - started;
  };

  // Warm up (JIT, zod's compiled checks), then reset the counters.
  for (let b = 0; b < bodies.length; b++) {
    await runCore(current, b);
    if (options.proposed) await runCore(fixed, b);
    runBare(b);
  }
  current.stages = newStages();
  fixed.stages = newStages();
  matched = 0;
  calls = 0;

  // A run is every batch once through each side. The sides alternate batch
  // by batch (and their order alternates), so a burst of load from something
  // else on the machine hits both alike and the ratio stays meaningful.
  const coreRuns: number[] = [];
  const fixedRuns: number[] = [];
  const bareRuns: number[] = [];
  const rate = (ms: number) => totalRows / (ms / 1000);
  for (let i = 0; i < options.runs; i++) {
    let coreMs = 0;
    let fixedMs = 0;
    let bareMs = 0;
    for (let b = 0; b < bodies.length; b++) {
      const steps: (() => Promise<void>)[] = [
        async () => void (coreMs += await runCore(current, b)),
        async () => void (bareMs += runBare(b)),
        ...(options.proposed ? [async () => void (fixedMs += await runCore(fixed, b))] : []),
      ];
      for (const step of (i + b) % 2 === 0 ? steps : [...steps].reverse()) await step();
    }
    coreRuns.push(rate(coreMs));
    bareRuns.push(rate(bareMs));
    if (options.proposed) fixedRuns.push(rate(fixedMs));
  }
  const perRun = (stages: Stages) => Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, Math.round((v / options.runs) * 10) / 10]));
  const perRunMs = perRun(current.stages);
  const variants = options.proposed ? 2 : 1;
  process.stdout.write(
    `${JSON.stringify({
      coreRowsPerSecond: coreRuns,
      bareRowsPerSecond: bareRuns,
      stageMsPerRun: perRunMs,
      ...(options.proposed ? { proposedRowsPerSecond: fixedRuns, proposedStageMsPerRun: perRun(fixed.stages) } : {}),
      matchedPerRun: matched / options.runs / variants,
      lookupCallsPerRun: calls / options.runs / variants,
      rows: totalRows,
      sink,
    })}\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
