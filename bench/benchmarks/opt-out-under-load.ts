/**
 * 7. Opt-out propagation during the consent load: the consent benchmark's
 * load (`PUT /v1/me/consent` at 32 connections for 20 s from its own
 * process, 256 users with phone numbers alternating grant and denial, so
 * every decision flows through the outbox to the three consumers) runs, and
 * in its middle N users who are in audiences deny ads_targeting, spread over
 * the middle 40% of the load. For each: the time from sending the denial
 * until the ops route shows no audience, and until the user's membership
 * items are gone (the audience consumer's work behind everyone else's
 * events), p50 and p99 over the N users. Target: membership items gone
 * within 2 s at p99, with the load's own rate beside it.
 *
 * Per run the N users grant again, are matched into new audiences by real
 * uploads and seen in all of them through the ops route, and the queues are
 * drained before the load starts; after it, the queues are drained again
 * (reported: how long the consumers needed to catch up).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadOutcome, LoadSpec } from '../children/load';
import type { BenchContext } from '../lib/context';
import { childEnv, lastJson, runNode } from '../lib/proc';
import type { Figure } from '../lib/report';
import { ensurePolicy, sleep } from '../lib/stack';
import { percentile } from '../lib/stats';
import { createAudience, postBatch, waitForDone } from '../lib/audiences';
import { batchBody, uploadBatches, usersIn } from '../lib/fixtures';
import { ensureUsers } from '../lib/seed';
import { consentRequests, consentUsers, QUICK_USERS_PER_CONNECTION, USERS_PER_CONNECTION } from './consent-load';
import { denyAndTime, matchIntoAudiences, optOutUsers } from './opt-out';

/** The load generator in its own process, started now; resolves when it ends. */
function startLoad(ctx: BenchContext, spec: LoadSpec): Promise<LoadOutcome> {
  const specFile = join(ctx.tmpDir, 'opt-out-load-spec.json');
  writeFileSync(specFile, JSON.stringify(spec));
  return runNode(['--import', 'tsx', 'bench/children/load.ts', specFile], {
    env: childEnv(),
    timeoutMs: (spec.durationSeconds + spec.warmupSeconds + 60) * 1000,
  }).then((r) => lastJson<LoadOutcome>(r, 'the load generator'));
}

export async function optOutUnderLoad(ctx: BenchContext) {
  const s = await ctx.stack();
  const policyVersion = await ensurePolicy(s);
  const connections = ctx.connections;
  const perUser = ctx.quick ? QUICK_USERS_PER_CONNECTION : USERS_PER_CONNECTION;
  const userCount = ctx.quick ? 5 : 20;
  const audienceCount = ctx.quick ? 2 : 5;
  const operator = await s.token('operator', 'bench-ops');
  const business = await s.token('business', `bench-optout-load-${Date.now()}`);
  const loadUsers = await consentUsers(s, connections * perUser);
  const users = await optOutUsers(s, userCount, 'bench-optout-load', 750_000);
  const perConnection = consentRequests(loadUsers, connections, perUser, policyVersion);
  const warmupSeconds = 1;
  // The denials are spread over the middle 40% of the measured load.
  const firstDenialMs = (warmupSeconds + ctx.loadSeconds * 0.3) * 1000;
  const spacingMs = (ctx.loadSeconds * 0.4 * 1000) / userCount;

  const runs: { ops: number[]; gone: number[]; put: number[]; load: LoadOutcome; catchUpS: number }[] = [];
  for (let run = 0; run < ctx.runs; run++) {
    await matchIntoAudiences(s, { business, operator }, users, policyVersion, audienceCount, run);
    ctx.log(
      `run ${run + 1}: ${userCount} users in ${audienceCount} audiences each; consent load for ${ctx.loadSeconds} s, denials from ${(firstDenialMs / 1000).toFixed(1)} s, ${spacingMs.toFixed(0)} ms apart...`,
    );
    const loading = startLoad(ctx, { url: s.url, connections, durationSeconds: ctx.loadSeconds, warmupSeconds, perConnection });
    const times = await Promise.all(
      users.map(async (u, i) => {
        await sleep(firstDenialMs + i * spacingMs);
        return denyAndTime(s, u, policyVersion, operator);
      }),
    );
    const load = await loading;
    const drained = await s.drain(300_000);
    const result = {
      ops: times.map((t) => t.opsMs),
      gone: times.map((t) => t.goneMs),
      put: times.map((t) => t.putMs),
      load,
      catchUpS: drained.waitedMs / 1000,
    };
    runs.push(result);
    ctx.log(
      `run ${run + 1}: load ${load.requestsPerSecond.toFixed(0)} req/s (p99 ${load.p99Ms} ms, ${load.non2xx + load.errors} failed); ` +
        `ops route none after p50 ${percentile(result.ops, 50).toFixed(0)} / p99 ${percentile(result.ops, 99).toFixed(0)} ms; ` +
        `memberships gone after p50 ${percentile(result.gone, 50).toFixed(0)} / p99 ${percentile(result.gone, 99).toFixed(0)} ms; ` +
        `caught up ${result.catchUpS.toFixed(1)} s after the load`,
    );
  }

  const rps = runs.map((r) => r.load.requestsPerSecond);
  const figures: Figure[] = [
    {
      id: 'optoutLoad.gone.p50',
      label: `Opt-out during consent load: membership items gone, p50 of ${userCount}`,
      unit: 'ms',
      runs: runs.map((r) => percentile(r.gone, 50)),
      note: 'informational',
    },
    {
      id: 'optoutLoad.gone.p99',
      label: `Opt-out during consent load: membership items gone, p99 of ${userCount}`,
      unit: 'ms',
      runs: runs.map((r) => percentile(r.gone, 99)),
      target: { kind: 'under', value: 2000 },
    },
    {
      id: 'optoutLoad.ops.p99',
      label: `Opt-out during consent load: ops route shows none, p99 of ${userCount}`,
      unit: 'ms',
      runs: runs.map((r) => percentile(r.ops, 99)),
      limit: { label: 'the PUT itself, p99', runs: runs.map((r) => percentile(r.put, 99)) },
      target: { kind: 'under', value: 2000 },
    },
    {
      id: 'optoutLoad.consent.rps',
      label: `The consent load beside them, ${connections} connections`,
      unit: 'req/s',
      runs: rps,
      note: 'the load the opt-outs ran in',
    },
    {
      id: 'optoutLoad.catchUp',
      label: 'Consumers catching up after that load',
      unit: 's',
      runs: runs.map((r) => r.catchUpS),
      digits: 1,
      note: 'informational',
    },
  ];
  const failed = runs.map((r) => r.load.non2xx + r.load.errors);
  return {
    figures,
    notes: [
      `Consent load as in benchmark 3 (${connections} connections, ${loadUsers.length} users, ${ctx.loadSeconds} s after a ${warmupSeconds} s warm-up, its own process); in its middle ${userCount} other users, each matched into ${audienceCount} new audiences a run by real uploads, deny ads_targeting ${spacingMs.toFixed(0)} ms apart from ${(firstDenialMs / 1000).toFixed(1)} s on. Times from sending the PUT until the ops route answers no audience (polled every 25 ms) and until the user's membership items are gone (consistent Query every 100 ms); p99 of ${userCount} values (nearest rank) is the slowest user.`,
      `Consent requests that failed per run: ${failed.join(', ')}. Decisions per run: ${runs.map((r) => r.load.total).join(', ')}.`,
      'The ops route reads the consent state itself, so it shows none once the denial is committed whatever the backlog; the membership items leave through the outbox publisher, SNS, the audience queue and its consumer, behind every other decision of the load.',
    ],
    details: runs.map((r) => ({ ...r, load: { ...r.load } })),
  };
}

/**
 * 9. Opt-out propagation during a 100,000-row upload: benchmark 1's upload
 * (10 batches of 10,000 rows, 30% consenting users, sent one after another
 * as the CLI sends them) to a new audience of another business, and while it
 * is sent and matched, N users who are in audiences deny ads_targeting, 300 ms
 * apart from 1 s after the first batch. The same two times as benchmark 8,
 * p50 and p99 over the N users; the upload's own time to `done` beside them,
 * and how many denials were sent before it was done.
 */
export async function optOutDuringUpload(ctx: BenchContext) {
  const s = await ctx.stack();
  const policyVersion = await ensurePolicy(s);
  const batches = ctx.quick ? 2 : 10;
  const rowsPerBatch = 10_000;
  const rows = batches * rowsPerBatch;
  await ensureUsers(ctx, s, usersIn(rows));
  const data = uploadBatches(batches, rowsPerBatch);
  const userCount = ctx.quick ? 5 : 20;
  const audienceCount = ctx.quick ? 2 : 5;
  const firstDenialMs = 1_000;
  const spacingMs = 300;
  const operator = await s.token('operator', 'bench-ops');
  const business = await s.token('business', `bench-optout-upload-${Date.now()}`);
  const uploader = await s.token('business', 'bench-business');
  const users = await optOutUsers(s, userCount, 'bench-optout-upload', 760_000);

  const runs: { ops: number[]; gone: number[]; put: number[]; uploadMs: number; deniedBeforeDone: number }[] = [];
  for (let run = 0; run < ctx.runs; run++) {
    await matchIntoAudiences(s, { business, operator }, users, policyVersion, audienceCount, run);
    await s.drain(300_000);
    const audienceId = await createAudience(s, uploader, `bench opt-out during upload ${run + 1}`);
    const sessionId = Date.now();
    const bodies = data.map((rowsOfBatch, b) => JSON.stringify(batchBody(sessionId, b + 1, batches, rowsOfBatch, rows)));
    ctx.log(
      `run ${run + 1}: ${userCount} users in ${audienceCount} audiences each; ${rows.toLocaleString('en-US')}-row upload, denials from 1 s, ${spacingMs} ms apart...`,
    );
    const t0 = performance.now();
    const uploading = (async () => {
      for (const body of bodies) await postBatch(s, uploader, audienceId, body);
      return (await waitForDone(s, uploader, audienceId, sessionId, { intervalMs: 50 })).doneAt;
    })();
    const sentAt: number[] = [];
    const times = await Promise.all(
      users.map(async (u, i) => {
        await sleep(firstDenialMs + i * spacingMs);
        sentAt[i] = performance.now();
        return denyAndTime(s, u, policyVersion, operator);
      }),
    );
    const doneAt = await uploading;
    const result = {
      ops: times.map((t) => t.opsMs),
      gone: times.map((t) => t.goneMs),
      put: times.map((t) => t.putMs),
      uploadMs: doneAt - t0,
      deniedBeforeDone: sentAt.filter((t) => t < doneAt).length,
    };
    runs.push(result);
    ctx.log(
      `run ${run + 1}: upload done after ${(result.uploadMs / 1000).toFixed(1)} s (${result.deniedBeforeDone} of ${userCount} denials sent before); ` +
        `ops route none after p50 ${percentile(result.ops, 50).toFixed(0)} / p99 ${percentile(result.ops, 99).toFixed(0)} ms; ` +
        `memberships gone after p50 ${percentile(result.gone, 50).toFixed(0)} / p99 ${percentile(result.gone, 99).toFixed(0)} ms`,
    );
  }

  const figures: Figure[] = [
    {
      id: 'optoutUpload.gone.p50',
      label: `Opt-out during a ${rows.toLocaleString('en-US')}-row upload: membership items gone, p50 of ${userCount}`,
      unit: 'ms',
      runs: runs.map((r) => percentile(r.gone, 50)),
      note: 'informational',
    },
    {
      id: 'optoutUpload.gone.p99',
      label: `Opt-out during a ${rows.toLocaleString('en-US')}-row upload: membership items gone, p99 of ${userCount}`,
      unit: 'ms',
      runs: runs.map((r) => percentile(r.gone, 99)),
      target: { kind: 'under', value: 2000 },
    },
    {
      id: 'optoutUpload.ops.p99',
      label: `Opt-out during a ${rows.toLocaleString('en-US')}-row upload: ops route shows none, p99 of ${userCount}`,
      unit: 'ms',
      runs: runs.map((r) => percentile(r.ops, 99)),
      limit: { label: 'the PUT itself, p99', runs: runs.map((r) => percentile(r.put, 99)) },
      target: { kind: 'under', value: 2000 },
    },
    {
      id: 'optoutUpload.uploadSeconds',
      label: 'The upload beside them, first request to done',
      unit: 's',
      runs: runs.map((r) => r.uploadMs / 1000),
      digits: 1,
      note: 'the load the opt-outs ran in',
    },
  ];
  return {
    figures,
    notes: [
      `Upload as in benchmark 1 (${batches} batches x ${rowsPerBatch.toLocaleString('en-US')} rows, 30% consenting users) to a new audience a run; ${userCount} other users, each matched into ${audienceCount} new audiences a run by real uploads, deny ads_targeting ${spacingMs} ms apart from ${firstDenialMs / 1000} s after the first batch. Denials sent before the upload was done, per run: ${runs.map((r) => `${r.deniedBeforeDone} of ${userCount}`).join(', ')}.`,
      'Times from sending the PUT until the ops route answers no audience (polled every 25 ms) and until the membership items are gone (consistent Query every 100 ms); p99 of the users (nearest rank) is the slowest.',
    ],
    details: runs,
  };
}
