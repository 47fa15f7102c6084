/**
 * Simulates the best membership attacks we know against the size-release
 * rule and its budget (functions/core/size-release.ts), day by day over a
 * month and over a year, and compares the attacker's accuracy with the
 * analytic bound. Its year figure is the README's number.
 *
 *   npm run simulate:releases [-- --trials 20000] [--out docs/size-releases.simulation.json] [--only <scenario>]
 *   npm run simulate:releases -- --quick     (1,000 trials, about a tenth of the time; writes nothing unless --out)
 *
 * The service here is the pure release rule driven by an in-memory model of
 * the audience store: audiences within the quota, batches accepted and
 * settled, exact counts, reads that release when the rule allows. The rows'
 * matching is modelled as done well within the settle time. The attacker
 * controls P consenting accounts and wants to know whether person T (whose
 * row it has) is a member; in each trial T is a member with probability 1/2.
 *
 * The attacker is Bayes-optimal for its strategy: for every release of an
 * audience that holds T's row it multiplies the exact likelihood ratio of the
 * answer under count P+1 against P (the distribution of one release,
 * enumerated from the rule), and guesses "member" when the product is above
 * 1 (a coin on ties). No test does better with the same releases. Strategies:
 *
 *   junk-one-audience   one audience of its P accounts and T; then a one-row
 *                       junk upload whenever a fresh count could follow it
 *   many-audiences      five new audiences a day of its P accounts and T, up
 *                       to the quota, reading each
 *   combined            ten new audiences a day and junk to every released one
 *   padding-walk        the padding attack: own accounts one at a time until
 *                       the answer turns targetable (threshold) or changes
 *                       (grid), one back, a look, T, a look; the classic
 *                       guess (not Bayes): "targetable after T" or "changed"
 *   no budget: ...      the issue's two attacks against releases without a budget
 *
 * (The clock moves hour by hour, day by day, as `/_local/clock` would move it.)
 *
 * Every strategy reads at the times `nextCountAt` names, so it loses no
 * release it could have had.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { BASE_WIDTH, distinguishingBound, reportFromUniforms } from '../functions/core/audience-count';
import {
  DAY_MS,
  DEFAULT_RELEASE_SETTINGS,
  advantageAfter,
  applyRelease,
  batchAccepted,
  decideRelease,
  drawRelease,
  newAudienceState,
  nextAllowedAt,
  perReleaseLeak,
  releaseSeed,
  releasesInSpan,
} from '../functions/core/size-release';
import type { AudienceReleaseState, BusinessReleaseState, ReleaseSettings, SizeRelease } from '../functions/core/size-release';

const TTL_DAYS = 540;
const QUOTA = 500;
const T0 = Date.UTC(2026, 0, 5, 0, 0, 0);
const HOUR_MS = 3_600_000;

// ------------------------------------------------------------------ arguments

const args = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 && args[at + 1] ? args[at + 1]! : fallback;
};
/** A quick look: fewer trials, and the committed figures left alone unless `--out` names a file. */
const QUICK = args.includes('--quick');
const TRIALS = Number(arg('trials', QUICK ? '1000' : '20000'));
const OUT = arg('out', QUICK ? '' : 'docs/size-releases.simulation.json');
/** Runs only the scenarios whose name contains this (for checking one row with more trials). */
const ONLY = arg('only', '');

// ------------------------------------------------------------------ randomness (reproducible)

/** sfc32: a small fast PRNG, seeded from a label. */
function prng(label: string): () => number {
  const h = createHash('sha256').update(label).digest();
  let a = h.readUInt32LE(0);
  let b = h.readUInt32LE(4);
  let c = h.readUInt32LE(8);
  let d = h.readUInt32LE(12);
  const next = () => {
    a |= 0;
    b |= 0;
    c |= 0;
    d |= 0;
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  // The first outputs after seeding are not yet well mixed.
  for (let i = 0; i < 16; i++) next();
  return next;
}

// ------------------------------------------------------------------ exact likelihoods of one release

const keyOf = (r: { lower: number; upper: number; targetable: boolean }) => `${r.targetable ? 1 : 0}:${r.lower}:${r.upper}`;
const distributions = new Map<string, Map<string, number>>();

/** The exact distribution of one release of count n (n < 2,000: the answer depends on the threshold index and the offset only). */
function distribution(n: number, minSize: number): Map<string, number> {
  const cacheKey = `${minSize}:${n}`;
  const cached = distributions.get(cacheKey);
  if (cached) return cached;
  if (n >= 2_000) throw new Error('The enumeration covers counts below 2,000');
  const band = Math.floor(minSize / 2);
  const d = new Map<string, number>();
  const mass = 1 / ((band + 1) * BASE_WIDTH);
  for (let t = 0; t <= band; t++) {
    for (let o = 0; o < BASE_WIDTH; o++) {
      const r = reportFromUniforms(n, minSize, { threshold: (t + 0.5) / (band + 1), offset: (o + 0.5) / BASE_WIDTH, width: 0.5 });
      const k = keyOf({ ...r.approximateCount, targetable: r.targetable });
      d.set(k, (d.get(k) ?? 0) + mass);
    }
  }
  distributions.set(cacheKey, d);
  return d;
}

/** Accumulates the evidence of releases about counts P (not a member) and P+1 (a member). */
class Evidence {
  private logRatio = 0;
  private certain: boolean | undefined;
  releases = 0;
  constructor(private readonly minSize: number) {}
  add(release: SizeRelease, ownCount: number) {
    this.releases += 1;
    const k = keyOf(release);
    const ifStranger = distribution(ownCount, this.minSize).get(k) ?? 0;
    const ifMember = distribution(ownCount + 1, this.minSize).get(k) ?? 0;
    if (ifStranger === 0 && ifMember === 0) throw new Error(`An answer the enumeration says is impossible: ${k} at ${ownCount}`);
    if (ifStranger === 0) this.certain = true;
    else if (ifMember === 0) this.certain = false;
    else this.logRatio += Math.log(ifMember / ifStranger);
  }
  guess(coin: () => number): boolean {
    if (this.certain !== undefined) return this.certain;
    if (Math.abs(this.logRatio) < 1e-12) return coin() < 0.5;
    return this.logRatio > 0;
  }
}

// ------------------------------------------------------------------ the service model

interface Audience {
  state: AudienceReleaseState;
  n: number;
  /** Whether T's row was uploaded to it. */
  holdsTarget: boolean;
  /** The attacker's own accounts in it. */
  own: number;
  /** When the attacker was last told a newer count could come. */
  nextCountAtMs: number;
  /** Whether the attacker changed it since its last fresh release (it knows: it did the uploads). */
  pending: boolean;
}

class Service {
  business: BusinessReleaseState = { log: [] };
  readonly audiences: Audience[] = [];
  constructor(
    readonly settings: ReleaseSettings,
    private readonly noiseKey: Buffer,
  ) {}

  create(): Audience | undefined {
    if (this.audiences.length >= QUOTA) return undefined;
    const audience: Audience = { state: newAudienceState(`aud-${this.audiences.length}`), n: 0, holdsTarget: false, own: 0, nextCountAtMs: 0, pending: false };
    this.audiences.push(audience);
    return audience;
  }

  /** One batch of rows accepted at `atMs`; `matched` of them are members (own accounts, T if a member), the rest match nobody. */
  upload(audience: Audience, atMs: number, rows: { own: number; target: boolean; targetIsMember: boolean }) {
    audience.own += rows.own;
    audience.pending = true;
    audience.n += rows.own + (rows.target && rows.targetIsMember ? 1 : 0);
    if (rows.target) audience.holdsTarget = true;
    // One chunk; matched well before the settle time (the model's assumption: see the settle settings).
    audience.state = { ...batchAccepted(audience.state, { atMs, chunks: 1, operation: 'add' }, this.settings, TTL_DAYS), matched: true };
  }

  /** GET of one audience: the last release, fresh if the rule allows now. */
  read(audience: Audience, nowMs: number): SizeRelease | undefined {
    const decision = decideRelease(audience.state, this.business, this.settings, nowMs);
    if (!decision.fresh) {
      audience.nextCountAtMs = decision.nextCountAtMs;
      return undefined;
    }
    const { state } = audience;
    const release = drawRelease(
      audience.n,
      this.settings.minAudienceSize,
      releaseSeed(this.noiseKey, state.audienceId, decision.seq),
      decision.seq,
      nowMs,
      state.batches,
    );
    const applied = applyRelease(audience.state, this.business, release, this.settings);
    audience.state = applied.audience;
    this.business = applied.business;
    const after = decideRelease(audience.state, this.business, this.settings, nowMs);
    audience.nextCountAtMs = after.fresh ? nowMs : after.nextCountAtMs;
    audience.pending = false;
    return release;
  }
}

// ------------------------------------------------------------------ strategies

interface Trial {
  readonly service: Service;
  readonly member: boolean;
  readonly evidence: Evidence;
  readonly coin: () => number;
  /** The earliest nextCountAt among the audiences holding T: before it, no read can bring anything new. */
  nextDueMs: number;
}

type Strategy = (trial: Trial, own: number, days: number) => boolean;

/** Reads every audience holding T whose nextCountAt has come, adding fresh releases to the evidence. */
function readDue(trial: Trial, nowMs: number) {
  if (nowMs < trial.nextDueMs) return;
  let next = Number.POSITIVE_INFINITY;
  for (const audience of trial.service.audiences) {
    // An unchanged audience has nothing new to show until the attacker changes it.
    if (!audience.holdsTarget || !audience.pending) continue;
    if (audience.nextCountAtMs <= nowMs) {
      const release = trial.service.read(audience, nowMs);
      if (release) trial.evidence.add(release, audience.own);
    }
    if (audience.pending) next = Math.min(next, Math.max(audience.nextCountAtMs, nowMs + 1));
  }
  trial.nextDueMs = next;
}

/** Uploads T's row and the attacker's accounts to a new audience, if the quota allows. */
function newTargetAudience(trial: Trial, atMs: number, own: number) {
  const audience = trial.service.create();
  if (!audience) return;
  trial.service.upload(audience, atMs, { own, target: true, targetIsMember: trial.member });
  trial.nextDueMs = 0;
}

/** A one-row junk upload (it matches nobody) to an audience whose next count is due. */
function junk(trial: Trial, audience: Audience, atMs: number) {
  trial.service.upload(audience, atMs, { own: 0, target: false, targetIsMember: trial.member });
  audience.nextCountAtMs = Math.min(audience.nextCountAtMs, atMs);
  trial.nextDueMs = Math.min(trial.nextDueMs, audience.nextCountAtMs);
}

/** The hours of a day at which the attacker acts (the settle time is well under an hour). */
const hours = (day: number) => Array.from({ length: 24 }, (_, h) => T0 + day * DAY_MS + h * HOUR_MS);

const junkOneAudience: Strategy = (trial, own, days) => {
  const { service } = trial;
  const settle = service.settings.settleBaseMs + service.settings.settlePerChunkMs;
  newTargetAudience(trial, T0, own);
  const audience = service.audiences[0]!;
  for (let day = 0; day < days; day++) {
    for (const at of hours(day)) {
      // A junk row whenever a fresh count could follow it: the last one is already shown.
      if (at > T0 && !audience.pending && audience.nextCountAtMs <= at + settle) junk(trial, audience, at);
      readDue(trial, at + settle);
    }
  }
  return trial.evidence.guess(trial.coin);
};

const manyAudiences =
  (perDay: number): Strategy =>
  (trial, own, days) => {
    const settle = trial.service.settings.settleBaseMs + trial.service.settings.settlePerChunkMs;
    for (let day = 0; day < days; day++) {
      for (const [h, at] of hours(day).entries()) {
        if (h < perDay) newTargetAudience(trial, at, own);
        readDue(trial, at + settle);
      }
    }
    return trial.evidence.guess(trial.coin);
  };

const combined: Strategy = (trial, own, days) => {
  const { service } = trial;
  const settle = service.settings.settleBaseMs + service.settings.settlePerChunkMs;
  for (let day = 0; day < days; day++) {
    for (const [h, at] of hours(day).entries()) {
      if (h < 10) newTargetAudience(trial, at, own);
      // Junk to every released audience whose next count could come now (up to ten an hour).
      // Only when the business's budget could release something after the junk settles.
      if (nextAllowedAt(service.business.log, service.settings.perBusiness, at + settle) <= at + settle) {
        let sent = 0;
        for (const audience of service.audiences) {
          if (sent >= 10) break;
          if (audience.holdsTarget && !audience.pending && audience.nextCountAtMs <= at + settle) {
            junk(trial, audience, at);
            sent += 1;
          }
        }
      }
      readDue(trial, at + settle);
    }
  }
  return trial.evidence.guess(trial.coin);
};

/**
 * The padding attack under the budget: from `start` own accounts, one more
 * per upload until the answer turns targetable (threshold) or changes (grid),
 * then, in a new audience, one account fewer, a look, T's row, a look; the
 * classic guess is "member" if the answer after T is targetable (threshold)
 * or differs from the one before it (grid). Each step costs a release, so the
 * walk moves at the budget's pace; when the span ends first the attacker
 * guesses with a coin.
 */
const paddingWalk =
  (mode: 'threshold' | 'grid'): Strategy =>
  (trial, start, days) => {
    const { service } = trial;
    const end = T0 + days * DAY_MS;
    const settle = service.settings.settleBaseMs + service.settings.settlePerChunkMs;
    let audience = service.create()!;
    let at = T0;
    const readWhenDue = (): SizeRelease | undefined => {
      for (;;) {
        const ready = Math.max(at + settle, audience.nextCountAtMs);
        if (ready >= end) return undefined;
        at = Math.max(ready, at + 1);
        const release = service.read(audience, at);
        if (release) return release;
      }
    };
    const same = (a: SizeRelease, b: SizeRelease) => a.lower === b.lower && a.upper === b.upper && a.targetable === b.targetable;
    let own = start;
    service.upload(audience, at, { own, target: false, targetIsMember: trial.member });
    let previous = readWhenDue();
    for (;;) {
      if (!previous) return trial.coin() < 0.5;
      if (mode === 'threshold' && previous.targetable) break;
      own += 1;
      service.upload(audience, at, { own: 1, target: false, targetIsMember: trial.member });
      const now = readWhenDue();
      if (now && mode === 'grid' && !same(now, previous)) break;
      previous = now;
    }
    audience = service.create() ?? audience;
    service.upload(audience, at, { own: own - 1, target: false, targetIsMember: trial.member });
    const before = readWhenDue();
    service.upload(audience, at, { own: 0, target: true, targetIsMember: trial.member });
    const after = readWhenDue();
    if (!before || !after) return trial.coin() < 0.5;
    return mode === 'threshold' ? after.targetable : !same(after, before);
  };

// ------------------------------------------------------------------ running

interface Row {
  scenario: string;
  span: string;
  days: number;
  own: number;
  trials: number;
  releasesAboutTarget: { mean: number; max: number };
  accuracy: number;
  ci95: [number, number];
  /** For the check against the bound: 99.9 %, so that some twenty rows together rarely raise a false alarm. */
  ci999: [number, number];
  /** 1/2 + (1 - (1 - eps(P))^k) / 2 with k the most releases about T seen in any trial. */
  boundAtThisP: number;
  /** The same with the worst P's eps: the README's bound. */
  boundAnyP: number;
  seconds: number;
}

/** Wilson score interval. */
function wilson(right: number, n: number, z = 1.959964): [number, number] {
  const p = right / n;
  const centre = (p + (z * z) / (2 * n)) / (1 + (z * z) / n);
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / (1 + (z * z) / n);
  return [centre - half, centre + half];
}

function run(scenario: string, strategy: Strategy, settings: ReleaseSettings, own: number, days: number, trials: number): Row | undefined {
  if (ONLY && !scenario.includes(ONLY)) return undefined;
  const began = Date.now();
  let right = 0;
  let releaseSum = 0;
  let releaseMax = 0;
  for (let i = 0; i < trials; i++) {
    const label = `${scenario}:${own}:${days}:${i}`;
    // Membership and the attacker's tie-breaking coin come from independent streams.
    const member = (createHash('sha256').update(`member:${label}`).digest()[0]! & 1) === 1;
    const coin = prng(`coin:${label}`);
    const service = new Service(settings, createHash('sha256').update(`noise:${label}`).digest());
    const trial: Trial = { service, member, evidence: new Evidence(settings.minAudienceSize), coin, nextDueMs: 0 };
    if (strategy(trial, own, days) === member) right += 1;
    const k = scenario.startsWith('padding') ? service.business.log.length : trial.evidence.releases;
    releaseSum += k;
    releaseMax = Math.max(releaseMax, k);
  }
  // The padding walk's last release is about whatever count the walk reached: take the worst P for it.
  const leakHere = scenario.startsWith('padding') ? perReleaseLeak(settings.minAudienceSize) : distinguishingBound(own, settings.minAudienceSize);
  return {
    scenario,
    span: days === 30 ? 'month' : days === 365 ? 'year' : `${days} days`,
    days,
    own,
    trials,
    releasesAboutTarget: { mean: releaseSum / trials, max: releaseMax },
    accuracy: right / trials,
    ci95: wilson(right, trials),
    ci999: wilson(right, trials, 3.290527),
    boundAtThisP: 0.5 + advantageAfter(releaseMax, leakHere),
    boundAnyP: 0.5 + advantageAfter(releaseMax, perReleaseLeak(settings.minAudienceSize)),
    seconds: (Date.now() - began) / 1000,
  };
}

const settings = DEFAULT_RELEASE_SETTINGS;
/** No budget: every change gets a fresh release at once (the service before budgets). */
const unbudgeted: ReleaseSettings = { ...settings, perAudience: [{ limit: 1_000_000, days: 1 }], perBusiness: [{ limit: 1_000_000, days: 1 }] };

const rows: Row[] = [];
const add = (row: Row | undefined) => {
  if (!row) return;
  rows.push(row);
  process.stderr.write(`  ${row.scenario}, ${row.span}, P=${row.own}: ${(row.accuracy * 100).toFixed(2)}% of ${row.trials} (${row.seconds.toFixed(0)} s)\n`);
};
const started = Date.now();
const heavy = Math.max(200, Math.floor(TRIALS / 10));
for (const days of [30, 365]) {
  for (const own of [99, 150, 300]) {
    add(run('junk-one-audience', junkOneAudience, settings, own, days, days === 30 ? TRIALS : Math.floor(TRIALS / 4)));
    add(run('many-audiences', manyAudiences(5), settings, own, days, days === 30 ? TRIALS : Math.floor(TRIALS / 4)));
    add(run('combined', combined, settings, own, days, heavy));
  }
  add(run('padding-walk (threshold)', paddingWalk('threshold'), settings, 40, days, heavy));
  add(run('padding-walk (grid)', paddingWalk('grid'), settings, 150, days, heavy));
}
// The issue's attacks, without a budget, for contrast: 400 junk uploads in a day; 300 audiences in a day.
const issueJunk: Strategy = (trial, own) => {
  const { service } = trial;
  newTargetAudience(trial, T0, own);
  for (let i = 0; i < 400; i++) {
    const at = T0 + i * 60_000;
    if (i > 0) junk(trial, service.audiences[0]!, at);
    readDue(trial, at + service.settings.settleBaseMs + service.settings.settlePerChunkMs);
  }
  return trial.evidence.guess(trial.coin);
};
const issueMany: Strategy = (trial, own) => {
  const { service } = trial;
  for (let i = 0; i < 300; i++) {
    const at = T0 + i * 60_000;
    newTargetAudience(trial, at, own);
    readDue(trial, at + service.settings.settleBaseMs + service.settings.settlePerChunkMs);
  }
  return trial.evidence.guess(trial.coin);
};
add(run('no budget: 400 junk uploads', issueJunk, unbudgeted, 150, 1, heavy));
add(run('no budget: 300 audiences', issueMany, unbudgeted, 150, 1, heavy));

// ------------------------------------------------------------------ the analytic table

const leak = perReleaseLeak(settings.minAudienceSize);
const analytic = [1, 30, 365, 730, 3650].map((days) => {
  const k = releasesInSpan(days, settings, QUOTA);
  return { days, releases: k, advantage: advantageAfter(k, leak), accuracy: 0.5 + advantageAfter(k, leak) };
});
const tradeOff = [6, 12, 24, 52, 365, 1825].map((perYear) => ({
  releasesPerYear: perYear,
  accuracy: Object.fromEntries([20, 100, 200, 398].map((m) => [`minAudienceSize ${m}`, 0.5 + advantageAfter(perYear, perReleaseLeak(m))])),
}));

// ------------------------------------------------------------------ output

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const pad = (s: string, n: number) => s.padEnd(n);
console.log(`Size releases: ${TRIALS} trials per light scenario, ${heavy} per heavy one; minimum audience size ${settings.minAudienceSize}; budget`);
console.log(
  `  per audience ${settings.perAudience.map((w) => `${w.limit}/${w.days}d`).join(', ')}; per business ${settings.perBusiness.map((w) => `${w.limit}/${w.days}d`).join(', ')}; leak per release (worst P) ${leak.toFixed(5)}`,
);
console.log('');
console.log(
  `${pad('scenario', 30)}${pad('span', 8)}${pad('P', 6)}${pad('trials', 8)}${pad('k mean/max', 13)}${pad('right', 9)}${pad('95% CI', 18)}${pad('bound(P)', 10)}bound(any P)`,
);
for (const r of rows) {
  console.log(
    `${pad(r.scenario, 30)}${pad(r.span, 8)}${pad(String(r.own), 6)}${pad(String(r.trials), 8)}${pad(`${r.releasesAboutTarget.mean.toFixed(1)}/${r.releasesAboutTarget.max}`, 13)}${pad(pct(r.accuracy), 9)}${pad(`${pct(r.ci95[0])}-${pct(r.ci95[1])}`, 18)}${pad(pct(r.boundAtThisP), 10)}${pad(pct(r.boundAnyP), 9)}${r.seconds.toFixed(1)} s`,
  );
}
console.log('');
console.log('Analytic bound with these settings (any strategy, any P, within every quota):');
for (const a of analytic)
  console.log(`  ${pad(`${a.days} days`, 11)} at most ${pad(String(a.releases), 4)} releases -> right at most ${pct(a.accuracy)} of the time`);
console.log('');
console.log('Trade-off: releases a business may get in a year against the best accuracy, by minimum audience size:');
for (const t of tradeOff)
  console.log(
    `  ${pad(String(t.releasesPerYear), 6)} ${Object.entries(t.accuracy)
      .map(([m, a]) => `${m}: ${pct(a)}`)
      .join('   ')}`,
  );
const inconsistent = rows.filter((r) => r.ci999[0] > r.boundAtThisP && !r.scenario.startsWith('no budget'));
console.log('');
console.log(
  inconsistent.length === 0
    ? 'Every budgeted scenario is within its bound (99.9% interval).'
    : `OVER THE BOUND: ${inconsistent.map((r) => `${r.scenario} ${r.span} P=${r.own}`).join(', ')}`,
);
console.log(`(${((Date.now() - started) / 1000).toFixed(0)} s)`);

/** The JSON as the repository's Prettier settings format it, so `npm run lint` passes over a committed run. */
async function writeResults() {
  if (!OUT) return;
  const json = JSON.stringify({
    generatedBy: 'scripts/simulate-releases.ts',
    trials: TRIALS,
    settings: { ...settings, audienceQuota: QUOTA, membershipTtlDays: TTL_DAYS },
    leakPerRelease: leak,
    rows,
    analytic,
    tradeOff,
    withinBound: inconsistent.length === 0,
  });
  const prettier = await import('prettier');
  const options = (await prettier.resolveConfig(OUT)) ?? {};
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, await prettier.format(json, { ...options, parser: 'json' }));
  console.log(`Wrote ${OUT}`);
}

void writeResults();
if (inconsistent.length > 0) process.exitCode = 1;
