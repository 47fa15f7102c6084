/**
 * Benchmark 2, in a process of its own: the matching core with the store
 * faked, beside a bare HMAC-SHA256 loop over the same rows.
 *
 * The core is the service's own code, end to end for one upload:
 *   upload side   JSON.parse of the request body, the route's zod schema
 *                 (contract addAudienceUsers.body), keyBatch (validation,
 *                 HMAC keying into chunks), base64, batchDigest;
 *   matcher side  the chunk message through JSON and its zod schema,
 *                 decodeKeys, and `lookup` from adapters/match-index
 *                 (dedupe, 100-key BatchGetItem calls, 8 in flight) against
 *                 a faked DynamoDB client answering from a Map.
 * The bare loop: createHmac('sha256', pepper).update('PHONE:' + cell).digest()
 * for every cell. Both run over the same rows, interleaved, in alternating order.
 * The fake's own time is measured inside it (stage `store`, part of
 * `lookup`) and left out of the core's time: it stands in for DynamoDB.
 *
 * argv[2]: JSON { batches, rowsPerBatch, runs }. Prints one JSON document.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';

interface Options {
  batches: number;
  rowsPerBatch: number;
  runs: number;
}

type Stages = { parse: number; validate: number; key: number; chunk: number; message: number; decode: number; lookup: number; store: number };
const newStages = (): Stages => ({ parse: 0, validate: 0, key: 0, chunk: 0, message: 0, decode: 0, lookup: 0, store: 0 });

async function main() {
  const options = JSON.parse(process.argv[2] ?? '{}') as Options;
  // Module-level configuration of the adapters: dummy names, no endpoint is ever called.
  process.env.MATCH_INDEX_TABLE = 'bench-match-index';
  process.env.AWS_REGION = 'us-east-1';
  process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
  const pepperText = randomBytes(32).toString('hex');
  process.env.LOCAL_PEPPER = pepperText;
  const pepper = Buffer.from(pepperText, 'utf8');

  const { uploadBatches, batchBody, rowOwner, benchUserId } = await import('../lib/fixtures');
  const core = await import('../../functions/core/audiences');
  const { addAudienceUsers } = await import('../../functions/contract/audiences');
  const { matchKey } = await import('../../functions/core/identifiers');
  const { ddb } = await import('../../functions/shared/aws');
  const { indexKey, lookup } = await import('../../functions/tables/match-index');

  const batches = uploadBatches(options.batches, options.rowsPerBatch);
  const totalRows = options.batches * options.rowsPerBatch;
  const bodies = batches.map((rows, b) => JSON.stringify(batchBody(1, b + 1, batches.length, rows, totalRows)));

  // The faked store: the match index holds the consenting users' keys.
  const index = new Map<string, string>();
  batches.forEach((rows, b) =>
    rows.forEach((row, r) => {
      const owner = rowOwner(b * options.rowsPerBatch + r);
      if (owner.user) index.set(indexKey(matchKey(pepper, 'PHONE', row[0]!)).pk, benchUserId(owner.index));
    }),
  );
  const stages = newStages();
  let calls = 0;
  (ddb as unknown as { send: (command: { input: unknown }) => Promise<unknown> }).send = async (command) => {
    const started = performance.now();
    calls += 1;
    const requestItems = (command.input as { RequestItems: Record<string, { Keys: { pk: string }[] }> }).RequestItems;
    const [table, request] = Object.entries(requestItems)[0]!;
    const items: { pk: string; userId: string; consentVersion: number }[] = [];
    for (const { pk } of request.Keys) {
      const userId = index.get(pk);
      if (userId !== undefined) items.push({ pk, userId, consentVersion: 1 });
    }
    stages.store += performance.now() - started;
    return { Responses: { [table]: items }, UnprocessedKeys: {} };
  };

  let matched = 0;
  /** One batch through the core; returns its time in ms, the fake store's own time left out (it stands in for DynamoDB). */
  const runCore = async (b: number): Promise<number> => {
    const started = performance.now();
    const storeBefore = stages.store;
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
    const keyed = core.keyBatch(pepper, body.schema, body.data);
    lap('key');
    const chunks = keyed.chunks.map((chunk) => chunk.toString('base64'));
    const digest = core.batchDigest(keyed.chunks);
    lap('chunk');
    const messages = chunks.map((rows, chunk) =>
      JSON.stringify({
        v: 1,
        operation: 'add',
        businessId: 'b',
        audienceId: `aud-${'0'.repeat(32)}`,
        sessionId: 1,
        batchSeq: 1,
        chunk,
        chunks: chunks.length,
        batchDigest: digest,
        sentAtMs: 0,
        rows,
      }),
    );
    lap('message');
    for (const m of messages) {
      const message = core.ChunkMessage.parse(JSON.parse(m));
      const { keys } = core.decodeKeys(message.rows);
      lap('decode');
      const found = await lookup(keys);
      matched += new Set(Array.from(found.values(), (entry) => entry.userId)).size;
      lap('lookup');
    }
    return performance.now() - started - (stages.store - storeBefore);
  };

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
    await runCore(b);
    runBare(b);
  }
  Object.assign(stages, newStages());
  matched = 0;
  calls = 0;

  // A run is every batch once through each side. The sides alternate batch
  // by batch (and their order alternates), so a burst of load from something
  // else on the machine hits both alike and the ratio stays meaningful.
  const coreRuns: number[] = [];
  const bareRuns: number[] = [];
  const rate = (ms: number) => totalRows / (ms / 1000);
  const withStore: number[] = [];
  for (let i = 0; i < options.runs; i++) {
    let coreMs = 0;
    let bareMs = 0;
    const storeBefore = stages.store;
    for (let b = 0; b < bodies.length; b++) {
      if ((i + b) % 2 === 0) {
        coreMs += await runCore(b);
        bareMs += runBare(b);
      } else {
        bareMs += runBare(b);
        coreMs += await runCore(b);
      }
    }
    coreRuns.push(rate(coreMs));
    withStore.push(rate(coreMs + stages.store - storeBefore));
    bareRuns.push(rate(bareMs));
  }
  const stageMsPerRun = Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, Math.round((v / options.runs) * 10) / 10]));
  process.stdout.write(
    `${JSON.stringify({
      coreRowsPerSecond: coreRuns,
      bareRowsPerSecond: bareRuns,
      coreWithStoreRowsPerSecond: withStore,
      stageMsPerRun,
      matchedPerRun: matched / options.runs,
      lookupCallsPerRun: calls / options.runs,
      rows: totalRows,
      sink,
    })}\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
