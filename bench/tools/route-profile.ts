/**
 * Where the consent route's time goes under the consent load with the
 * consumers held (the API alone), beside its DynamoDB calls raw: on a local
 * stack in this process, `--rounds` times the consent benchmark's load (32
 * connections) and then the raw calls (bench/lib/raw.ts), each with the CPU
 * time of this process (gateway and functions, or the raw client) and of
 * DynamoDB Local per decision. In the last round V8's CPU profiler is on
 * for the load.
 *
 *   npx tsx bench/tools/route-profile.ts [--rounds 3] [--seconds 15] [--connections 32] [--out route.cpuprofile]
 *
 * Prints the CPU split per round and the heaviest functions by self time;
 * writes the profile (summarise it further with bench/tools/profile-summary.ts).
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type { Profiler } from 'node:inspector';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { consentRequests, consentUsers, load, USERS_PER_CONNECTION } from '../benchmarks/consent-load';
import type { BenchContext } from '../lib/context';
import { rawConsentDecisions } from '../lib/raw';
import { runToExit } from '../lib/proc';
import { ensurePolicy, startBenchStack } from '../lib/stack';
import { summaryText, type Profile as SampledProfile } from './profile-summary';

/** CPU seconds (user + system) a process has used, from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function main() {
  const argv = process.argv.slice(2);
  const arg = (name: string, fallback: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1]! : fallback;
  };
  const seconds = Number(arg('--seconds', '15'));
  const rounds = Number(arg('--rounds', '3'));
  const connections = Number(arg('--connections', '32'));
  const outFile = arg('--out', join(mkdtempSync(join(tmpdir(), 'route-profile-')), 'route.cpuprofile'));

  const s = await startBenchStack();
  const policyVersion = await ensurePolicy(s);
  const users = await consentUsers(s, connections * USERS_PER_CONNECTION);
  await s.drain();
  const ctx = { tmpDir: mkdtempSync(join(tmpdir(), 'route-profile-')), log: (l: string) => process.stderr.write(`${l}\n`) } as unknown as BenchContext;
  const perConnection = consentRequests(users, connections, USERS_PER_CONNECTION, policyVersion);

  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 500 });
  /** CPU seconds of this process and of DynamoDB Local while `work` runs. */
  const cpuOf = async <T>(work: () => Promise<T>) => {
    const dynamoBefore = cpuSeconds(s.stack.dynamodbPid);
    const selfBefore = process.cpuUsage();
    const started = performance.now();
    const result = await work();
    const self = process.cpuUsage(selfBefore);
    return {
      result,
      wall: (performance.now() - started) / 1000,
      self: (self.user + self.system) / 1e6,
      dynamo: cpuSeconds(s.stack.dynamodbPid) - dynamoBefore,
    };
  };
  const perDecision = (cpu: number, n: number) => `${((cpu * 1e3) / n).toFixed(2)} ms`;
  let profile: Profiler.Profile | undefined;
  for (let round = 1; round <= rounds; round++) {
    const profiled = round === rounds;
    s.stack.holdConsumers();
    if (profiled) await session.post('Profiler.start');
    const route = await cpuOf(() =>
      load(ctx, { url: s.url, connections, durationSeconds: seconds, warmupSeconds: 0, perConnection }, 'PUT /v1/me/consent, consumers held'),
    );
    if (profiled) profile = (await session.post('Profiler.stop')).profile;
    s.stack.releaseConsumers();
    await s.drain(300_000);
    const raw = await cpuOf(() => rawConsentDecisions(s, { connections, usersPerConnection: USERS_PER_CONNECTION, seconds: Math.min(seconds, 5), run: round }));
    const rawCount = raw.result * raw.wall;
    process.stdout.write(
      `round ${round}${profiled ? ' (profiled)' : ''}: route ${route.result.requestsPerSecond.toFixed(0)} req/s (p50 ${route.result.p50Ms} ms), CPU a decision: ` +
        `this process ${perDecision(route.self, route.result.total)}, DynamoDB Local ${perDecision(route.dynamo, route.result.total)}; ` +
        `raw ${raw.result.toFixed(0)}/s, CPU a decision: this process ${perDecision(raw.self, rawCount)}, DynamoDB Local ${perDecision(raw.dynamo, rawCount)}\n`,
    );
  }
  if (!profile) throw new Error('--rounds must be at least 1');
  writeFileSync(outFile, JSON.stringify(profile));
  process.stdout.write('\n');

  const summary = profile as unknown as SampledProfile;
  process.stdout.write(`self time by package or folder, ${summaryText(summary, 25, 'place')}\nself time by function, ${summaryText(summary, 30)}\n`);
  process.stdout.write(`profile: ${outFile}\n`);
  await s.close();
}

runToExit(main);
