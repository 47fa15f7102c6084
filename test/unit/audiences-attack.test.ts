/**
 * The padding attack of the contract, simulated against the pure rule of
 * core/audience-count.ts with accounts the attacker controls.
 *
 * The attacker wants to know whether one person T (whose hashed phone it
 * has) is a member: a user who granted ads targeting. It creates an
 * audience, uploads its own consenting accounts one at a time until the
 * answer changes (it has found a rounding or threshold boundary), steps one
 * account back, adds T's row and looks again: against deterministic rounding
 * the answer changes exactly when T matched.
 *
 * Every trial is a fresh audience under a fresh pepper, and whether T is a
 * member is a fair coin. Everything is derived from fixed labels, so the
 * figures are the same on every run.
 */
import { createHash } from 'node:crypto';
import { distinguishingBound, reportCount } from '../../functions/core/audience-count';
import { perReleaseLeak, releaseSeed } from '../../functions/core/size-release';

const h = (label: string) => createHash('sha256').update(`attack:${label}`).digest();
const coin = (label: string) => (h(label)[0]! & 1) === 1;

interface Answer {
  readonly lower: number;
  readonly upper: number;
  readonly targetable: boolean;
}
const same = (a: Answer, b: Answer) => a.lower === b.lower && a.upper === b.upper && a.targetable === b.targetable;

/** What the business can do to an audience and see of it. */
interface Audience {
  /** An upload that matches `matched` new members (0 for a row that matches nobody). */
  add(matched: number): void;
  remove(matched: number): void;
  answer(): Answer;
}

const MIN_SIZE = 100;

/** The service's rule: every change (matching or not) shown is a new release, and so a fresh seed (the budget, not tested here, rations them). */
function serviceAudience(trial: string): Audience {
  const pepper = h(`pepper:${trial}`);
  const audienceId = `aud-${h(`audience:${trial}`).toString('hex').slice(0, 32)}`;
  let revision = 0;
  let n = 0;
  return {
    add(matched) {
      revision += 1;
      n += matched;
    },
    remove(matched) {
      revision += 1;
      n -= matched;
    },
    answer() {
      const r = reportCount(n, MIN_SIZE, releaseSeed(pepper, audienceId, revision));
      return { ...r.approximateCount, targetable: r.targetable };
    },
  };
}

/** The baseline the contract warns about: below the minimum {0, 100}, else rounded to hundreds. */
function roundingAudience(): Audience {
  let n = 0;
  return {
    add(matched) {
      n += matched;
    },
    remove(matched) {
      n -= matched;
    },
    answer() {
      if (n < MIN_SIZE) return { lower: 0, upper: MIN_SIZE, targetable: false };
      const lower = Math.floor(n / 100) * 100;
      return { lower, upper: lower + 100, targetable: true };
    },
  };
}

type Boundary = 'threshold' | 'rounding';

/**
 * The padding attack. `start` own accounts first (0 for the threshold; past
 * it for a rounding boundary), then one more at a time until the answer
 * changes; back one; then T. Guess "member" if the answer now differs from
 * the one seen just before T was added (for the threshold: if it is targetable).
 */
function paddingAttack(audience: Audience, boundary: Boundary, start: number, targetIsMember: boolean): boolean {
  audience.add(start);
  let previous = audience.answer();
  for (let own = start; own < start + 2_000; own++) {
    audience.add(1);
    const now = audience.answer();
    const changed = boundary === 'threshold' ? now.targetable && !previous.targetable : !same(now, previous);
    if (changed) break;
    previous = now;
  }
  audience.remove(1);
  const before = audience.answer();
  audience.add(targetIsMember ? 1 : 0); // T's row: it matches only if T is a member
  const after = audience.answer();
  return boundary === 'threshold' ? after.targetable : !same(after, before);
}

function successRate(trials: number, run: (trial: string, member: boolean) => boolean): number {
  let right = 0;
  for (let i = 0; i < trials; i++) {
    const member = coin(`member:${i}`);
    if (run(String(i), member) === member) right += 1;
  }
  return right / trials;
}

/** The two-sided 99% binomial interval of a fair coin over `trials`. */
const chanceInterval = (trials: number) => {
  const half = 2.576 * Math.sqrt(0.25 / trials);
  return [0.5 - half, 0.5 + half] as const;
};

const TRIALS = 2_000;
const report: string[] = [];
afterAll(() => process.stdout.write(`\nPadding attack, ${TRIALS} trials each:\n${report.map((l) => `  ${l}`).join('\n')}\n`));

describe('the padding attack', () => {
  const [low, chanceHigh] = chanceInterval(TRIALS);
  // One release about P or P+1 tells them apart with probability at most perReleaseLeak (1/51 here, in the threshold
  // band), so no guess from it is right more often than 1/2 + leak/2: the upper limit is that bound plus the interval's half.
  const high = chanceHigh + perReleaseLeak(MIN_SIZE) / 2;

  it.each([
    ['threshold', 0],
    ['rounding', 150],
    ['rounding', 1_150],
  ] as const)('breaks deterministic rounding at a %s boundary (start %i) every time', (boundary, start) => {
    const rate = successRate(TRIALS, (_trial, member) => paddingAttack(roundingAudience(), boundary, start, member));
    report.push(`deterministic rounding, ${boundary} from ${start}: ${(rate * 100).toFixed(2)}% right`);
    expect(rate).toBe(1);
  });

  it.each([
    ['threshold', 0],
    ['rounding', 150],
    ['rounding', 1_150],
  ] as const)('does no better than the one-release bound against the service at a %s boundary (start %i)', (boundary, start) => {
    const rate = successRate(TRIALS, (trial, member) => paddingAttack(serviceAudience(`${boundary}:${start}:${trial}`), boundary, start, member));
    report.push(
      `service, ${boundary} from ${start}: ${(rate * 100).toFixed(2)}% right (chance interval ${(low * 100).toFixed(1)}-${(chanceHigh * 100).toFixed(1)}%, ` +
        `at most ${(high * 100).toFixed(1)}% with the one-release bound)`,
    );
    expect(rate).toBeGreaterThanOrEqual(low);
    expect(rate).toBeLessThanOrEqual(high);
  });
});

/**
 * The best any single observation allows: P own accounts, then T, one look.
 * An answer that leaves out P proves membership, one that leaves out P+1
 * disproves it, anything else is a coin flip; below the minimum counts as
 * evidence against (it is likelier for the smaller count). Its success is
 * 1/2 + TV/2, which the rule bounds (core/audience-count.ts).
 */
function bestSingleLook(audience: Audience, own: number, targetIsMember: boolean, trial: string): boolean {
  audience.add(own);
  audience.add(targetIsMember ? 1 : 0);
  const a = audience.answer();
  if (!a.targetable) return false;
  if (a.lower > own) return true;
  if (a.upper < own + 1) return false;
  return own + 1 <= MIN_SIZE ? true : coin(`flip:${trial}`);
}

describe('the best single-observation attacker', () => {
  it.each([60, 99, 300, 1_500, 2_500])("is bounded by the rule's distinguishing bound at %i own accounts", (own) => {
    const trials = 20_000;
    const rate = successRate(trials, (trial, member) => bestSingleLook(serviceAudience(`best:${own}:${trial}`), own, member, trial));
    const bound = 0.5 + distinguishingBound(own, MIN_SIZE) / 2;
    report.push(`best single look at ${own} own accounts: ${(rate * 100).toFixed(2)}% right (bound ${(bound * 100).toFixed(2)}%, ${trials} trials)`);
    expect(rate).toBeLessThanOrEqual(bound + 3 * Math.sqrt(0.25 / trials));
  });
});

/**
 * The residual risk no rule that always contains the count can remove
 * (core/audience-count.ts): the seed must change when a row that matches
 * nobody is added, so a business can look at the same count many times by
 * adding junk rows, and intersect the ranges. Each look helps only when a
 * boundary falls between P and P+1 (1 in 200 at most for small counts), so
 * k looks give at most 1 - (1 - 1/200)^k. This pins that bound down, so a
 * change that made single looks leak more would fail here.
 */
describe('repeated looks at one state (documented residual risk)', () => {
  it.each([1, 10, 50])('gains at most 1 - (1 - 1/200)^k from k looks (k = %i)', (looks) => {
    const trials = 4_000;
    const own = 300;
    const rate = successRate(trials, (trial, member) => {
      const audience = serviceAudience(`looks:${looks}:${trial}`);
      audience.add(own + (member ? 1 : 0));
      let lower = 0;
      let upper = Number.POSITIVE_INFINITY;
      for (let i = 0; i < looks; i++) {
        audience.add(0); // a junk row: matches nobody, but is a new state
        const a = audience.answer();
        lower = Math.max(lower, a.lower);
        upper = Math.min(upper, a.upper);
      }
      if (lower > own) return true;
      if (upper < own + 1) return false;
      return coin(`flip:${trial}`);
    });
    const bound = 0.5 + (1 - (1 - 1 / 200) ** looks) / 2;
    report.push(`${looks} look(s) at ${own}: ${(rate * 100).toFixed(2)}% right (bound ${(bound * 100).toFixed(2)}%)`);
    expect(rate).toBeLessThanOrEqual(bound + 3 * Math.sqrt(0.25 / trials));
  });
});
