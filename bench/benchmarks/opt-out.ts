/**
 * 4. Opt-out propagation: users in 20 audiences each deny ads_targeting; the
 * time from sending the denial until `GET /v1/ops/users/{userId}/audiences`
 * shows them in none, p50 and p99 over 50 users. Beside it, informational:
 * the time until their membership items are actually gone from the table
 * (the audience consumer's work, after the outbox, SNS and SQS), because the
 * ops route already answers "none" from the consent it reads.
 *
 * Users are made through the API (phone, consent granted) and matched
 * through real uploads: per run, 20 new audiences, each given the 50 users'
 * phone hashes in one batch, all sessions `done` and every user seen in all
 * 20 through the ops route before the first denial. Denials are sent 200 ms
 * apart; after each, the ops route is polled every 25 ms and the user's
 * membership items (one consistent Query) every 100 ms. Before the next run
 * every user grants again and is back in the match index.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { accountMatchKeys } from '../../functions/core/identifiers';
import { indexKey } from '../../functions/tables/match-index';
import { membershipsOfUser } from '../../functions/tables/memberships';
import { createAudience, postBatch, waitForDone } from '../lib/audiences';
import type { BenchContext } from '../lib/context';
import { phoneHash, userPhone } from '../lib/fixtures';
import type { Figure } from '../lib/report';
import { stackPepper } from '../lib/seed';
import { ensurePolicy, mapLimit, sleep, verifyPhone, type BenchStack } from '../lib/stack';
import { percentile } from '../lib/stats';

export interface OptOutUser {
  userId: string;
  token: string;
  phoneNumber: string;
  key: string;
}

export async function decide(s: BenchStack, u: OptOutUser, policyVersion: string, ads: 'granted' | 'denied') {
  const res = await s.api('PUT', '/v1/me/consent', { token: u.token, body: { policyVersion, purposes: { ads_targeting: ads }, source: 'settings' } });
  if (res.status !== 200) throw new Error(`PUT /v1/me/consent answered ${res.status}: ${res.text}`);
}

export async function waitIndexed(s: BenchStack, users: OptOutUser[], timeoutMs = 60_000) {
  const table = s.stack.resources.tables.matchIndex!.name;
  const deadline = Date.now() + timeoutMs;
  for (const u of users) {
    for (;;) {
      const { Item } = await s.ddb.send(new GetCommand({ TableName: table, Key: indexKey(u.key), ConsistentRead: true }));
      if (Item?.userId === u.userId) break;
      if (Date.now() > deadline) throw new Error(`user ${u.userId} is not in the match index after ${timeoutMs} ms`);
      await sleep(100);
    }
  }
}

/** Membership items of the user, as the table module reads them (the stack runs in this process, with its environment). */
export async function membershipItems(userId: string): Promise<number> {
  return (await membershipsOfUser(userId)).length;
}

/** Users with a verified phone number, made through the API: `<prefix>-<i>`, numbers from userPhone(phoneBase). */
export async function optOutUsers(s: BenchStack, count: number, prefix: string, phoneBase: number): Promise<OptOutUser[]> {
  const pepper = stackPepper();
  return mapLimit(
    Array.from({ length: count }, (_, i) => i),
    8,
    async (i) => {
      const userId = `${prefix}-${i}`;
      const token = await s.token('user', userId);
      const phoneNumber = userPhone(phoneBase + i);
      const res = await verifyPhone(s, token, phoneNumber);
      if (res.status !== 200) throw new Error(`Verifying a phone number answered ${res.status}: ${res.text}`);
      return { userId, token, phoneNumber, key: accountMatchKeys(pepper, { phoneNumber })[0]! };
    },
  );
}

/**
 * Every user grants (again) and is back in the match index; then `count`
 * new audiences each match all of them by a real upload, and the ops route
 * shows each user in all of them. Returns the audiences' ids.
 */
export async function matchIntoAudiences(
  s: BenchStack,
  tokens: { business: string; operator: string },
  users: readonly OptOutUser[],
  policyVersion: string,
  count: number,
  run: number,
): Promise<Set<string>> {
  await mapLimit(users, 8, (u) => decide(s, u, policyVersion, 'granted'));
  await waitIndexed(s, [...users]);
  await s.drain(120_000);
  const rows = users.map((u) => [phoneHash(u.phoneNumber)]);
  const audiences = await mapLimit(
    Array.from({ length: count }, (_, a) => a),
    4,
    async (a) => {
      const id = await createAudience(s, tokens.business, `bench opt-out ${run + 1}.${a + 1}`);
      const sessionId = run * 1000 + a + 1;
      await postBatch(
        s,
        tokens.business,
        id,
        JSON.stringify({ session: { id: sessionId, batchSeq: 1, lastBatch: true }, schema: ['PHONE_SHA256'], data: rows }),
      );
      return { id, sessionId };
    },
  );
  for (const a of audiences) await waitForDone(s, tokens.business, a.id, a.sessionId, { intervalMs: 100, timeoutMs: 120_000 });
  const ids = new Set(audiences.map((a) => a.id));
  await mapLimit(users, 8, async (u) => {
    const res = await s.api<{ items: { audienceId: string }[] }>('GET', `/v1/ops/users/${u.userId}/audiences`, { token: tokens.operator });
    const inRun = res.json.items.filter((i) => ids.has(i.audienceId)).length;
    if (res.status !== 200 || inRun !== count)
      throw new Error(`before the denials, user ${u.userId} is in ${inRun} of the run's ${count} audiences (status ${res.status})`);
  });
  await s.drain(120_000);
  return ids;
}

/**
 * The user denies ads_targeting; resolves with the PUT's own time, and the
 * times until the ops route shows no audience (polled every 25 ms) and until
 * the membership items are gone (a consistent Query every 100 ms), all from sending the PUT.
 */
export async function denyAndTime(
  s: BenchStack,
  u: OptOutUser,
  policyVersion: string,
  operator: string,
): Promise<{ putMs: number; opsMs: number; goneMs: number }> {
  const sent = performance.now();
  await decide(s, u, policyVersion, 'denied');
  const putMs = performance.now() - sent;
  const ops = (async () => {
    for (;;) {
      const res = await s.api<{ items: unknown[] }>('GET', `/v1/ops/users/${u.userId}/audiences`, { token: operator });
      if (res.status === 200 && res.json.items.length === 0) return performance.now() - sent;
      if (performance.now() - sent > 60_000) throw new Error(`user ${u.userId} still in audiences 60 s after denying`);
      await sleep(25);
    }
  })();
  const gone = (async () => {
    for (;;) {
      if ((await membershipItems(u.userId)) === 0) return performance.now() - sent;
      if (performance.now() - sent > 120_000) throw new Error(`user ${u.userId} still has membership items 120 s after denying`);
      await sleep(100);
    }
  })();
  return { putMs, opsMs: await ops, goneMs: await gone };
}

export async function optOut(ctx: BenchContext) {
  const s = await ctx.stack();
  const userCount = ctx.quick ? 10 : 50;
  const audienceCount = ctx.quick ? 5 : 20;
  const spacingMs = 200;
  const policyVersion = await ensurePolicy(s);
  const operator = await s.token('operator', 'bench-ops');
  const business = await s.token('business', `bench-optout-${Date.now()}`);

  const users = await optOutUsers(s, userCount, 'bench-optout', 700_000);

  const putRuns: { p50: number; p99: number; all: number[] }[] = [];
  const opsRuns: { p50: number; p99: number; all: number[] }[] = [];
  const goneRuns: { p50: number; p99: number; all: number[] }[] = [];
  for (let run = 0; run < ctx.runs; run++) {
    await matchIntoAudiences(s, { business, operator }, users, policyVersion, audienceCount, run);
    ctx.log(`run ${run + 1}: ${userCount} users in ${audienceCount} audiences each; denying, ${spacingMs} ms apart...`);

    const putMs: number[] = [];
    const opsMs: number[] = [];
    const goneMs: number[] = [];
    await Promise.all(
      users.map(async (u, i) => {
        await sleep(i * spacingMs);
        const t = await denyAndTime(s, u, policyVersion, operator);
        putMs.push(t.putMs);
        opsMs.push(t.opsMs);
        goneMs.push(t.goneMs);
      }),
    );
    const sum = (xs: number[]) => ({ p50: percentile(xs, 50), p99: percentile(xs, 99), all: xs });
    putRuns.push(sum(putMs));
    opsRuns.push(sum(opsMs));
    goneRuns.push(sum(goneMs));
    ctx.log(
      `run ${run + 1}: ops route shows none after p50 ${opsRuns[run]!.p50.toFixed(0)} ms, p99 ${opsRuns[run]!.p99.toFixed(0)} ms; ` +
        `membership items gone after p50 ${goneRuns[run]!.p50.toFixed(0)} ms, p99 ${goneRuns[run]!.p99.toFixed(0)} ms`,
    );
  }

  const figures: Figure[] = [
    {
      id: 'optout.ops.p50',
      label: `Opt-out until the ops route shows none, p50 of ${userCount}`,
      unit: 'ms',
      runs: opsRuns.map((r) => r.p50),
      limit: { label: 'the PUT itself, p50', runs: putRuns.map((r) => r.p50) },
      note: 'no target',
    },
    {
      id: 'optout.ops.p99',
      label: `Opt-out until the ops route shows none, p99 of ${userCount}`,
      unit: 'ms',
      runs: opsRuns.map((r) => r.p99),
      limit: { label: 'the PUT itself, p99', runs: putRuns.map((r) => r.p99) },
      target: { kind: 'under', value: 2000 },
    },
    { id: 'optout.gone.p50', label: `Opt-out until membership items are gone, p50`, unit: 'ms', runs: goneRuns.map((r) => r.p50), note: 'informational' },
    {
      id: 'optout.gone.p99',
      label: `Opt-out until membership items are gone, p99`,
      unit: 'ms',
      runs: goneRuns.map((r) => r.p99),
      note: 'informational (2 s would pass)',
    },
  ];
  return {
    figures,
    notes: [
      `${userCount} users (made through the API), each matched into ${audienceCount} new audiences a run by real uploads; denials ${spacingMs} ms apart; time from sending PUT /v1/me/consent (ads_targeting denied) until the ops route answers no audience (polled every 25 ms) and until the user's membership items are gone (consistent Query every 100 ms). p99 of ${userCount} values (nearest rank) is the slowest user. Beside the ops figures: the PUT's own latency in the same runs (the floor: the ops route cannot show none before the denial is committed).`,
      "The ops route reads the user's consent itself (adapters/user-audiences.ts), so it shows none as soon as the denial is committed; the membership items leave through the outbox, SNS, SQS and the audience consumer, which is what the second pair of figures times.",
    ],
    details: { putRuns, opsRuns, goneRuns },
  };
}
