import { createHash } from 'node:crypto';
import {
  BASE_WIDTH,
  distinguishingBound,
  ladderWidth,
  noisyThreshold,
  reportCount,
  reportFromUniforms,
  seedUniforms,
  widthLimit,
} from '../../functions/core/audience-count';
import { releaseSeed } from '../../functions/core/size-release';

/** Deterministic "random" seeds and counts, so every run checks the same cases. */
const seedOf = (label: string) => createHash('sha256').update(`count-test:${label}`).digest();
const intOf = (label: string, below: number) => seedOf(label).readUIntBE(0, 6) % below;

describe('reportCount: the range always holds the truth and is never too wide', () => {
  it.each([1, 20, 100, 1000])('holds for 100,000 random counts and seeds (min size %i)', (minSize) => {
    const violations: string[] = [];
    for (let i = 0; i < 100_000; i++) {
      // Counts spread over every scale: mostly small, some up to 10 million.
      const scale = [300, 3_000, 30_000, 10_000_000][i % 4]!;
      const n = intOf(`n${minSize}:${i}`, scale);
      const { approximateCount: r, targetable } = reportCount(n, minSize, seedOf(`s${minSize}:${i}`));
      if (!(r.lower <= n && n <= r.upper && r.lower >= 0)) violations.push(`${n} outside [${r.lower}, ${r.upper}]`);
      // The width bound holds for every real range; the below-minimum answer is {0, M} by contract
      // (wider than 200 only if the minimum size is set above 200).
      if (targetable && r.upper - r.lower > widthLimit(n)) violations.push(`${n}: width ${r.upper - r.lower}`);
      if (!targetable && (r.lower !== 0 || r.upper !== minSize)) violations.push(`${n}: below-minimum answer [${r.lower}, ${r.upper}]`);
    }
    expect(violations).toEqual([]);
  });

  it('answers {0, M} and not targetable below the minimum, and only when the count is at most M', () => {
    const M = 100;
    const violations: number[] = [];
    for (let i = 0; i < 50_000; i++) {
      const n = intOf(`t${i}`, 2 * M);
      const report = reportCount(n, M, seedOf(`ts${i}`));
      const below = !report.targetable && report.approximateCount.lower === 0 && report.approximateCount.upper === M;
      if (n < Math.ceil(M / 2) && !below) violations.push(n);
      if (n >= M && !report.targetable) violations.push(n);
      if (!report.targetable && !(n < M && below)) violations.push(n);
    }
    expect(violations).toEqual([]);
  });

  it('moves the threshold uniformly over [M - floor(M/2), M]', () => {
    const M = 100;
    const hits = new Map<number, number>();
    const trials = 51_000;
    for (let i = 0; i < trials; i++) {
      const c = noisyThreshold(M, seedUniforms(seedOf(`c${i}`)));
      hits.set(c, (hits.get(c) ?? 0) + 1);
    }
    expect(Math.min(...hits.keys())).toBe(50);
    expect(Math.max(...hits.keys())).toBe(100);
    // Each of the 51 values about 1,000 times (binomial sd ~31).
    for (const count of hits.values()) expect(Math.abs(count - 1000)).toBeLessThan(150);
  });

  it('takes the grid boundary as the threshold when one falls in the band, so a targetable range then starts at the threshold', () => {
    const M = 100;
    let coupled = 0;
    for (let i = 0; i < 20_000; i++) {
      const u = seedUniforms(seedOf(`k${i}`));
      const o = Math.floor(u.offset * BASE_WIDTH);
      const c = noisyThreshold(M, u);
      if (o >= 50 && o <= 100) {
        coupled += 1;
        expect(c).toBe(o);
        // Every targetable count in the band reports [c, c + 200).
        for (const n of [c, M]) expect(reportFromUniforms(n, M, u).approximateCount).toEqual({ lower: c, upper: c + BASE_WIDTH });
      }
    }
    // 51 offsets in 200: about a quarter of the draws.
    expect(coupled / 20_000).toBeGreaterThan(0.24);
    expect(coupled / 20_000).toBeLessThan(0.27);
  });

  it('uses widths from a fixed ladder: 200 up to 1,000 members, then 200 * 2^k within a factor of 2 of n/5..n/10', () => {
    const violations: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const n = intOf(`w${i}`, 5_000_000);
      const w = ladderWidth(n, seedUniforms(seedOf(`ws${i}`)).width);
      if (!Number.isInteger(Math.log2(w / BASE_WIDTH)) || w > widthLimit(n) || (n >= 2_000 && w <= n / 20)) violations.push(`${n}: ${w}`);
    }
    expect(violations).toEqual([]);
    expect(ladderWidth(999, 0.99)).toBe(200);
    expect(ladderWidth(1_999, 0.99)).toBe(200);
    expect(ladderWidth(4_000, 0)).toBe(400);
  });

  it('places the true count uniformly inside its range (the offset hides where it is)', () => {
    const n = 5_000;
    const positions: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      const { approximateCount: r } = reportCount(n, 100, seedOf(`p${i}`));
      positions.push((n - r.lower) / (r.upper - r.lower));
    }
    const mean = positions.reduce((a, b) => a + b, 0) / positions.length;
    expect(mean).toBeGreaterThan(0.48);
    expect(mean).toBeLessThan(0.52);
    const lowQuarter = positions.filter((p) => p < 0.25).length / positions.length;
    expect(lowQuarter).toBeGreaterThan(0.23);
    expect(lowQuarter).toBeLessThan(0.27);
  });

  it('seeds each release separately: another sequence number, audience or key is a fresh draw', () => {
    const key = Buffer.from('p'.repeat(40));
    const base = releaseSeed(key, 'aud-1', 7);
    expect(releaseSeed(key, 'aud-1', 7)).toEqual(base);
    for (const other of [releaseSeed(key, 'aud-1', 8), releaseSeed(key, 'aud-2', 7), releaseSeed(Buffer.from('q'.repeat(40)), 'aud-1', 7)]) {
      expect(other.equals(base)).toBe(false);
    }
  });

  it('separates P from P+1 exactly as often as distinguishingBound says in the band, and never more often elsewhere (exact enumeration)', () => {
    // Below 2,000 the answer depends only on the threshold index (B + 1 values) and the offset (200 values):
    // enumerating their midpoints gives the exact distribution of one release.
    for (const M of [20, 100, 200]) {
      const band = Math.floor(M / 2);
      for (const p of [M - band - 2, M - band - 1, M - band, Math.floor(M * 0.75), M - 1, M, M + 1, 150, 299, 998]) {
        if (p < 0) continue;
        let differ = 0;
        for (let t = 0; t <= band; t++) {
          for (let o = 0; o < BASE_WIDTH; o++) {
            const u = { threshold: (t + 0.5) / (band + 1), offset: (o + 0.5) / BASE_WIDTH, width: 0.5 };
            const a = reportFromUniforms(p, M, u);
            const b = reportFromUniforms(p + 1, M, u);
            if (a.targetable !== b.targetable || a.approximateCount.lower !== b.approximateCount.lower || a.approximateCount.upper !== b.approximateCount.upper)
              differ += 1;
          }
        }
        const rate = differ / ((band + 1) * BASE_WIDTH);
        const bound = distinguishingBound(p, M);
        expect(rate).toBeLessThanOrEqual(bound + 1e-12);
        if (p + 1 >= M - band && p + 1 <= M) expect(rate).toBeCloseTo(1 / (band + 1), 12);
        if (p + 1 > M) expect(rate).toBeCloseTo(1 / BASE_WIDTH, 12);
        if (p + 1 < M - band) expect(rate).toBe(0);
      }
    }
  });

  it('refuses a count that is not a whole number', () => {
    expect(() => reportCount(-1, 100, seedOf('x'))).toThrow();
    expect(() => reportCount(1.5, 100, seedOf('x'))).toThrow();
  });
});
