/**
 * 3. Consent API under load: `PUT /v1/me/consent` at 32 connections for
 * 20 s over loopback, beside `GET /_local/health` on the same gateway with
 * the same connections and duration.
 *
 * Users: 8 per connection (256), each with a phone number, so every decision
 * also flows through the outbox to the match index, suggestions and audience
 * consumers, as in production. A connection cycles over its users; each
 * user's decisions alternate (ads_targeting and friend_suggestions granted,
 * then denied) under the current policy. No two connections share a user, so
 * no request races another on a user's consent version.
 *
 * Per run: health load, then consent load, then wait until every queue the
 * decisions fed is empty again (reported: how long the consumers needed to
 * catch up), so each run starts from a quiet stack. Then the same consent
 * load with the consumers held (the stack's `holdConsumers()`: queue
 * messages and stream records wait), released and drained again: the route with
 * only its own work on the machine, beside the same raw calls.
 * Last, the route's DynamoDB calls replayed raw (bench/lib/raw.ts).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchContext } from '../lib/context';
import { userPhone } from '../lib/fixtures';
import { childEnv, lastJson, runNode } from '../lib/proc';
import type { Figure } from '../lib/report';
import { median, pairedRatios } from '../lib/stats';
import { rawConsentDecisions } from '../lib/raw';
import { ensurePolicy, mapLimit, verifyPhone, type BenchStack } from '../lib/stack';
import type { LoadOutcome, LoadRequest, LoadSpec } from '../children/load';

export const USERS_PER_CONNECTION = 8;
/** Quick mode: fewer users to set up; each still alternates. */
export const QUICK_USERS_PER_CONNECTION = 2;

export async function load(ctx: BenchContext, spec: LoadSpec, what: string): Promise<LoadOutcome> {
  const specFile = join(ctx.tmpDir, 'load-spec.json');
  writeFileSync(specFile, JSON.stringify(spec));
  const r = await runNode(['--import', 'tsx', 'bench/children/load.ts', specFile], {
    env: childEnv(),
    timeoutMs: (spec.durationSeconds + spec.warmupSeconds + 60) * 1000,
  });
  const out = lastJson<LoadOutcome>(r, `the load generator (${what})`);
  ctx.log(
    `${what}: ${out.requestsPerSecond.toFixed(0)} req/s, p50 ${out.p50Ms} ms, p99 ${out.p99Ms} ms, ${out.total} requests` +
      (out.non2xx || out.errors ? `, ${out.non2xx} non-2xx ${JSON.stringify(out.statusCodes)}, ${out.errors} errors` : ''),
  );
  return out;
}

/** How a drain of the stack's queues ended, for the log. */
const caughtUpText = (d: { drained: boolean; waitedMs: number; left: number }) =>
  d.drained ? `in ${(d.waitedMs / 1000).toFixed(1)} s` : `NOT within 300 s (${d.left} messages left)`;

export async function consentUsers(s: BenchStack, count: number): Promise<{ userId: string; token: string }[]> {
  // Numbers far from the matching benchmarks' users (+1 415 2xx): +1 415 8xx xxxx.
  return mapLimit(
    Array.from({ length: count }, (_, i) => i),
    16,
    async (i) => {
      const userId = `bench-consent-${i}`;
      const token = await s.token('user', userId);
      const res = await verifyPhone(s, token, userPhone(600_000 + i));
      if (res.status !== 200) throw new Error(`Verifying a phone number answered ${res.status}: ${res.text}`);
      return { userId, token };
    },
  );
}

/** Each connection's requests: its own users, each granting then denying (ads_targeting and friend_suggestions). */
export function consentRequests(users: readonly { token: string }[], connections: number, perUser: number, policyVersion: string): LoadRequest[][] {
  return Array.from({ length: connections }, (_, c) => {
    const mine = users.slice(c * perUser, (c + 1) * perUser);
    return (['granted', 'denied'] as const).flatMap((choice) =>
      mine.map((u) => ({
        method: 'PUT',
        path: '/v1/me/consent',
        headers: { authorization: `Bearer ${u.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ policyVersion, purposes: { ads_targeting: choice, friend_suggestions: choice }, source: 'settings' }),
      })),
    );
  });
}

export async function consentLoad(ctx: BenchContext) {
  const s = await ctx.stack();
  const policyVersion = await ensurePolicy(s);
  const connections = ctx.connections;
  const perUser = ctx.quick ? QUICK_USERS_PER_CONNECTION : USERS_PER_CONNECTION;
  const users = await consentUsers(s, connections * perUser);
  const drained0 = await s.drain();
  ctx.log(`${users.length} users with phone numbers ready (queues drained in ${(drained0.waitedMs / 1000).toFixed(1)} s)`);

  const perConnection = consentRequests(users, connections, perUser, policyVersion);
  const base = { url: s.url, connections, durationSeconds: ctx.loadSeconds, warmupSeconds: 1 };
  const health: LoadOutcome[] = [];
  const consent: LoadOutcome[] = [];
  const drains: number[] = [];
  const raw: number[] = [];
  const alone: LoadOutcome[] = [];
  const rawSeconds = Math.min(ctx.loadSeconds, 5);
  const dlqBefore = await s.deadLetters();
  for (let run = 0; run < ctx.runs; run++) {
    health.push(await load(ctx, { ...base, perConnection: [[{ method: 'GET', path: '/_local/health' }]] }, `run ${run + 1}: GET /_local/health`));
    consent.push(await load(ctx, { ...base, perConnection }, `run ${run + 1}: PUT /v1/me/consent`));
    const drained = await s.drain(300_000);
    drains.push(drained.waitedMs / 1000);
    ctx.log(`run ${run + 1}: consumers caught up ${caughtUpText(drained)}`);
    // The same load with the consumers held (queue messages and stream records wait), then the catch-up:
    // the route with only its own work on the machine.
    s.stack.holdConsumers();
    try {
      alone.push(await load(ctx, { ...base, perConnection }, `run ${run + 1}: PUT /v1/me/consent, consumers held`));
    } finally {
      s.stack.releaseConsumers();
    }
    const caughtUp = await s.drain(300_000);
    ctx.log(`run ${run + 1}: consumers released, caught up ${caughtUpText(caughtUp)}`);
    raw.push(await rawConsentDecisions(s, { connections, usersPerConnection: perUser, seconds: rawSeconds, run }));
    ctx.log(`run ${run + 1}: the same DynamoDB calls, raw: ${raw[run]!.toFixed(0)} decisions/s`);
  }
  const dlqAfter = await s.deadLetters();
  const failedShare = (o: LoadOutcome) => (o.non2xx + o.errors) / Math.max(1, o.total);
  const worstFailure = Math.max(...consent.map(failedShare));

  const ratioRunning = median(
    pairedRatios(
      consent.map((o) => o.requestsPerSecond),
      raw,
    ),
  );
  const ratioHeld = median(
    pairedRatios(
      alone.map((o) => o.requestsPerSecond),
      raw,
    ),
  );

  const figures: Figure[] = [
    {
      id: 'consent.rps',
      label: `PUT /v1/me/consent, ${connections} connections`,
      unit: 'req/s',
      runs: consent.map((o) => o.requestsPerSecond),
      limit: { label: 'GET /_local/health', runs: health.map((o) => o.requestsPerSecond) },
      note: 'no target',
    },
    {
      id: 'consent.rpsVsRaw',
      label: 'PUT /v1/me/consent, beside its DynamoDB calls raw',
      unit: 'req/s',
      runs: consent.map((o) => o.requestsPerSecond),
      limit: { label: 'same calls via SDK', runs: raw },
      target: { kind: 'ratio-at-least', value: 0.8 },
    },
    {
      id: 'consent.rpsAloneVsRaw',
      label: 'PUT /v1/me/consent, consumers held, beside its calls raw',
      unit: 'req/s',
      runs: alone.map((o) => o.requestsPerSecond),
      limit: { label: 'same calls via SDK', runs: raw },
      note: 'informational',
    },
    {
      id: 'consent.p50',
      label: 'PUT /v1/me/consent latency p50',
      unit: 'ms',
      runs: consent.map((o) => o.p50Ms),
      limit: { label: 'health p50', runs: health.map((o) => o.p50Ms) },
      note: 'no target',
    },
    {
      id: 'consent.p99',
      label: 'PUT /v1/me/consent latency p99',
      unit: 'ms',
      runs: consent.map((o) => o.p99Ms),
      limit: { label: 'health p99', runs: health.map((o) => o.p99Ms) },
      note: 'no target',
    },
    {
      id: 'consent.catchUp',
      label: 'Consumers catching up after a run',
      unit: 's',
      runs: drains,
      digits: 1,
      note: 'informational',
    },
  ];
  return {
    figures,
    notes: [
      `${connections} connections, ${ctx.loadSeconds} s a load after a ${base.warmupSeconds} s warm-up, autocannon in its own process over loopback; ${users.length} users (${perUser} a connection), alternating granted/denied, source "settings", policy ${policyVersion}.`,
      `Requests that were not 2xx or failed: at most ${(worstFailure * 100).toFixed(2)}% of a run (${consent.map((o) => `${o.non2xx}+${o.errors}`).join(', ')}).`,
      `Second limit, the one the target is held to: the DynamoDB calls of one decision (consistent GetItem of the account and of the current policy, then TransactWriteItems: conditional update + receipt put) replayed straight through the SDK on scratch tables shaped like the two (without the ledger's stream), ${connections} workers, ${rawSeconds} s a run: median ${Math.round(median(raw))} decisions/s. The route reaches ${ratioRunning.toFixed(2)} of it with the consumers running and ${ratioHeld.toFixed(2)} with them held (medians of the runs' ratios; the held load's p50 ${median(alone.map((o) => o.p50Ms))} ms, p99 ${median(alone.map((o) => o.p99Ms))} ms): the difference is the three consumers' DynamoDB calls (about 3.6 a decision, bench/tools/consumer-profile.ts) on the same DynamoDB Local and cores; the rest is the gateway, the authorizer and the function.`,
      `Every decision goes through the outbox to three consumers; "catching up" is the time from the end of a load until every queue is empty again. Dead-lettered messages during this benchmark: ${dlqAfter - dlqBefore}.`,
    ],
    details: { health, consent, consumersHeld: alone, drains, rawDecisionsPerSecond: raw },
  };
}
