/**
 * 1. Matching end to end: a 100,000-row upload (10 batches of 10,000 rows,
 * schema PHONE_SHA256, 30% consenting users) from the first request to the
 * session's `done`, in rows a second, beside the raw DynamoDB Local ceiling
 * measured in the same run.
 *
 * - Users: seeded straight into the stack's tables (bench/lib/seed.ts), keyed
 *   with the stack's pepper by the service's own matchKey; checked against
 *   users made through the API.
 * - Upload: the batches are sent one after another, as the CLI sends them,
 *   each body prepared before the clock starts; the session is polled every
 *   50 ms until `done`. Afterwards the audience's membership items are
 *   counted: they must be exactly the consenting users among the rows.
 * - Ceiling: the same volume straight through the SDK: BatchGetItem lookups of
 *   every row's match key in the match index (100 keys a call, as many calls
 *   in flight as the matcher can have for one audience: one invocation at a
 *   time (FIFO, grouped by audience) of up to 10 chunks x 8 calls a chunk)
 *   plus BatchWriteItem puts of one membership item (as the matcher writes
 *   them) per consenting user into a scratch table shaped like the memberships
 *   table, GSI included (25 a call, 8 in flight as tables/batch.ts does).
 *   Ceiling rows/s = rows / (lookup time + write time).
 * - Second limit, informational: the ceiling plus the reads the matcher
 *   needs besides, timed apart: a consistent BatchGetItem of the candidates'
 *   memberships before the write (exact counts) and of their consent states
 *   after it (the re-check).
 * - The two alternate which goes first; the stack's queues are drained before
 *   each run; one uncounted warm-up batch of each comes first.
 */
import { functions } from '../../catalog';
import { PARALLEL } from '../../functions/tables/batch';
import { indexKey } from '../../functions/tables/match-index';
import { stateKey } from '../../functions/tables/consent-states';
import { membershipItem, membershipKey } from '../../functions/tables/memberships';
import { matchKey } from '../../functions/core/identifiers';
import { countMemberships, createAudience, postBatch, waitForDone } from '../lib/audiences';
import type { BenchContext } from '../lib/context';
import { batchBody, benchUserId, rowOwner, uploadBatches, usersIn } from '../lib/fixtures';
import { rawBatchGet, rawBatchPut, scratchTableLike } from '../lib/raw';
import type { Figure } from '../lib/report';
import { ensureUsers, stackPepper } from '../lib/seed';
import { median } from '../lib/stats';
import type { BenchStack } from '../lib/stack';

/** Chunks of one audience the matcher has at once: one invocation's batch (the queue is FIFO, grouped by audience). */
const MATCHER_CHUNKS = (functions.matchAudienceBatch.trigger as { batchSize: number }).batchSize;
/** BatchGetItem calls the matcher can have in flight: each chunk looks up PARALLEL calls at a time (tables/batch.ts). */
export const LOOKUP_CONCURRENCY = MATCHER_CHUNKS * PARALLEL;
/** BatchWriteItem calls in flight for one chunk (chunks of one audience hold its lease in turn). */
export const WRITE_CONCURRENCY = PARALLEL;

interface Run {
  rowsPerSecond: number;
  totalMs: number;
  uploadMs: number;
  memberships: number;
  ceilingRowsPerSecond: number;
  lookupMs: number;
  writeMs: number;
  /** The reads the matcher needs besides: candidates' memberships before the write, their consent after it. */
  checkMs: number;
  fullCeilingRowsPerSecond: number;
  found: number;
}

async function ceiling(
  s: BenchStack,
  keys: string[],
  users: string[],
  run: number,
): Promise<{ lookupMs: number; writeMs: number; checkMs: number; found: number }> {
  const matchIndex = s.stack.resources.tables.matchIndex!.name;
  const consentStates = s.stack.resources.tables.consentStates!.name;
  const scratch = await scratchTableLike(s, 'audienceMemberships', 'bench-ceiling-memberships');
  const audienceId = `aud-ceiling-${run}-${Date.now()}`;
  const t0 = performance.now();
  const found = await rawBatchGet(
    s,
    matchIndex,
    keys.map((k) => indexKey(k)),
    LOOKUP_CONCURRENCY,
  );
  const t1 = performance.now();
  // Not part of the ceiling: the matcher's other reads, timed apart (consistent, as it reads them).
  await rawBatchGet(
    s,
    scratch,
    users.map((u) => membershipKey(u, audienceId)),
    WRITE_CONCURRENCY,
    true,
  );
  const checkStarted = performance.now();
  const now = new Date();
  const expiresAt = Math.floor(now.getTime() / 1000 / 86_400 + 541) * 86_400;
  await rawBatchPut(
    s,
    scratch,
    users.map((userId) =>
      membershipItem({
        userId,
        audienceId,
        businessId: 'bench-business',
        expiresAt,
        consentVersion: 1,
        matchedAt: now.toISOString(),
        lastChunk: `${run}:1:0`,
        prevExpiresAt: 0,
      }),
    ),
    WRITE_CONCURRENCY,
  );
  const t2 = performance.now();
  await rawBatchGet(
    s,
    consentStates,
    users.map((u) => stateKey(u)),
    WRITE_CONCURRENCY,
    true,
  );
  const t3 = performance.now();
  return { lookupMs: t1 - t0, writeMs: t2 - checkStarted, checkMs: checkStarted - t1 + (t3 - t2), found };
}

export async function matchingEndToEnd(ctx: BenchContext) {
  const s = await ctx.stack();
  const batches = ctx.quick ? 2 : 10;
  const rowsPerBatch = 10_000;
  const rows = batches * rowsPerBatch;
  const expectedMembers = usersIn(rows);
  const seeded = await ensureUsers(ctx, s, expectedMembers);

  const data = uploadBatches(batches, rowsPerBatch);
  const pepper = stackPepper();
  const keys = data.flat().map(([hash]) => matchKey(pepper, 'PHONE', hash!));
  const members: string[] = [];
  for (let g = 0; g < rows; g++) {
    const owner = rowOwner(g);
    if (owner.user) members.push(benchUserId(owner.index));
  }
  const token = await s.token('business', 'bench-business');

  // Warm-up, not counted: one batch end to end and a slice of the ceiling,
  // so neither side pays for DynamoDB Local's (JVM) or the matcher's first calls.
  {
    const audienceId = await createAudience(s, token, 'bench e2e warm-up');
    const sessionId = Date.now();
    await postBatch(s, token, audienceId, JSON.stringify(batchBody(sessionId, 1, 1, data[0]!, rowsPerBatch)));
    await waitForDone(s, token, audienceId, sessionId, { intervalMs: 50 });
    const n = usersIn(rowsPerBatch);
    await ceiling(s, keys.slice(0, rowsPerBatch), members.slice(0, n), -1);
    ctx.log('warm-up done (one batch end to end, one batch of the ceiling)');
  }

  const runs: Run[] = [];
  for (let run = 0; run < ctx.runs; run++) {
    const drained = await s.drain(300_000);
    if (!drained.drained) ctx.log(`run ${run + 1}: queues still busy after 300 s (${drained.left} messages)`);
    const audienceId = await createAudience(s, token, `bench e2e ${run + 1}`);
    const sessionId = Date.now();
    const bodies = data.map((rowsOfBatch, b) => JSON.stringify(batchBody(sessionId, b + 1, batches, rowsOfBatch, rows)));

    const e2e = async () => {
      const t0 = performance.now();
      let received = 0;
      for (const body of bodies) received += (await postBatch(s, token, audienceId, body)).numReceived;
      const uploaded = performance.now();
      const { doneAt, session } = await waitForDone(s, token, audienceId, sessionId, { intervalMs: 50 });
      if (received !== rows || session.numReceived !== rows) throw new Error(`the session received ${session.numReceived} rows, expected ${rows}`);
      return { totalMs: doneAt - t0, uploadMs: uploaded - t0 };
    };
    let measured: { totalMs: number; uploadMs: number };
    let limit: { lookupMs: number; writeMs: number; checkMs: number; found: number };
    if (run % 2 === 0) {
      measured = await e2e();
      limit = await ceiling(s, keys, members, run);
    } else {
      limit = await ceiling(s, keys, members, run);
      measured = await e2e();
    }
    const memberships = await countMemberships(s, audienceId);
    if (memberships !== expectedMembers) throw new Error(`the audience has ${memberships} membership items, expected ${expectedMembers}`);
    if (limit.found !== expectedMembers) throw new Error(`the ceiling's lookups found ${limit.found} keys, expected ${expectedMembers}`);
    const r: Run = {
      rowsPerSecond: rows / (measured.totalMs / 1000),
      totalMs: measured.totalMs,
      uploadMs: measured.uploadMs,
      memberships,
      ceilingRowsPerSecond: rows / ((limit.lookupMs + limit.writeMs) / 1000),
      fullCeilingRowsPerSecond: rows / ((limit.lookupMs + limit.writeMs + limit.checkMs) / 1000),
      ...limit,
    };
    runs.push(r);
    ctx.log(
      `run ${run + 1}: ${r.rowsPerSecond.toFixed(0)} rows/s (${(r.totalMs / 1000).toFixed(1)} s, upload ${(r.uploadMs / 1000).toFixed(1)} s); ` +
        `ceiling ${r.ceilingRowsPerSecond.toFixed(0)} rows/s (lookups ${(r.lookupMs / 1000).toFixed(1)} s, writes ${(r.writeMs / 1000).toFixed(1)} s); with the matcher's other reads (${(r.checkMs / 1000).toFixed(1)} s) ${r.fullCeilingRowsPerSecond.toFixed(0)} rows/s`,
    );
  }

  const figures: Figure[] = [
    {
      id: 'e2e.rowsPerSecond',
      label: `Matching end to end, ${rows.toLocaleString('en-US')} rows`,
      unit: 'rows/s',
      runs: runs.map((r) => r.rowsPerSecond),
      limit: { label: 'DynamoDB Local, same volume raw', runs: runs.map((r) => r.ceilingRowsPerSecond) },
      target: { kind: 'ratio-at-least', value: 0.8 },
    },
    {
      id: 'e2e.rowsPerSecondVsFull',
      label: 'Matching end to end, beside all its calls raw',
      unit: 'rows/s',
      runs: runs.map((r) => r.rowsPerSecond),
      limit: { label: "ceiling + the matcher's other reads", runs: runs.map((r) => r.fullCeilingRowsPerSecond) },
      note: 'informational',
    },
    {
      id: 'e2e.seconds',
      label: 'Matching end to end, first request to done',
      unit: 's',
      runs: runs.map((r) => r.totalMs / 1000),
      limit: { label: 'ceiling time', runs: runs.map((r) => rows / r.ceilingRowsPerSecond) },
      digits: 1,
      note: 'informational',
    },
  ];
  return {
    figures,
    notes: [
      `${batches} batches x ${rowsPerBatch.toLocaleString('en-US')} rows, schema PHONE_SHA256 (two columns of 10,000 rows would exceed the 1 MiB body limit), ${expectedMembers.toLocaleString('en-US')} rows (30%) of consenting users, the rest numbers nobody has; each run a new audience and session; verified: the session counted every row and the audience holds exactly ${expectedMembers.toLocaleString('en-US')} membership items.`,
      `Users seeded through the SDK with the stack's pepper (${seeded.users.toLocaleString('en-US')} users, ${(seeded.seedMs / 1000).toFixed(0)} s, not timed); items compared with users made through the API: ${seeded.shapeDifferences.length === 0 ? 'same attributes and types' : `DIFFERENCES: ${seeded.shapeDifferences.join('; ')}`}.`,
      `Ceiling = rows / (BatchGetItem of ${rows.toLocaleString('en-US')} keys at ${LOOKUP_CONCURRENCY} calls in flight + BatchWriteItem of ${expectedMembers.toLocaleString('en-US')} membership items at ${WRITE_CONCURRENCY} in flight), straight through the SDK to the same DynamoDB Local.`,
      `Second limit, informational: the ceiling plus the reads the matcher needs besides (consistent BatchGetItem of the ${expectedMembers.toLocaleString('en-US')} candidates' memberships before the write, for exact counts, and of their consent states after it, so nobody who denied meanwhile stays counted; ${WRITE_CONCURRENCY} calls in flight), median ${Math.round(median(runs.map((r) => r.fullCeilingRowsPerSecond))).toLocaleString('en-US')} rows/s.`,
      `Upload phase (first request to last 202), median: ${(runs.map((r) => r.uploadMs).sort((a, b) => a - b)[runs.length >> 1]! / 1000).toFixed(1)} s.`,
    ],
    details: { runs, rows, batches, rowsPerBatch, lookupConcurrency: LOOKUP_CONCURRENCY, writeConcurrency: WRITE_CONCURRENCY },
  };
}
